// Faults count only as applied (issue 30, class 1): a node is faulty by its own faults.log
// line that the action was done (templates/faults.sh), or by a host the engine lost; a plan
// is what was asked. Real gomel logs (swarm-8, 8 nodes, f = 2) cut and forged as a hostile
// user or an unlucky run would leave them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, copyLogs, readLines, writeLines } from './helpers.js';
import type { Verdict } from '../src/core/logs/verdict.js';
import { describeFaultPlan, faultyNodes, parseFaultPlan } from '../src/core/faults/plan.js';
import { faultsApplied } from '../src/core/faults/evidence.js';
import { parseFaultsLog } from '../src/core/faults/log.js';

const HOSTS = Array.from({ length: 8 }, (_, i) => `node${i + 1}`);
const T0 = 1795000000;

const verdictOf = async (dir: string) => {
  const r = await cli(['verdict', '--trust-logs', '--logs', dir, '--json']);
  return { code: r.code, result: JSON.parse(r.out) as Verdict, err: r.err };
};

/** faults.json as deploy logs writes it for `spec` on swarm-8's 8 nodes. */
async function writePlan(dir: string, spec: string): Promise<void> {
  const plan = parseFaultPlan(spec, HOSTS);
  const { faulty, delayed } = faultyNodes(plan);
  await fs.writeFile(
    path.join(dir, 'faults.json'),
    JSON.stringify({ events: describeFaultPlan(plan), faulty, delayed, plan }),
  );
}

/** Every node started gomel at T0 (run.sh's started_at). */
async function startAll(dir: string): Promise<void> {
  for (const h of HOSTS) await fs.writeFile(path.join(dir, h, 'started_at'), `${T0}.000000\n`);
}

/** A node whose gomel stopped at `level` (killed, its log cut there), as a SIGKILL leaves it. */
async function cutAt(dir: string, node: string, level: number, exitStatus = '137'): Promise<void> {
  const folder = path.join(dir, node);
  const log = (await fs.readdir(folder)).find((f) => f.endsWith('.log.gz'))!;
  const lines = await readLines(path.join(folder, log));
  const at = lines.findIndex((l) => Number(/"Q":(\d+)/.exec(l)?.[1] ?? -1) >= level);
  assert.ok(at > 0, `${node} reaches level ${level}`);
  await writeLines(path.join(folder, log), lines.slice(0, at));
  await fs.writeFile(path.join(folder, 'exit_status'), `${exitStatus}\n`);
  await fs.writeFile(path.join(folder, 'stderr.txt'), '');
}

/** A node that panicked on its own, right after it started: no unit, exit 2, a panic on stderr. */
async function panicAtStart(dir: string, node: string): Promise<void> {
  await cutAt(dir, node, 1, '2');
  await fs.writeFile(
    path.join(dir, node, 'stderr.txt'),
    'panic: runtime error: index out of range\n\ngoroutine 1 [running]:\ngitlab.com/alephledger/consensus-go/pkg/dag.New()\n\t/go/src/gitlab.com/alephledger/consensus-go/pkg/dag/dag.go:42 +0x1\n',
  );
}

const faultsLog = (dir: string, node: string, lines: string[]) =>
  fs.writeFile(path.join(dir, node, 'faults.log'), lines.map((l) => `${l}\n`).join(''));

test('a plan that makes every node faulty, never applied, on a committee that ordered nothing: failed, exit 1, each named "planned, not applied"', async (t) => {
  for (const spec of ['crash:1-8@3s', 'pause:1-8@30s']) {
    const dir = await copyLogs(t, 'swarm-8');
    await startAll(dir);
    for (const h of HOSTS) await cutAt(dir, h, 2, '143');
    await writePlan(dir, spec);
    const { code, result } = await verdictOf(dir);
    assert.equal(code, 1, spec);
    assert.equal(result.outcome, 'failed', spec);
    assert.deepEqual(result.faulty, [], spec);
    assert.deepEqual(
      result.notApplied.map((x) => x.label),
      HOSTS,
      spec,
    );
    assert.match(result.consensusLine, /^consensus not reached: .*; planned, not applied: node1, node2, node3/, spec);
  }
});

