// The verdict knows what the committee tolerates: N = 3f+1 nodes promise
// consensus with up to f faulty nodes (here, lost with their host), a stall and
// never a fork with more; and consensus needs evidence of progress, not a level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, copyLogs, loseWithHost, readLines, VECTORS, writeLines } from './helpers.js';
import type { Verdict } from '../src/core/logs/verdict.js';

const LOGS = path.join(VECTORS, 'logs');

const verdictOf = async (dir: string) => {
  const r = await cli(['verdict', '--trust-logs', '--logs', dir, '--json']);
  return { code: r.code, result: JSON.parse(r.out) as Verdict, err: r.err };
};

/** Cuts a swarm-8 log where the committee stalled: before the first prime unit of `level`. */
async function stallAt(dir: string, node: string, level: number): Promise<void> {
  const folder = path.join(dir, node);
  const log = (await fs.readdir(folder)).find((f) => f.endsWith('.log.gz'))!;
  const lines = await readLines(path.join(folder, log));
  await writeLines(
    path.join(folder, log),
    lines.slice(
      0,
      lines.findIndex((l) => l.includes(`"Q":${level},`)),
    ),
  );
  await fs.rm(path.join(folder, 'exit_status'));
  await fs.writeFile(path.join(folder, 'task.json'), JSON.stringify({ state: 'running', swarmNode: 'gl-h1' }));
}

test('f = 2 nodes of 8 lost with their host: the 6 correct ones reached consensus, tolerated, exit 0', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  for (const n of ['node7', 'node8']) await loseWithHost(dir, n, 'gl-h3');
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /^consensus reached by all 6 correct nodes \(344 units in the same order\); node7, node8 lost with host gl-h3; f = 2 tolerated$/m,
  );
  const { result } = await verdictOf(dir);
  assert.equal(result.outcome, 'tolerated');
  assert.equal(result.f, 2);
  assert.deepEqual(
    result.faulty.map((x) => x.label),
    ['node7', 'node8'],
  );
});

test('3 of 8 lost, the other 5 stalled at level 33 agreeing: the stall BFT allows, exit 3', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  for (const n of ['node6', 'node7', 'node8']) await loseWithHost(dir, n, 'gl-h3');
  for (const n of ['node1', 'node2', 'node3', 'node4', 'node5']) await stallAt(dir, n, 34);
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 3, r.err);
  assert.match(
    r.out,
    /^stalled as expected: 3 faulty > f = 2 \(node6, node7, node8 lost with host gl-h3\); the 5 correct nodes agree on \d+ units/m,
  );
  // One fewer lost is no longer an excuse: 2 ≤ f, and the correct nodes must finish.
  await fs.cp(path.join(LOGS, 'swarm-8/node6'), path.join(dir, 'node6'), { recursive: true, force: true });
  await fs.rm(path.join(dir, 'node6/task.json'), { force: true });
  await stallAt(dir, 'node6', 34);
  const again = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(again.code, 1);
  assert.match(
    again.out,
    /^consensus not reached: no node reached LevelLimit 50 with an agreed order; node7, node8 lost with host gl-h3 \(f = 2\)$/m,
  );
});

test('N59: every node ordering one unit twice is not consensus', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  for (const pid of [0, 1, 2, 3]) {
    const file = path.join(dir, `${pid}.log.gz`);
    const lines = await readLines(file);
    const z = lines.findIndex((l) => l.includes('"E":"Z"'));
    lines.splice(z + 3, 0, lines[z]!); // ordered again, three units later
    await writeLines(file, lines);
  }
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  assert.equal(result.outcome, 'failed');
  assert.match(result.nodes[0]!.reasons[0]!, /^ordered unit \d+:\d+ twice \(#1 and #\d\): not a linear order$/);
});

test('N60: a node at LevelLimit that ordered 1 of the units is not consensus', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  const file = path.join(dir, '3.log.gz');
  let seen = 0;
  await writeLines(
    file,
    (await readLines(file)).filter((l) => !l.includes('"E":"Z"') || seen++ === 0),
  );
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  assert.equal(result.nodes[3]!.reached, false);
  assert.match(result.nodes[3]!.reasons[0]!, /^ordered 1 unit at highest level 10\/10, where pid \d ordered 27$/); // f + 1 = 2 finishers' order (the furthest: 33)
});

test('a node whose shipped files did not all arrive: its evidence is marked incomplete', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await fs.writeFile(
    path.join(dir, 'node4/task.json'),
    JSON.stringify({
      state: 'complete',
      exitCode: 0,
      incomplete: ['3.config.log lost 40 of its 316 shipped lines (101–140); kept the first 935 kB of 3.0 MB'],
    }),
  );
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.match(r.out, /^node4: consensus — .*; evidence incomplete: 3\.config\.log lost 40 of its 316 shipped lines/m);
});

test('every node at LevelLimit with a few ordered units and no timing round behind them is not consensus', async (t) => {
  // The committee agrees with itself, so "as far as the others" proves nothing: the rounds must support the units.
  const noRounds = await copyLogs(t, 'success-4');
  const fewUnits = await copyLogs(t, 'success-4');
  for (const pid of [0, 1, 2, 3]) {
    const file = `${pid}.log.gz`;
    const lines = await readLines(path.join(noRounds, file));
    let z = 0;
    // Three ordered units each, as in the hand-made logs a hostile test wrote: first without any timing round…
    await writeLines(
      path.join(noRounds, file),
      lines.filter((l) => !l.includes('"E":"E"') && (!l.includes('"E":"Z"') || z++ < 3)),
    );
    // …then with every timing round left in.
    z = 0;
    await writeLines(
      path.join(fewUnits, file),
      lines.filter((l) => !l.includes('"E":"Z"') || z++ < 3),
    );
  }
  const none = await verdictOf(noRounds);
  assert.equal(none.code, 1);
  assert.equal(none.result.outcome, 'failed');
  for (const node of none.result.nodes)
    assert.match(
      node.reasons[0]!,
      /^ordered 3 units but decided no timing round; gomel orders units only by timing rounds$/,
    );
  const few = await verdictOf(fewUnits);
  assert.equal(few.code, 1);
  for (const node of few.result.nodes)
    assert.match(
      node.reasons[0]!,
      /^ordered 3 units by timing round [78], which needs at least (19|22) \(2f\+1 = 3 a level below it\)$/,
    );
  // Real gomel's own logs meet the bound (one-bad-key-4: 22 units by round 7 with 3 live nodes, the least there is).
  for (const name of ['success-4', 'one-bad-key-4', 'swarm-8'])
    for (const node of (await verdictOf(path.join(LOGS, name))).result.nodes)
      assert.ok(!node.reasons.some((r) => /timing round/.test(r)), `${name} ${node.label}: ${node.reasons.join('; ')}`);
});
