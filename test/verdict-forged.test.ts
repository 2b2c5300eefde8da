// A third hostile pass of the verdict (issue 30, B7–B10): forged copies of the real 16-node run
// test/vectors/real-runs/lab16 (README.md there), each built here from the vendored logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, copyLogs, readLines, REPO, writeLines } from './helpers.js';
import type { Verdict } from '../src/core/logs/verdict.js';

type Context = Parameters<typeof copyLogs>[0];
const HOSTS = Array.from({ length: 16 }, (_, i) => `node${i + 1}`);

const verdictOf = async (dir: string) => {
  const r = await cli(['verdict', '--trust-logs', '--logs', dir, '--json']);
  return { code: r.code, result: r.code === 1 && !r.out ? undefined : (JSON.parse(r.out) as Verdict), err: r.err };
};

/** A writable copy of lab16, with a run.json whose fault plan is `events`. */
async function lab16(t: Context, events: unknown[] = []): Promise<string> {
  const dir = await copyLogs(t, 'lab16', path.join(REPO, 'test/vectors/real-runs'));
  const record = {
    version: 1,
    network: 'labnet',
    hosts: HOSTS,
    committee: 'f5c171372170e609',
    config: 'config',
    image: `r/aleph@sha256:${'a'.repeat(64)}`,
    placement: { constraints: [], spread: true },
    capAdd: [],
    startMarginS: 3,
    faults: { n: 16, hosts: HOSTS, events },
  };
  await fs.writeFile(path.join(dir, 'run.json'), JSON.stringify(record));
  return dir;
}

/** Node k's gomel log in a lab16 copy (pid k − 1). */
const logOf = (dir: string, k: number) => path.join(dir, `node${k}`, `${k - 1}.config.log.gz`);
const startedAt = async (dir: string, k: number) =>
  Number(await fs.readFile(path.join(dir, `node${k}`, 'started_at'), 'utf8'));

/**
 * Node k's log with its ordered units #201 and #202 swapped (a fork at #201: lab16's nodes all
 * ordered 12:10 there) and, with `damageAt`, the `damageAt`-th ordered unit's line cut mid-line.
 */
async function forkNode(dir: string, k: number, damageAt?: number): Promise<void> {
  const lines = await readLines(logOf(dir, k));
  const z = lines.flatMap((l, i) => (l.includes('"E":"Z"') ? [i] : []));
  [lines[z[200]!], lines[z[201]!]] = [lines[z[201]!]!, lines[z[200]!]!];
  if (damageAt !== undefined) lines[z[damageAt - 1]!] = lines[z[damageAt - 1]!]!.slice(0, 15);
  await writeLines(logOf(dir, k), lines);
}