test('every node really crashed by the plan: no correct node is left, and that is never success (exit 1)', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await startAll(dir);
  for (const h of HOSTS) {
    await cutAt(dir, h, 2);
    await faultsLog(dir, h, [`${T0 + 3.01} 3000 kill ok`]);
  }
  await writePlan(dir, 'crash:1-8@3s');
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  assert.equal(result.outcome, 'failed');
  assert.equal(result.faulty.length, 8);
  assert.match(result.consensusLine, /^consensus not reached: all 8 nodes faulty, no correct node left to judge/);
  // So too when every node is lost with its host, as the engine reported.
  for (const h of HOSTS) {
    await fs.rm(path.join(dir, h, 'faults.log'));
    await fs.rm(path.join(dir, h, 'exit_status')); // a host that died leaves none
    await fs.writeFile(
      path.join(dir, h, 'task.json'),
      JSON.stringify({ state: 'running', swarmNode: 'gl-h2', hostDown: true }),
    );
  }
  await fs.rm(path.join(dir, 'faults.json'));
  const lost = await verdictOf(dir);
  assert.equal(lost.code, 1);
  assert.match(lost.result.consensusLine, /^consensus not reached: all 8 nodes faulty/);
});

test("a planned crash that never came does not cover a node's own crash: exit 1, not tolerated", async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await startAll(dir);
  for (const h of ['node7', 'node8']) await panicAtStart(dir, h);
  await writePlan(dir, 'crash:7,8@100s');
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  assert.equal(result.outcome, 'failed');
  assert.deepEqual(result.faulty, []);
  assert.match(
    result.consensusLine,
    /^consensus reached by 6 of 8 nodes .*; not by node7, node8 \(.*\); planned, not applied: node7, node8 crashed at 100 s$/,
  );
  const node7 = result.nodes[6]!;
  assert.ok(node7.notes.includes('planned, not applied: crashed at 100 s'), node7.notes.join('; '));
});

test('a planned crash applied (faults.log: kill ok): faulty, and with at most f the run is tolerated, exit 0', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await startAll(dir);
  for (const h of ['node7', 'node8']) {
    await cutAt(dir, h, 4);
    await faultsLog(dir, h, [`${T0 + 3.002} 3000 kill ok`]);
  }
  await writePlan(dir, 'crash:7,8@3s');
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(
    r.out,
    /^consensus reached by all 6 correct nodes \(344 units in the same order\); node7, node8 crashed at 3 s as planned; f = 2 tolerated$/m,
  );
  assert.match(r.out, /^node7: NO consensus — .*; fault applied: crashed at 3 s as planned/m);
  // A kill that failed (gomel was already gone) is no evidence: the two are judged as nodes that died on their own.
  for (const h of ['node7', 'node8'])
    await faultsLog(dir, h, [`${T0 + 3.002} 3000 kill failed: kill: No such process`]);
  assert.equal((await cli(['verdict', '--trust-logs', '--logs', dir])).code, 1);
});

test('a pause applied and undone: the node is correct, named in its line and in the verdict as caught up', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await startAll(dir);
  await faultsLog(dir, 'node3', [`${T0 + 2.001} 2000 stop ok`, `${T0 + 6.001} 6000 cont ok`]);
  await writePlan(dir, 'pause:3@2s-6s');
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /^node3: consensus — .*; fault applied and undone: paused 2 s–6 s$/m);
  assert.match(
    r.out,
    /^consensus reached by all 8 nodes \(344 units in the same order\); node3 paused 2 s–6 s, and caught up$/m,
  );
});

test('a faults.log line that cannot be of this run (applied before gomel started, or before its time) counts for nothing', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await startAll(dir);
  for (const h of ['node7', 'node8']) await cutAt(dir, h, 4);
  await faultsLog(dir, 'node7', [`${T0 - 50} 3000 kill ok`]);
  await faultsLog(dir, 'node8', [`${T0 + 0.5} 3000 kill ok`]);
  await writePlan(dir, 'crash:7,8@3s');
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  assert.deepEqual(result.faulty, []);
  assert.deepEqual(
    result.inconsistent.map((x) => x.label),
    ['node7', 'node8'],
  );
  assert.match(result.inconsistent[0]!.why, /^line 1: kill applied at \d+(\.\d+)?, before gomel started/);
  assert.match(result.inconsistent[1]!.why, /before its time \(3 s after the start at \d+\)/);
});

