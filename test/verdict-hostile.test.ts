// What a hostile pass of the verdict found (issue 30): evidence that says less than it seems
// must not turn into consensus, a tolerated fault or a fork. Real gomel logs cut and forged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { cli, copyLogs, readLines, writeLines } from './helpers.js';
import type { Verdict } from '../src/core/logs/verdict.js';

const verdictOf = async (dir: string) => {
  const r = await cli(['verdict', '--trust-logs', '--logs', dir, '--json']);
  return { code: r.code, result: JSON.parse(r.out) as Verdict };
};

test('T01/T04: a task that ended by itself is not "lost with its host", whatever its host did later', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  // node8 failed on its own (exit 1), and its host went down afterwards.
  await fs.rm(path.join(dir, 'node8'), { recursive: true });
  await fs.mkdir(path.join(dir, 'node8'));
  const task = (state: string) =>
    fs.writeFile(
      path.join(dir, 'node8/task.json'),
      JSON.stringify({ state, exitCode: 1, swarmNode: 'h3', hostDown: true, uncollected: 'its host h3 is down' }),
    );
  for (const state of ['failed', 'complete']) {
    await task(state);
    const { code, result } = await verdictOf(dir);
    assert.equal(code, 1, state);
    assert.deepEqual(result.faulty, [], state);
  }
  // Still running when its host went: lost with it, faulty (f = 2 tolerates it).
  await task('running');
  const lost = await verdictOf(dir);
  assert.equal(lost.code, 0);
  assert.deepEqual(lost.result.faulty, [{ label: 'node8', why: 'lost with host h3' }]);
  // ...unless the node left an exit status: then it ended as that says.
  await fs.writeFile(path.join(dir, 'node8/exit_status'), '0\n');
  assert.equal((await verdictOf(dir)).code, 1);
});

test("G03: logs cut short beside exit_status 0 show no consensus: some node's own log must reach LevelLimit", async (t) => {
  // Each node's folder as a clean exit leaves it (exit 0, nothing on stderr), its log cut at level 20 of 50.
  const nodes = await copyLogs(t, 'swarm-8');
  for (let k = 1; k <= 8; k++) {
    const folder = path.join(nodes, `node${k}`);
    const log = (await fs.readdir(folder)).find((f) => f.endsWith('.log.gz'))!;
    const lines = await readLines(path.join(folder, log));
    const at = lines.findIndex((l) => Number(/"Q":(\d+)/.exec(l)?.[1] ?? -1) >= 20);
    assert.ok(at > 0);
    await writeLines(path.join(folder, log), lines.slice(0, at));
    await fs.writeFile(path.join(folder, 'exit_status'), '0\n');
    await fs.writeFile(path.join(folder, 'stderr.txt'), '');
  }
  const { code, result } = await verdictOf(nodes);
  assert.equal(code, 1);
  assert.equal(result.outcome, 'failed');
  assert.equal(result.reachedBy.length, 0);
});

/** A copy of swarm-8 whose node1 log has its n-th ordered unit line replaced by `line(original)`. */
async function damageOrder(
  t: Parameters<typeof copyLogs>[0],
  n: number,
  line: (original: string) => string | undefined,
): Promise<string> {
  const dir = await copyLogs(t, 'swarm-8');
  const file = path.join(dir, 'node1/0.config.log.gz');
  const lines = await readLines(file);
  const at = lines.map((l, i) => [l, i] as const).filter(([l]) => l.includes('"E":"Z"'))[n - 1]![1];
  const replaced = line(lines[at]!);
  lines.splice(at, 1, ...(replaced === undefined ? [] : [replaced]));
  await writeLines(file, lines);
  return dir;
}