test('B8: a fork in the intact part of a log is a FORK, whatever damage comes later in it (exit 4)', async (t) => {
  // node15 killed as planned at 35 s, its order forked at #201, one damaged line at #301.
  const crash = [{ kind: 'crash', nodes: [15], atMs: 35000, source: 'crash:15@35s' }];
  const faulty = await lab16(t, crash);
  await fs.writeFile(
    path.join(faulty, 'node15/faults.log'),
    `${((await startedAt(faulty, 15)) + 35).toFixed(6)} 35000 kill ok\n`,
  );
  await forkNode(faulty, 15, 301);
  const a = await verdictOf(faulty);
  assert.equal(a.code, 4, a.result?.consensusLine);
  assert.equal(a.result!.outcome, 'fork');
  assert.deepEqual(
    a.result!.divergences.map((d) => [d.position, d.minority.nodes, d.minority.unit, d.majority.unit]),
    [[201, ['node15'], '6:12', '12:10']],
  );
  assert.match(a.result!.nodes[14]!.reasons[0]!, /diverges .* at #201, before its first damaged line/);
  // A correct node (no fault planned) the same: a fork, not "no consensus".
  const correct = await lab16(t);
  await forkNode(correct, 4, 301);
  const b = await verdictOf(correct);
  assert.equal(b.code, 4, b.result?.consensusLine);
  // The damage before the fork: the intact part agrees, the rest is no evidence — neither fork nor consensus.
  const before = await lab16(t);
  await forkNode(before, 4, 150);
  const c = await verdictOf(before);
  assert.equal(c.code, 1, c.result?.consensusLine);
  assert.equal(c.result!.outcome, 'failed');
  assert.match(c.result!.nodes[3]!.reasons[0]!, /its order is no evidence/);
});

/** Node k's log cut `ms` after its start: it stopped logging there. */
async function cutLog(dir: string, k: number, ms: number): Promise<void> {
  const lines = await readLines(logOf(dir, k));
  await writeLines(
    logOf(dir, k),
    lines.filter((l) => ((JSON.parse(l) as { T?: number }).T ?? 0) <= ms),
  );
}

test('B7: a faults.log line whose wall clock disagrees with its ms field, or a mute of other peers than planned, is not counted', async (t) => {
  const kinds = [
    ['crash', 'kill'],
    ['stop', 'term'],
  ] as const;
  for (const [kind, action] of kinds) {
    // node15 stops logging at 10 s on its own; the record plans its crash (or stop) at 10 s.
    const dir = await lab16(t, [{ kind, nodes: [15], atMs: 10000, source: `${kind}:15@10s` }]);
    await cutLog(dir, 15, 10000);
    // As run.sh records a killed (137) or terminated (143) gomel: any other status is no kill (hostile pass 12).
    await fs.writeFile(path.join(dir, 'node15/exit_status'), action === 'kill' ? '137\n' : '143\n');
    const start = await startedAt(dir, 15);
    const line = (wall: number) =>
      fs.writeFile(path.join(dir, 'node15/faults.log'), `${wall.toFixed(6)} 10000 ${action} ok\n`);
    // At its time: counted, tolerated (exit 0), so the forged one below is refused for its clock alone.
    await line(start + 10.2);
    assert.equal((await verdictOf(dir)).code, 0, kind);
    // Logged a day after the start while its ms field says 10 s: not this run's action.
    await line(start + 86400);
    const { code, result } = await verdictOf(dir);
    assert.equal(code, 1, `${kind}: ${result?.consensusLine}`);
    assert.deepEqual(result!.faulty, []);
    assert.match(result!.inconsistent[0]!.why, new RegExp(`line 1: ${action} applied at .*after its time`));
    // After its task ended (task.json: complete 5 s after the start): the node was gone.
    await line(start + 10.2);
    const task = path.join(dir, 'node15/task.json');
    const ended = {
      ...JSON.parse(await fs.readFile(task, 'utf8')),
      state: 'complete',
      since: new Date((start + 5 - 10) * 1000).toISOString(),
    };
    await fs.writeFile(task, JSON.stringify(ended));
    const gone = await verdictOf(dir);
    assert.equal(gone.code, 1, kind);
    assert.match(gone.result!.inconsistent[0]!.why, /after the node's task ended/);
  }
  // mute:15@10s plans node15 mute to its 15 peers; a line naming one of them is not that fault.
  const dir = await lab16(t, [{ kind: 'mute', nodes: [15], atMs: 10000, source: 'mute:15@10s' }]);
  const start = await startedAt(dir, 15);
  const mute = (peers: string[]) =>
    fs.writeFile(
      path.join(dir, 'node15/faults.log'),
      `${(start + 10.1).toFixed(6)} 10000 mute ${peers.join(' ')} ok\n`,
    );
  const peers = HOSTS.filter((h) => h !== 'node15');
  await mute(peers);
  // node15 reached consensus all the same (lab16 ran unmuted): the fault is named in its line only.
  assert.ok((await verdictOf(dir)).result!.nodes[14]!.notes.some((n) => /^fault applied: muted/.test(n)));
  await mute(['node1']);
  const one = await verdictOf(dir);
  assert.ok(!one.result!.nodes[14]!.notes.some((n) => /^fault applied/.test(n)));
  assert.match(
    one.result!.inconsistent[0]!.why,
    /mute at 10 s names 1 peer\(s\), but the plan mutes this node to 15 then/,
  );
});

test("B9: a twin's log of another run (its gomel started days from the others') is refused, naming it", async (t) => {
  const dir = await lab16(t, [
    {
      kind: 'twin',
      nodes: [3],
      groups: [
        [1, 2, 4, 5, 6, 7, 8, 9],
        [10, 11, 12, 13, 14, 15, 16],
      ],
      atMs: 0,
      source: 'twin:3',
    },
  ]);
  await cutLog(dir, 3, 8000);
  await fs.mkdir(path.join(dir, 'node3-twin'));
  // pid 2's log of swarm-8, a run years before lab16.
  const other = path.join(dir, 'node3-twin/2.config.log.gz');
  await fs.copyFile(path.join(REPO, 'test/vectors/gomel-2019-09/logs/swarm-8/node3/2.config.log.gz'), other);
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.match(
    r.err,
    new RegExp(`^gomelctl: ${other}: its gomel started at .* s from the other nodes' gomel .*: a log of another run`),
  );
});

test("B10: a node's folder holding another node's log is refused, naming it (a gomel log names every pid but its own as a peer)", async (t) => {
  const copied = await lab16(t);
  await fs.copyFile(logOf(copied, 4), logOf(copied, 5));
  const r = await cli(['verdict', '--trust-logs', '--logs', copied]);
  assert.equal(r.code, 1, r.out);
  assert.equal(r.err.trim().split('\n').length, 1, r.err);
  assert.match(
    r.err,
    /node5\/4\.config\.log\.gz: names pid 4 as a peer, and a gomel log names every pid but its own: it is another node's log, not node5's/,
  );
  // Every folder holding node1's log: refused at the first that is not node1's.
  const all = await lab16(t);
  for (let k = 2; k <= 16; k++) await fs.copyFile(logOf(all, 1), logOf(all, k));
  const every = await cli(['verdict', '--trust-logs', '--logs', all]);
  assert.equal(every.code, 1, every.out);
  assert.match(every.err, /node2\/1\.config\.log\.gz: names pid 1 as a peer/);
  // The real run itself: each log names every pid but its own.
  assert.equal((await verdictOf(await lab16(t))).code, 0);
});

test("N5: another node's log with the lines naming its new node's pid cut out is refused: it never names the node it came from, whose log names it", async (t) => {
  // node4's log (pid 3) in node5's folder, every line naming pid 4 removed: it names no pid of its own
  // any more, but it never names pid 3 either, and node4's log names pid 4 in its sync sessions.
  const dir = await lab16(t);
  const lines = await readLines(logOf(dir, 4));
  await writeLines(
    logOf(dir, 5),
    lines.filter((l) => !/"P":4[,}]/.test(l)),
  );
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 1, r.out);
  assert.equal(r.out, '');
  assert.equal(r.err.split('\n').length, 1, r.err);
  assert.match(
    r.err,
    /node5\/4\.config\.log\.gz: never names pid 3 as a peer, though node4's log \(pid 3\) names pid 4 in its sync sessions, which gomel logs at both ends: it is not node5's log \(or node4's is not node4's\) — put node5's own log in its place/,
  );
  // A node's own log cut short names few peers, and the others name it later: not held to it (a node
  // paused for good is dialed and never answers); cut within 4N units of the others it names them all.
  for (const ms of [2000, 3000]) {
    const short = await lab16(t);
    await cutLog(short, 15, ms);
    const named = new Set((await readLines(logOf(short, 15))).flatMap((l) => /"P":(\d+)/.exec(l)?.[1] ?? []));
    assert.ok(named.size < 15, `cut at ${ms} ms, node15 names ${named.size} of the 15 others`);
    const v = await verdictOf(short);
    assert.equal(v.code, 1, v.err);
    assert.match(v.result!.consensusLine, /; not by node15 \(/);
  }
  const near = await lab16(t);
  const z = (await readLines(logOf(near, 15))).filter((l) => l.includes('"E":"Z"'));
  await cutLog(near, 15, (JSON.parse(z[520]!) as { T: number }).T);
  assert.equal((await verdictOf(near)).code, 0);
});

test('nodes that stopped up to 4N units apart in one order agree (real gomel: 16 nodes at LevelLimit 150 stopped 36 = 2.25N apart); 4N + 1 short does not', async (t) => {
  /** Node k's log cut before its `short`-th last ordered unit: it stopped that many units earlier. */
  const stopEarlier = async (dir: string, k: number, short: number) => {
    const lines = await readLines(logOf(dir, k));
    const z = lines.flatMap((l, i) => (l.includes('"E":"Z"') ? [i] : []));
    await writeLines(logOf(dir, k), lines.slice(0, z[z.length - short]!));
  };
  const apart = await lab16(t);
  for (let k = 1; k <= 13; k++) await stopEarlier(apart, k, 36);
  const close = await verdictOf(apart);
  assert.equal(close.code, 0, close.err);
  assert.equal(close.result!.reachedBy.length, 16);
  const far = await lab16(t);
  await stopEarlier(far, 2, 4 * 16 + 1);
  const short = await verdictOf(far);
  assert.equal(short.code, 1);
  assert.match(
    JSON.stringify(short.result!.nodes[1]),
    /ordered \d+ units at highest level \d+\/50, where node\d+ ordered \d+/,
  );
});

/** A writable copy of the real 8-node run swarm-8 (test/vectors/gomel-2019-09/logs). */
const swarm8 = (t: Context) => copyLogs(t, 'swarm-8');
/** Node k's gomel log in a swarm-8 copy (pid k − 1). */
const swarmLogOf = (dir: string, k: number) => path.join(dir, `node${k}`, `${k - 1}.config.log.gz`);

/** The first line (1-based) of `lines` naming a pid ≥ n as a peer ("P", outside error lines) or an ordered unit's creator. */
function firstOutside(lines: string[], n: number): { line: number; pid: number } | undefined {
  for (const [i, l] of lines.entries()) {
    const peer = l.includes('"L":"3"') ? undefined : /"P":(\d+)/.exec(l)?.[1];
    const creator = l.includes('"E":"Z"') ? /"C":(\d+)/.exec(l)?.[1] : undefined;
    for (const pid of [peer, creator].map(Number)) if (pid >= n) return { line: i + 1, pid };
  }
  return undefined;
}

test("B1 (hostile pass 5): swarm-8's logs under its committee cut to 4 keys are another committee's logs, refused naming the file and the first line naming pid ≥ 4", async (t) => {
  const dir = await swarm8(t);
  for (let k = 5; k <= 8; k++) {
    await fs.rm(path.join(dir, `node${k}`), { recursive: true });
    await fs.rm(path.join(dir, `node${k}.log`));
  }
  const committee = (await fs.readFile(path.join(dir, 'committee.ka'), 'utf8')).split('\n');
  await fs.writeFile(path.join(dir, 'committee.ka'), `${committee.slice(0, 4).join('\n')}\n`);
  const conf = await fs.readFile(path.join(dir, 'conf.json'), 'utf8');
  await fs.writeFile(
    path.join(dir, 'conf.json'),
    conf.replace(/"NParents": *8/, '"NParents": 4').replace(/"CRPFixedPrefix": *8/, '"CRPFixedPrefix": 4'),
  );
  const first = firstOutside(await readLines(swarmLogOf(dir, 1)), 4)!;
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 1, r.out);
  assert.equal(r.out, '');
  assert.equal(r.err.trim().split('\n').length, 1, r.err);
  assert.match(
    r.err,
    new RegExp(
      `node1/0\\.config\\.log\\.gz: line ${first.line} names pid ${first.pid} as a peer, but the committee has 4 pids \\(0–3\\), the only ones gomel names: it is a log of another committee's run — judge the logs with their own run's committee\\.ka and conf\\.json`,
    ),
  );
});

