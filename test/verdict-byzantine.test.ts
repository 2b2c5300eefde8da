// The verdict with a node that lied (issue 34): a twin — node3 run as two instances with one key —
// judged apart for safety (no two nodes that did not lie ordered different units) and liveness
// (every correct node reached consensus while at most f were faulty, the liar among them), on
// real gomel logs (swarm-8, 8 nodes). gomel e8d0088 logs no unit hash (core/logs/byzantine.ts), so a
// twin's log differs from its node's by when and what it created, not by a hash: here both are node3's
// own log, each keeping the lines that name the peers of its half, as each instance of the real twin8 run
// named only those (both instances created units as pid 2). What a correct node logs of the fork
// is written in as gomel writes it: the second version of a unit ordered at the same (C, H) (its
// order keeps units by hash, pkg/linear/ordering.go), and a ComplianceError about a forker
// (pkg/dag/check/parental_compliance.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, copyLogs, keepHalf, readLines, writeLines } from './helpers.js';
import { describeFaultPlan, faultyNodes, parseFaultPlan } from '../src/core/faults/plan.js';
import { FAULTS_FILE } from '../src/core/logs/logs-folder.js';
import type { Verdict } from '../src/core/logs/verdict.js';
import type { ByzantineReport } from '../src/core/report/byzantine.js';

const HOSTS = Array.from({ length: 8 }, (_, i) => `node${i + 1}`);
const CORRECT = HOSTS.filter((h) => h !== 'node3');

const verdictOf = async (dir: string) => {
  const r = await cli(['verdict', '--trust-logs', '--logs', dir, '--json']);
  return { code: r.code, result: JSON.parse(r.out) as Verdict, err: r.err };
};

/** faults.json as deploy logs writes it for `--faults spec`. */
async function recordPlan(dir: string, spec: string): Promise<void> {
  const plan = parseFaultPlan(spec, HOSTS);
  const { faulty, delayed } = faultyNodes(plan);
  await fs.writeFile(
    path.join(dir, FAULTS_FILE),
    JSON.stringify({ events: describeFaultPlan(plan), faulty, delayed, plan }),
  );
}

const mainLog = async (dir: string, node: string) => {
  const folder = path.join(dir, node);
  return path.join(
    folder,
    (await fs.readdir(folder)).find((f) => f.endsWith('.log.gz'))!,
  );
};

/** twin:3's halves (node1, node2, node4, node5 | node6, node7, node8), as pids. */
const HALVES = [
  [0, 1, 3, 4],
  [5, 6, 7],
];

/**
 * node3's twin: a second instance's folder, as deploy logs names it after its service, from node3's log;
 * each instance's log names only the pids of its half as peers, as in the real twin8 run (keepHalf).
 */
async function addTwin(dir: string): Promise<void> {
  await fs.cp(path.join(dir, 'node3'), path.join(dir, 'node3-twin'), { recursive: true });
  await keepHalf(await mainLog(dir, 'node3'), HALVES[0]!);
  await keepHalf(await mainLog(dir, 'node3-twin'), HALVES[1]!);
  // Each instance's drop rules, as faults.sh apply_twin logs them before gomel starts: each cuts off the other's half.
  const drop = (half: number[]) => `1569836105.5 0 twin drop ${half.map((pid) => HOSTS[pid]).join(' ')} ok\n`;
  await fs.writeFile(path.join(dir, 'node3', 'faults.log'), drop(HALVES[1]!));
  await fs.writeFile(path.join(dir, 'node3-twin', 'faults.log'), drop(HALVES[0]!));
}

/**
 * What a correct node that held both versions of pid 2's units at `heights` logs: each second
 * version ordered right after the first, in the same round, and (`error`) a fork error a moment before.
 */
