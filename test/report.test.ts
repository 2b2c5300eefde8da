// `gomelctl report`: figures computed on real gomel logs (test/vectors) and on
// small hand-made logs whose latency and throughput are known exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, tempDir, VECTORS } from './helpers.js';
import { addRunLine, median, newRunStats, quantile, runFigures, type RunNode } from '../src/core/logs/run-stats.js';
import { reportPage } from '../src/report/html.js';

const LOGS = path.join(VECTORS, 'logs');
type Figures = { nodes: number; agreedUnits: number; orderingSeconds: number; unitsPerSecond: number; latencyMs: { p50: number; p90: number; p99: number; max: number; count: number }; timingIntervalMs: { median: number; p90: number }; levelLimitSeconds: { median: number; max: number }; startSkewSeconds: number; startSkewSource: string; perNode: { label: string; reached: boolean; shutdown: string; bytesSent: number; bytesReceived: number; traffic: Record<string, { sent: number; received: number }> }[] };
const reportJson = async (args: string[]) => {
  const r = await cli(['report', '--json', ...args]);
  assert.equal(r.code, 0, r.err);
  // stdout is the JSON alone (issue 21): it parses whole; the file written is named on stderr.
  assert.match(r.err, /^report: /m);
  return JSON.parse(r.out) as { name: string; figures: Figures }[];
};

/** A node's log: own units created every 100 ms, each ordered 500 ms later; every unit of the committee ordered in turn. */
function handMadeLog(pid: number, n: number, units: number): string {
  const lines = [`{"genesis":"Wed, 25 Nov 2026 12:00:0${pid} +0000","T":0,"E":"genesis"}`, '{"L":"1","S":0,"T":1,"E":"A"}'];
  for (let h = 0; h < units; h++) lines.push(`{"L":"1","S":0,"Q":${h},"A":${n},"T":${100 * (h + 1)},"E":"D"}`);
  for (let h = 0; h < units; h++) {
    lines.push(`{"L":"1","S":1,"H":${h},"N":${n},"R":${h},"T":${100 * (h + 1) + 450},"E":"E"}`);
    for (let c = 0; c < n; c++) lines.push(`{"L":"1","S":3,"N":0,"C":${c},"H":${h},"T":${100 * (h + 1) + 500},"E":"Z"}`);
    lines.push(`{"L":"1","S":1,"H":${h},"T":${100 * (h + 1) + 500},"E":"W"}`);
  }
  lines.push(`{"L":"1","S":6,"U":1000,"V":${2000 + pid},"T":900,"E":"X"}`, `{"L":"1","S":8,"U":500,"V":0,"T":900,"E":"X"}`, '{"L":"1","M":5000000,"T":950,"E":"Y"}', '{"L":"1","S":0,"T":2000,"E":"B"}');
  return `${lines.join('\n')}\n`;
}

test('hand-made logs: latency, throughput, timing rounds, LevelLimit, skew and traffic are exact', async (t) => {
  const dir = await tempDir(t);
  await fs.copyFile(path.join(LOGS, 'success-4/committee.ka'), path.join(dir, 'committee.ka'));
  const conf = JSON.parse(await fs.readFile(path.join(LOGS, 'success-4/conf.json'), 'utf8')) as { LevelLimit: number };
  conf.LevelLimit = 9;
  await fs.writeFile(path.join(dir, 'conf.json'), JSON.stringify(conf));
  for (let pid = 0; pid < 4; pid++) await fs.writeFile(path.join(dir, `${pid}.log`), handMadeLog(pid, 4, 10));
  const [run] = await reportJson(['--logs', dir]);
  const f = run!.figures;
  assert.equal(f.agreedUnits, 40);
  assert.equal(f.orderingSeconds, 1.5, 'the 40th unit is ordered at T = 1500 ms');
  assert.equal(f.unitsPerSecond, 40 / 1.5);
  assert.deepEqual(f.latencyMs, { p50: 500, p90: 500, p99: 500, max: 500, count: 40 });
  assert.deepEqual(f.timingIntervalMs, { median: 100, p90: 100 });
  assert.deepEqual(f.levelLimitSeconds, { median: 1, max: 1, nodes: 4 }, 'level 9 is created at T = 1000 ms');
  assert.equal(f.startSkewSeconds, 3);
  assert.equal(f.startSkewSource, 'genesis');
  assert.deepEqual(f.perNode[1]!.traffic, { gossip: { sent: 1000, received: 2001 }, multicast: { sent: 500, received: 0 } });
  assert.equal(f.perNode[1]!.bytesReceived, 2001);
  const html = await fs.readFile(path.join(dir, 'report.html'), 'utf8');
  assert.equal((html.match(/<svg /g) ?? []).length, 4, 'four charts, inline');
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'no script and nothing fetched: opens offline');
});