test('f + 1 crashes applied, and a correct node that crashed on its own: a failure, never the stall BFT allows', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await startAll(dir);
  for (const h of ['node6', 'node7', 'node8']) {
    await cutAt(dir, h, 4);
    await faultsLog(dir, h, [`${T0 + 3.01} 3000 kill ok`]);
  }
  for (const h of ['node1', 'node2', 'node3', 'node4', 'node5']) await cutAt(dir, h, 6, '143');
  await writePlan(dir, 'crash:6-8@3s');
  const stall = await verdictOf(dir);
  assert.equal(stall.code, 3, stall.result.consensusLine);
  assert.match(
    stall.result.consensusLine,
    /^stalled as expected: 3 faulty > f = 2 \(node6, node7, node8 crashed at 3 s as planned\)/,
  );
  await panicAtStart(dir, 'node5');
  const failed = await verdictOf(dir);
  assert.equal(failed.code, 1, failed.result.consensusLine);
  assert.equal(failed.result.outcome, 'failed');
});

test("the state at a node's end: paused or slowed with no resume is faulty, resumed is only delayed; a cut is faulty where it was for good", () => {
  const at = (lines: string[]) => parseFaultsLog(lines.map((l) => `${l}\n`).join('')).events;
  const four = ['node1', 'node2', 'node3', 'node4'];
  const plan = parseFaultPlan('pause:1@1s;slow:2@1s-5s,cpu=0.5;isolate:3@2s', four);
  const nodes = [
    { label: 'node1', events: at([`${T0 + 1} 1000 stop ok`]), startedAt: T0 },
    { label: 'node2', events: at([`${T0 + 1} 1000 slow 0.5 ok`, `${T0 + 5} 5000 unslow ok`]), startedAt: T0 },
    { label: 'node3', events: at([`${T0 + 2} 2000 drop node1 node2 node4 ok`]), startedAt: T0 },
    { label: 'node4', events: at([`${T0 + 2} 2000 drop node3 ok`]), startedAt: T0 },
  ];
  const found = faultsApplied(plan, nodes);
  assert.deepEqual(found.applied, [
    { label: 'node1', why: 'paused for good from 1 s as planned' },
    { label: 'node3', why: 'isolated for good from 2 s as planned' },
  ]);
  assert.deepEqual(found.notApplied, []);
  // node2's slow window is named: a correct node that must catch up.
  assert.deepEqual(found.undone, [{ label: 'node2', why: 'slowed 1 s–5 s' }]);
  // Resumed, node1 is only delayed, and its window named with node2's.
  nodes[0]!.events = at([`${T0 + 1} 1000 stop ok`, `${T0 + 9} 9000 resume ok`]);
  const resumed = faultsApplied(plan, nodes);
  assert.deepEqual(
    resumed.applied.map((x) => x.label),
    ['node3'],
  );
  assert.deepEqual(resumed.undone, [
    { label: 'node1', why: 'paused 1 s–9 s' },
    { label: 'node2', why: 'slowed 1 s–5 s' },
  ]);
  // With no record of the run's faults, no line counts: faults.log alone is no evidence (a payload can write it).
  const unrecorded = faultsApplied(undefined, nodes);
  assert.deepEqual(unrecorded.applied, []);
  assert.match(unrecorded.inconsistent[0]!.why, /the run has no fault record \(none in run\.json\)$/);
  // The same plan with no faults.log anywhere: nothing applied, the for-good ones named as planned only.
  assert.deepEqual(
    faultsApplied(
      plan,
      nodes.map((n) => ({ ...n, events: undefined })),
    ).notApplied.map((x) => x.label),
    ['node1', 'node3'],
  );
});