test('B1 (hostile pass 5): a log ordering units of creator 12 in an 8-node committee is refused, naming the line', async (t) => {
  const dir = await swarm8(t);
  for (let k = 1; k <= 8; k++) {
    const lines = await readLines(swarmLogOf(dir, k));
    await writeLines(
      swarmLogOf(dir, k),
      lines.map((l) => l.replace('"C":2,', '"C":12,')),
    );
  }
  const first = firstOutside(await readLines(swarmLogOf(dir, 1)), 8)!;
  assert.equal(first.pid, 12);
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 1, r.out);
  assert.equal(r.err.trim().split('\n').length, 1, r.err);
  assert.match(
    r.err,
    new RegExp(
      `node1/0\\.config\\.log\\.gz: line ${first.line} names pid 12 as an ordered unit's creator, but the committee has 8 pids \\(0–7\\)`,
    ),
  );
});

test("B1 (hostile pass 5): every vendored real run names only its own committee's pids: none is refused", async (t) => {
  const runs = [
    ...['success-4', 'one-bad-key-4', 'swarm-8'].map((name) => copyLogs(t, name)),
    ...['lab16', 'twin8'].map((name) => copyLogs(t, name, path.join(REPO, 'test/vectors/real-runs'))),
  ];
  for (const dir of await Promise.all(runs)) {
    const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
    // A verdict, not a refusal (one-bad-key-4 is exit 1: its pid 0 never created a prime unit).
    assert.match(r.out + r.err, /consensus reached by/, `${dir}: ${r.err}`);
    assert.doesNotMatch(r.err, /another committee/);
  }
});

test('B4 (hostile pass 5): a logs folder whose conf.json has a "__proto__" field is refused naming it (gomel rejects unknown fields)', async (t) => {
  const dir = await swarm8(t);
  const conf = await fs.readFile(path.join(dir, 'conf.json'), 'utf8');
  await fs.writeFile(path.join(dir, 'conf.json'), conf.replace('{', '{"__proto__": {"LevelLimit": 2}, '));
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 1, r.out);
  assert.equal(r.err.trim().split('\n').length, 1, r.err);
  assert.match(r.err, /conf\.json:__proto__: .*unknown field; gomel rejects fields it does not know/);
});