async function sawFork(dir: string, node: string, heights: number[], error: boolean): Promise<void> {
  const file = await mainLog(dir, node);
  const lines = await readLines(file);
  for (const h of heights) {
    const at = lines.findIndex((l) => l.includes('"E":"Z"') && l.includes(`"C":2,"H":${h},`));
    assert.ok(at >= 0, `${node} ordered 2:${h}`);
    lines.splice(at + 1, 0, lines[at]!);
  }
  if (error) {
    const at = lines.findIndex((l) => l.includes('"E":"Z"') && l.includes(`"C":2,"H":${heights[0]},`));
    const t = (JSON.parse(lines[at]!) as { T: number }).T - 50;
    lines.splice(
      at,
      0,
      `{"L":"3","addUnit":"gossip.in","T":${t},"E":"ComplianceError: Some parent has evidence of another parent being a forker"}`,
    );
  }
  await writeLines(file, lines);
}

test('twin:3 of 8, every correct node ordered both versions and finished: safety and liveness held, the liar named, exit 0', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await recordPlan(dir, 'twin:3');
  await addTwin(dir);
  for (const [i, node] of CORRECT.entries()) await sawFork(dir, node, [5, 6], i < 3);
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 0, `${r.out}\n${r.err}`);
  assert.match(
    r.out,
    /^safety held: no two nodes that did not lie ordered different units \(by creator:height\); liveness: consensus reached by all 7 correct nodes \(346 units in the same order\); node3 Byzantine \(equivocated as node3 and node3-twin, one key\); f = 2 tolerated$/m,
  );
  assert.match(
    r.out,
    /^byzantine: node3 lied: it equivocated — two instances with its one key \(node3 reached by node1, node2, node4, node5; node3-twin by node6, node7, node8\), and both created units as pid 2 \(46 and 46\)$/m,
  );
  assert.match(
    r.out,
    /^byzantine: node3's units at 2 height\(s\) \(5–6\) were ordered in both versions; 3 of 7 correct nodes logged errors about a fork \(3 in all\)$/m,
  );
  assert.match(
    r.out,
    /^gomel: every correct node saw the fork \(first node\d at [\d.]+ s, last node\d at [\d.]+ s\); node3's units were still ordered after that by 7 of them/m,
  );
  assert.match(r.out, /^node3: BYZANTINE — /m);
  assert.match(r.out, /^node3-twin: the twin of node3 — level 50\/50, created 46 units, ordered 344$/m);
  assert.match(
    r.out,
    /^byzantine: node1: held both versions by [\d.]+ s \(2 height\(s\) ordered twice, first 2:5\), 1 error\(s\) about a fork from [\d.]+ s; \d+ of node3's units ordered after/m,
  );
  const { result } = await verdictOf(dir);
  assert.equal(result.outcome, 'tolerated');
  assert.deepEqual(result.reachedBy, CORRECT);
  assert.deepEqual(result.byzantine!.liars[0]!.equivocated, [5, 6]);
  assert.equal(result.byzantine!.liars[0]!.seenBy.filter((x) => x.detectedMs !== undefined).length, 7);
  assert.deepEqual(result.notApplied, []);
  // The report's Byzantine section: the same findings on the common clock, and the committee before and after.
  const rep = await cli(['report', '--trust-logs', '--logs', dir, '--json']);
  assert.equal(rep.code, 0, rep.err);
  const [run] = JSON.parse(rep.out) as [{ byzantine: ByzantineReport }];
  const liar = run.byzantine.liars[0]!;
  assert.deepEqual(
    [liar.label, liar.twinLabel, liar.created, liar.equivocated],
    ['node3', 'node3-twin', [46, 46], '5–6'],
  );
  assert.deepEqual(
    liar.seenBy.map((x) => x.node),
    CORRECT,
  );
  assert.ok(liar.seenBy.every((x) => x.detectedSeconds !== undefined && x.heightsOrderedTwice === 2));
  assert.ok(liar.before!.unitsPerSecond > 0 && liar.after!.unitsPerSecond > 0);
  assert.equal(liar.before!.toSeconds, Math.min(...liar.seenBy.map((x) => x.detectedSeconds!)));
  assert.match(await fs.readFile(path.join(dir, 'report.html'), 'utf8'), /<h2>Byzantine<\/h2>/);
});