test('swarm-8 (real gomel on Swarm): the figures of the run', async () => {
  const [run] = await reportJson(['--logs', path.join(LOGS, 'swarm-8'), '--out', '/dev/null']);
  const f = run!.figures;
  assert.equal(f.nodes, 8);
  assert.equal(f.agreedUnits, 344);
  assert.ok(f.orderingSeconds > 5 && f.orderingSeconds < 20, `${f.orderingSeconds}`);
  assert.ok(f.latencyMs.count > 300 && f.latencyMs.p50 > 100 && f.latencyMs.p50 <= f.latencyMs.p90 && f.latencyMs.p90 <= f.latencyMs.max);
  assert.deepEqual(f.perNode.filter((n) => n.shutdown === 'crashed').map((n) => n.label), ['node2', 'node7', 'node8']);
  assert.ok(f.perNode.every((n) => n.bytesSent > 0 && Object.keys(n.traffic).includes('gossip')));
});

test('runs compared: one column per run; a probe folder is refused', async (t) => {
  const out = path.join(await tempDir(t), 'compare.html');
  const runs = await reportJson([path.join(LOGS, 'success-4'), path.join(LOGS, 'swarm-8'), '--out', out]);
  assert.deepEqual(runs.map((r) => [r.name, r.figures.nodes]), [['success-4', 4], ['swarm-8', 8]]);
  const html = await fs.readFile(out, 'utf8');
  assert.match(html, /<th><\/th><th>success-4<\/th><th>swarm-8<\/th>/);
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  const probe = await tempDir(t);
  await fs.copyFile(path.join(LOGS, 'swarm-8/committee.ka'), path.join(probe, 'committee.ka'));
  await fs.mkdir(path.join(probe, 'node1'));
  await fs.writeFile(path.join(probe, 'node1/probe.txt'), 'pid 0\nresult ok\n');
  const refused = await cli(['report', '--logs', probe]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /holds probe reports, not gomel logs/);
});

test('run stats on single lines: own-unit latency needs the unit\'s creation; quantiles', () => {
  const s = newRunStats();
  addRunLine(s, '{"L":"1","S":1,"H":0,"T":500,"E":"W"}'); // ordered before any creation was logged: no latency
  addRunLine(s, '{"L":"1","S":0,"Q":0,"A":4,"T":100,"E":"D"}');
  addRunLine(s, '{"L":"1","S":1,"H":0,"T":700,"E":"W"}');
  addRunLine(s, '{"L":"1","S":99,"U":3,"V":4,"T":9,"E":"X"}');
  addRunLine(s, 'not json {"E":"D"');
  assert.deepEqual(s.latencies, [600]);
  assert.deepEqual(Object.fromEntries(s.traffic), { 'service 99': { sent: 3, received: 4 } });
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2);
  assert.equal(quantile([1, 2, 3, 4], 0.99), 4);
  assert.equal(quantile([], 0.5), undefined);
  assert.equal(median([4, 1, 3, 2]), 2.5, 'an even count: the midpoint of the two middle values');
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([]), undefined);
});

/** A node that creates a prime unit of level 1 at 0.5 s and of level 2 at `level2Ms` (if given), and orders `units` units at 100 ms each. */
function statsNode(label: string, level2Ms: number | undefined, units: number, extra: Partial<RunNode> = {}): RunNode {
  const s = newRunStats();
  addRunLine(s, '{"Q":1,"T":500,"E":"D"}');
  if (level2Ms !== undefined) addRunLine(s, `{"Q":2,"T":${level2Ms},"E":"D"}`);
  for (let k = 0; k < units; k++) addRunLine(s, `{"C":0,"H":${k},"T":${100 * (k + 1)},"E":"Z"}`);
  return { label, stats: s, reached: true, shutdown: 'clean', startedAt: undefined, ...extra };
}

test('medians of an even count are midpoints; a figure over fewer nodes than N says so', () => {
  // LevelLimit 2 is reached by 4 of 5 nodes, at 2, 3, 4 and 5 s: median 3.5 s (not 3).
  const nodes = [statsNode('node1', 2000, 10), statsNode('node2', 3000, 10), statsNode('node3', 4000, 10), statsNode('node4', 5000, 10), statsNode('node5', undefined, 3, { reached: false })];
  for (const [i, n] of nodes.slice(0, 4).entries()) n.stats!.latencies.push(100 * (i + 1));
  const f = runFigures(nodes, 10, 2);
  assert.deepEqual(f.levelLimitSeconds, { median: 3.5, max: 5, nodes: 4 });
  assert.equal(f.orderingSeconds, 1);
  assert.equal(f.orderingNodes, 4, 'node5 did not reach consensus');
  assert.equal(f.latencyMs!.p50, 250, 'four latencies: the midpoint of 200 and 300');
  const html = reportPage('t', [{ name: 'r', consensusLine: '', shutdownLine: '', figures: f }], []);
  assert.match(html, /time to reach LevelLimit median \/ max<\/th><td>3\.50 \/ 5\.00 s \(4 of 5 nodes\)</);
  assert.match(html, /time to order them \(median node\)<\/th><td>1\.00 s \(4 of 5 nodes\)</);
});