test('G07/G08: a damaged ordered-unit line in the middle of a log proves no fork: the node is not judged, exit 1', async (t) => {
  for (const [name, damage] of [
    ['cut mid-line', (l: string) => l.slice(0, 20)],
    ['C not a number', (l: string) => l.replace(/"C":\d+/, '"C":"x2"')],
  ] as const) {
    const dir = await damageOrder(t, 6, damage);
    const { code, result } = await verdictOf(dir);
    assert.equal(code, 1, name);
    assert.equal(result.outcome, 'failed', name);
    assert.deepEqual(result.divergences, [], name);
    assert.match(
      result.nodes[0]!.reasons[0]!,
      /^its order is no evidence: 1 damaged or cut line\(s\) among its ordered units$/,
    );
  }
  // A unit line dropped without a trace: the committee's order with a unit missing is lost lines, not a fork (hostile pass B2).
  const dropped = await verdictOf(await damageOrder(t, 6, () => undefined));
  assert.equal(dropped.code, 1);
  assert.match(
    dropped.result.nodes[0]!.reasons[0]!,
    /^its order is no evidence: unit #6 of the committee's order is missing from it/,
  );
  // A cut last line (a node killed mid-write) damages nothing before it: swarm-8 still reaches consensus.
  const dir = await copyLogs(t, 'swarm-8');
  const file = path.join(dir, 'node1/0.config.log.gz');
  const lines = await readLines(file);
  await writeLines(file, [...lines, lines.at(-1)!.slice(0, 15)]);
  assert.equal((await verdictOf(dir)).code, 0);
});

test('G09: a log whose gzip checksum fails proves no fork: its bytes may be anything', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  const file = path.join(dir, 'node1/0.config.log.gz');
  const text = (await readLines(file)).join('\n') + '\n';
  // Stored (level 0), so a digit of an ordered unit can be changed in place; the checksum then fails.
  const stored = gzipSync(text, { level: 0 });
  const z = stored.indexOf(Buffer.from('"E":"Z"'), stored.length / 3);
  const h = stored.lastIndexOf(Buffer.from('"H":'), z) + 4;
  stored[h] = stored[h] === 0x39 ? 0x38 : stored[h]! + 1;
  await fs.writeFile(file, stored);
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  assert.deepEqual(result.divergences, []);
  assert.match(result.nodes[0]!.reasons[0]!, /^its order is no evidence: log corrupt: .* fails its checksum$/);
});

test('an exit_status that is not one number 0-255 and a newline (as run.sh writes it) is named, never a clean stop (hostile pass 9)', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  const file = path.join(dir, 'node3/exit_status');
  // node3 exited 0 with its services stopped: clean, as run.sh's "0\n" says.
  const node3 = async () => (await verdictOf(dir)).result.nodes.find((v) => v.label === 'node3')!;
  assert.equal((await node3()).shutdown.kind, 'clean');
  const cases: [string, string][] = [
    ['\0', 'something other than digits (1 character)'],
    ['0\n0\n', '"0\\n0\\n"'],
    ['99999999999999999999', '"99999999999999999999"'],
    ['256\n', '"256\\n"'],
    ['0', '"0"'],
    ['', '""'],
  ];
  for (const [text, holds] of cases) {
    await fs.writeFile(file, text);
    const { code, result } = await verdictOf(dir);
    const v = result.nodes.find((x) => x.label === 'node3')!;
    assert.deepEqual(
      { kind: v.shutdown.kind, detail: v.shutdown.detail, exitStatus: v.exitStatus, clean: result.clean },
      {
        kind: 'unreadable',
        detail: `${file} holds ${holds}, not an exit status: run.sh writes one number 0-255 and a newline`,
        exitStatus: undefined,
        clean: false,
      },
      JSON.stringify(text),
    );
    // Its consensus is its log's, as before; --strict fails on the unknown end.
    assert.equal(code, 0, JSON.stringify(text));
    assert.equal((await cli(['verdict', '--trust-logs', '--logs', dir, '--strict'])).code, 1, JSON.stringify(text));
  }
  await fs.writeFile(file, '255\n');
  assert.deepEqual((await node3()).shutdown, { kind: 'crashed', detail: 'exit 255' });
});