test('a twin whose correct nodes logged nothing of it: said plainly; the order of two versions is no failure of a correct node, but of any other unit it is', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await recordPlan(dir, 'twin:3');
  await addTwin(dir);
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 0, r.out);
  assert.match(
    r.out,
    /^byzantine: no correct node ordered two versions of a node3 unit, and none logged an error about a fork: the correct nodes' logs show no sign that node3 forked$/m,
  );
  // A unit of a node that did not lie ordered twice (by all alike) is still no linear order.
  for (const node of CORRECT) {
    const file = await mainLog(dir, node);
    const lines = await readLines(file);
    const at = lines.findIndex((l) => l.includes('"E":"Z"') && l.includes('"C":4,'));
    lines.splice(at + 1, 0, lines[at]!);
    await writeLines(file, lines);
  }
  const again = await verdictOf(dir);
  assert.equal(again.code, 1);
  assert.match(again.result.nodes[0]!.reasons[0]!, /^ordered unit 4:0 twice/);
});

test('two correct nodes ordered different units at one position with a twin about: a fork, exit 4, naming them and the position', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await recordPlan(dir, 'twin:3');
  await addTwin(dir);
  for (const node of CORRECT) await sawFork(dir, node, [5], false);
  // node6 and node7 ordered two units the other way round: what a node that took the other version's place would log.
  for (const node of ['node6', 'node7']) {
    const file = await mainLog(dir, node);
    const lines = await readLines(file);
    const zs = lines.flatMap((l, i) => (l.includes('"E":"Z"') ? [i] : []));
    const [a, b] = [zs[40]!, zs[41]!];
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    await writeLines(file, lines);
  }
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 4, r.out);
  assert.match(
    r.err,
    /verdict: FORK: safety is broken — node1, node2, node4 and 2 more ordered \d+:\d+ and node6, node7 ordered \d+:\d+ at position #41, the first where they differ \(node3 Byzantine/,
  );
});

test('a twin and two nodes lost: 3 faulty > f = 2, the 5 correct nodes stalled agreeing: the expected stall, safety held, exit 3', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await recordPlan(dir, 'twin:3');
  await addTwin(dir);
  for (const node of ['node7', 'node8']) {
    await fs.rm(path.join(dir, node), { recursive: true });
    await fs.mkdir(path.join(dir, node));
    await fs.writeFile(
      path.join(dir, node, 'task.json'),
      JSON.stringify({ state: 'running', swarmNode: 'gl-h3', hostDown: true, uncollected: 'its host gl-h3 is down' }),
    );
  }
  for (const node of ['node1', 'node2', 'node4', 'node5', 'node6']) {
    const file = await mainLog(dir, node);
    const lines = await readLines(file);
    await writeLines(
      file,
      lines.slice(
        0,
        lines.findIndex((l) => l.includes('"Q":34,')),
      ),
    );
    await fs.rm(path.join(dir, node, 'exit_status'));
    await fs.writeFile(path.join(dir, node, 'task.json'), JSON.stringify({ state: 'running', swarmNode: 'gl-h1' }));
  }
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 3, r.out);
  assert.match(
    r.out,
    /^safety held: no two nodes that did not lie ordered different units \(by creator:height\); liveness: stalled as expected: 3 faulty > f = 2 \(node3 Byzantine \(equivocated as node3 and node3-twin, one key\); node7, node8 lost with host gl-h3\); the 5 correct nodes agree on \d+ units/m,
  );
});

test('a twin planned whose second instance left no log lied to nobody: planned, not applied, and node3 is judged as any node', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await recordPlan(dir, 'twin:3');
  await keepHalf(await mainLog(dir, 'node3'), HALVES[0]!);
  await fs.mkdir(path.join(dir, 'node3-twin'));
  await fs.writeFile(path.join(dir, 'node3-twin', 'task.json'), JSON.stringify({ state: 'failed', exitCode: 1 }));
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 0);
  assert.equal(result.outcome, 'consensus');
  assert.deepEqual(result.notApplied, [{ label: 'node3', why: 'twin planned, but node3-twin left no log' }]);
  assert.match(result.consensusLine, /; planned, not applied: node3 twin planned, but node3-twin left no log$/);
});

test('a twin folder without a fault record naming it is refused, saying why', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await addTwin(dir);
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /a second log for pid 2 \(the other: [^)]*node3[^)]*\) — the run's record \(run\.json\) names no twin of pid 2/,
  );
});