test('a faults.log line is no evidence unless the run recorded such a fault, the node started, and its log ended there (hostile pass V01, V11-V13)', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await startAll(dir);
  // node8 failed on its own: its log goes on to level 30, well past 3 s, and it exited 1.
  await cutAt(dir, 'node8', 30, '1');
  const judged = async () => (await verdictOf(dir)).result;
  const kill = `${T0 + 1.01} 1000 kill ok`;
  await faultsLog(dir, 'node8', [kill]);
  // No record of any fault (no faults.json): the line alone counts for nothing.
  let v = await judged();
  assert.equal(v.outcome, 'failed');
  assert.match(v.inconsistent[0]!.why, /the run has no fault record/);
  // A record, but the node's log goes on long after the kill it claims.
  await writePlan(dir, 'crash:8@1s');
  v = await judged();
  assert.equal(v.outcome, 'failed');
  assert.match(v.inconsistent[0]!.why, /^line 1: kill at 1 s, but its gomel log goes on to \d+(\.\d+)? s$/);
  // A pause for good the same: a paused gomel logs nothing.
  await writePlan(dir, 'pause:8@0s');
  await faultsLog(dir, 'node8', [`${T0 + 0.01} 0 stop ok`]);
  assert.equal((await judged()).outcome, 'failed');
  // A restart with no crash before it, although the plan has both.
  await cutAt(dir, 'node8', 4, '137');
  await writePlan(dir, 'crash:8@3s;restart:8@5s');
  await faultsLog(dir, 'node8', [`${T0 + 5.01} 5000 restart ok`]);
  v = await judged();
  assert.equal(v.outcome, 'failed');
  assert.match(v.inconsistent[0]!.why, /restart at 5 s, but the node was not crashed or stopped before/);
  // started_at unreadable: the line cannot be placed, so it does not count.
  await writePlan(dir, 'crash:8@1s');
  await faultsLog(dir, 'node8', [kill]);
  await fs.writeFile(path.join(dir, 'node8', 'started_at'), 'garbage\n');
  v = await judged();
  assert.equal(v.outcome, 'failed');
  assert.match(v.inconsistent[0]!.why, /started_at is missing or unreadable/);
  // All in order: the same kill, planned, on a node whose log ends at level 4 and that started: tolerated.
  await fs.writeFile(path.join(dir, 'node8', 'started_at'), `${T0}.000000\n`);
  assert.equal((await judged()).outcome, 'tolerated');
});

test("a node that crashed on its own inside a fault's planned window is a failure, not faulty 'for good' (hostile pass B4)", async (t) => {
  for (const [spec, line] of [
    ['slow:8@0s-20s,cpu=0.2', `${T0 + 0.01} 0 slow 0.2 ok`],
    ['isolate:8@4s-9s', `${T0 + 4.01} 4000 drop node1 node2 node3 node4 node5 node6 node7 ok`],
    ['pause:8@4s-9s', `${T0 + 4.01} 4000 stop ok`],
  ]) {
    const dir = await copyLogs(t, 'swarm-8');
    await startAll(dir);
    await panicAtStart(dir, 'node8');
    await faultsLog(dir, 'node8', [line!]);
    await writePlan(dir, spec!);
    const { code, result } = await verdictOf(dir);
    assert.equal(code, 1, `${spec}: ${result.consensusLine}`);
    assert.equal(result.outcome, 'failed', spec);
    assert.deepEqual(result.faulty, [], spec);
  }
});

test('a task the swarm shut after it ended by itself (a panic, exit 2; or exit 0 after a refusal) ended as it did: exit 1 (hostile pass B5)', async (t) => {
  for (const [status, stderr] of [
    ['2', 'panic: runtime error: index out of range\n'],
    ['0', 'cannot read the key file\n'],
  ]) {
    const dir = await copyLogs(t, 'swarm-8');
    await startAll(dir);
    await cutAt(dir, 'node8', 4, status);
    await fs.writeFile(path.join(dir, 'node8', 'stderr.txt'), stderr!);
    await fs.writeFile(
      path.join(dir, 'node8', 'task.json'),
      JSON.stringify({ state: 'shutdown', desiredState: 'shutdown', swarmNode: 'h2' }),
    );
    const { code, result } = await verdictOf(dir);
    assert.equal(code, 1, `exit ${status}: ${result.consensusLine}`);
    assert.deepEqual(result.faulty, []);
    assert.notEqual(result.nodes[7]!.shutdown.kind, 'swarm-stopped');
    // Terminated (143) before the swarm marked it shut: the swarm stopped it, tolerated.
    await fs.writeFile(path.join(dir, 'node8', 'exit_status'), '143\n');
    await fs.writeFile(path.join(dir, 'node8', 'stderr.txt'), '');
    assert.equal((await verdictOf(dir)).code, 0);
  }
});

test('no stall is declared of correct nodes that left no log (hostile pass B7)', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await startAll(dir);
  for (const h of ['node6', 'node7', 'node8']) {
    await cutAt(dir, h, 4);
    await faultsLog(dir, h, [`${T0 + 3.01} 3000 kill ok`]);
  }
  for (const h of ['node1', 'node2', 'node3', 'node4', 'node5']) {
    for (const f of await fs.readdir(path.join(dir, h))) if (f !== 'started_at') await fs.rm(path.join(dir, h, f));
    await fs.writeFile(path.join(dir, h, 'task.json'), JSON.stringify({ state: 'running', uncollected: 'gone' }));
  }
  await writePlan(dir, 'crash:6-8@3s');
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1, result.consensusLine);
  assert.equal(result.outcome, 'failed');
});

test("a node's stderr or task error that holds a private key is never printed: its key material is redacted (hostile pass B6)", async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await startAll(dir);
  const key = (await fs.readFile(path.join('keys', '0.pk'), 'utf8')).trim();
  const runs = key.split(/\s+/).filter((w) => w.length >= 16);
  await cutAt(dir, 'node8', 4, '2');
  await fs.writeFile(path.join(dir, 'node8', 'stderr.txt'), `${key}\n`);
  await cutAt(dir, 'node7', 4, '2');
  await fs.writeFile(path.join(dir, 'node7', 'stderr.txt'), `panic: bad key ${runs[0]}\n`);
  await fs.writeFile(
    path.join(dir, 'node6', 'task.json'),
    JSON.stringify({ state: 'failed', exitCode: 2, error: `task: ${runs[1]}` }),
  );
  for (const args of [[], ['--json']]) {
    const r = await cli(['verdict', '--trust-logs', '--logs', dir, ...args]);
    assert.equal(r.code, 1, r.out + r.err);
    for (const run of runs) assert.ok(!(r.out + r.err).includes(run.slice(0, 20)), `${args}: ${r.out}`);
    assert.match(r.out, /redacted/);
  }
});

test('a log that lost lines (its head, or a chunk among its ordered units) is no evidence of a fork (hostile pass B2)', async (t) => {
  for (const keep of [(i: number) => i >= 4100, (i: number) => i < 4000 || i >= 5700]) {
    const dir = await copyLogs(t, 'success-4');
    const log = path.join(dir, '2.log.gz');
    await writeLines(
      log,
      (await readLines(log)).filter((_, i) => keep(i)),
    );
    const { code, result } = await verdictOf(dir);
    assert.equal(code, 1, result.consensusLine);
    assert.deepEqual(result.divergences, []);
    assert.match(
      result.nodes[2]!.reasons[0]!,
      /^its order is no evidence: units #\d+–#\d+ of the committee's order are missing from it \(lines lost from its log\)$/,
    );
  }
});

test('a node whose evidence deploy logs found incomplete backs no fork claim (hostile pass B2)', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await startAll(dir);
  const log = path.join(dir, 'node8', '7.config.log.gz');
  // Its order, forged at its 6th unit (creator and height swapped): a fork, were its evidence whole.
  let z = 0;
  await writeLines(
    log,
    (await readLines(log)).map((l) =>
      /"E":"Z"/.test(l) && ++z === 6 ? l.replace(/"C":(\d+),"H":(\d+)/, '"C":$2,"H":$1') : l,
    ),
  );
  assert.equal((await verdictOf(dir)).code, 4);
  await fs.writeFile(
    path.join(dir, 'node8', 'task.json'),
    JSON.stringify({ state: 'complete', exitCode: 0, incomplete: ['log: copy failed'] }),
  );
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1, result.consensusLine);
  assert.deepEqual(result.divergences, []);
  assert.match(result.nodes[7]!.reasons[0]!, /^its order is no evidence: evidence incomplete \(log: copy failed\)/);
});

test('a garbled line whose "E" does not read as a gomel event counts as damaged, not skipped (hostile pass B2)', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  const log = path.join(dir, '2.log.gz');
  let z = 0;
  await writeLines(
    log,
    (await readLines(log)).map((l) => (/"E":"Z"/.test(l) && ++z === 6 ? l.replace('"E":"Z"', '"E":"Z\\u0000"') : l)),
  );
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1, result.consensusLine);
  assert.match(result.nodes[2]!.reasons[0]!, /^its order is no evidence: 1 damaged or cut line/);
});

test("a log of another run in the folder (its gomel started minutes from the others') is refused, naming it (hostile pass B3)", async (t) => {
  const dir = await copyLogs(t, 'success-4');
  await fs.copyFile(path.join('test/vectors/gomel-2019-09/logs/one-bad-key-4/3.log.gz'), path.join(dir, '3.log.gz'));
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(
    r.err,
    /3\.log\.gz: its gomel started at Wed, 25 Nov 2026 02:35:14 \+0000 \(its genesis line\), 93 s from the other nodes' gomel .*another run/,
  );
  assert.equal(r.err.trim().split('\n').length, 1, r.err);
});
