// `gomelctl report`: figures computed on real gomel logs (test/vectors) and on
// small hand-made logs whose latency and throughput are known exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { cli, copyLogs, tempDir, VECTORS } from './helpers.js';
import {
  againstCharts,
  levelHeatmap,
  quantileBands,
  runCharts,
  type ComparedRun,
} from '../src/core/logs/report-charts.js';
import { addRunLine, median, newRunStats, quantile, runFigures, type RunNode } from '../src/core/logs/run-stats.js';
import { reportPage } from '../src/report/html.js';
import { runNames } from '../src/commands/report.js';
import { compareSetups, type RunSetup } from '../src/core/report/run-setup.js';

const LOGS = path.join(VECTORS, 'logs');
type Period = {
  fromSeconds: number;
  toSeconds: number;
  unitsPerSecond: number;
  latencyP50Ms: number;
  latencyCount: number;
};
type Faults = {
  events: string[];
  faulty: { label: string; why: string }[];
  notApplied: { label: string; why: string }[];
  delayed: { host: string }[];
  malformed: string[];
  windows: {
    event: string;
    nodes: string[];
    plannedFromSeconds: number;
    plannedUntilSeconds?: number;
    appliedFromSeconds?: number;
    appliedUntilSeconds?: number;
    appliedBy: number;
    failed: string[];
    before?: Period;
    during?: Period;
    after?: Period;
    recoverySeconds?: number;
    nodesRecoverySeconds?: Record<string, number>;
  }[];
};
type Setup = {
  images: string[];
  levelLimit: number;
  nParents: number;
  canSkipLevel: boolean;
  sync: { type: string; params: Record<string, string>; fallback: string }[];
  network: { conditions: string; nodes: string[] }[];
};
type Figures = {
  clock: { source: string; startWallSeconds: number };
  nodes: number;
  agreedUnits: number;
  orderingSeconds: number;
  unitsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; count: number };
  timingIntervalMs: { median: number; p90: number };
  levelLimitSeconds: { median: number; max: number };
  startSkewSeconds: number;
  startSkewSource: string;
  perNode: {
    label: string;
    startOffsetSeconds: number;
    startLateSeconds?: number;
    levelLimitSeconds?: number;
    reached: boolean;
    shutdown: string;
  }[];
};
type Bytes = { bytesSent: number; bytesReceived: number };
/** The part of gomel's own figures (protocol-stats) these tests read: each node's bytes by service. */
type Protocol = { perNode: ({ label: string; multicast: Bytes } & Record<'gossip' | 'fetch' | 'rmc', Bytes>)[] };
const reportJson = async (args: string[]) => {
  const r = await cli(['report', '--json', ...args]);
  assert.equal(r.code, 0, r.err);
  // stdout is the JSON alone (issue 21): it parses whole; the file written is named on stderr.
  assert.match(r.err, /^report: /m);
  return JSON.parse(r.out) as { name: string; setup: Setup; faults?: Faults; figures: Figures; protocol: Protocol }[];
};

/** A node's log: own units created every 100 ms, each ordered 500 ms later; every unit of the committee ordered in turn. */
function handMadeLog(pid: number, n: number, units: number): string {
  const lines = [
    `{"genesis":"Wed, 25 Nov 2026 12:00:0${pid} +0000","T":0,"E":"genesis"}`,
    '{"L":"1","S":0,"T":1,"E":"A"}',
  ];
  for (let h = 0; h < units; h++) lines.push(`{"L":"1","S":0,"Q":${h},"A":${n},"T":${100 * (h + 1)},"E":"D"}`);
  for (let h = 0; h < units; h++) {
    lines.push(`{"L":"1","S":1,"H":${h},"N":${n},"R":${h},"T":${100 * (h + 1) + 450},"E":"E"}`);
    for (let c = 0; c < n; c++)
      lines.push(`{"L":"1","S":3,"N":0,"C":${c},"H":${h},"T":${100 * (h + 1) + 500},"E":"Z"}`);
    lines.push(`{"L":"1","S":1,"H":${h},"T":${100 * (h + 1) + 500},"E":"W"}`);
  }
  lines.push(
    `{"L":"1","S":6,"U":1000,"V":${2000 + pid},"T":900,"E":"X"}`,
    `{"L":"1","S":8,"U":500,"V":0,"T":900,"E":"X"}`,
    '{"L":"1","M":5000000,"T":950,"E":"Y"}',
    '{"L":"1","S":0,"T":2000,"E":"B"}',
  );
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
  // The genesis lines put the nodes' starts 0, 1, 2 and 3 s after the first (the common clock's t = 0).
  assert.deepEqual(f.clock, { source: 'genesis', startWallSeconds: Date.parse('2026-11-25T12:00:00Z') / 1000 });
  assert.deepEqual(
    f.perNode.map((n) => n.startOffsetSeconds),
    [0, 1, 2, 3],
  );
  assert.equal(
    f.orderingSeconds,
    3,
    'the 40th unit is ordered at T = 1500 ms: 1.5, 2.5, 3.5 and 4.5 s on the common clock',
  );
  assert.equal(f.unitsPerSecond, 40 / 3);
  assert.deepEqual(f.latencyMs, { p50: 500, p90: 500, p99: 500, max: 500, count: 40 });
  assert.deepEqual(f.timingIntervalMs, { median: 100, p90: 100 });
  assert.deepEqual(
    f.levelLimitSeconds,
    { median: 2.5, max: 4, nodes: 4 },
    'level 9 is created at T = 1000 ms: 1, 2, 3 and 4 s on the common clock',
  );
  assert.equal(f.startSkewSeconds, 3);
  assert.equal(f.startSkewSource, 'genesis');
  // Traffic as Inside gomel counts it: the X lines carry S, so their bytes are on that service.
  const bytes = run!.protocol.perNode[1]!;
  assert.deepEqual(
    [bytes.gossip.bytesSent, bytes.gossip.bytesReceived, bytes.multicast.bytesSent, bytes.multicast.bytesReceived],
    [1000, 2001, 500, 0],
  );
  const html = await fs.readFile(path.join(dir, 'report.html'), 'utf8');
  assert.match(html, /<th>gossip written \/ read<\/th><th>multicast written \/ read<\/th>/);
  assert.equal((html.match(/<svg /g) ?? []).length, 5, 'five charts, inline');
  assert.match(html, /data-chart="Prime level per node over time"/);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'no script and nothing fetched: opens offline');
});

test('swarm-8 (real gomel on Swarm): the figures of the run', async () => {
  const [run] = await reportJson(['--logs', path.join(LOGS, 'swarm-8'), '--out', '/dev/null']);
  const f = run!.figures;
  assert.equal(f.nodes, 8);
  assert.equal(f.agreedUnits, 344);
  assert.ok(f.orderingSeconds > 5 && f.orderingSeconds < 20, `${f.orderingSeconds}`);
  assert.ok(
    f.latencyMs.count > 300 &&
      f.latencyMs.p50 > 100 &&
      f.latencyMs.p50 <= f.latencyMs.p90 &&
      f.latencyMs.p90 <= f.latencyMs.max,
  );
  assert.deepEqual(
    f.perNode.filter((n) => n.shutdown === 'crashed').map((n) => n.label),
    ['node2', 'node7', 'node8'],
  );
  assert.ok(run!.protocol.perNode.every((n) => n.gossip.bytesSent > 0 && n.multicast.bytesSent > 0));
});

test('runs compared: one column per run; a probe folder is refused', async (t) => {
  const out = path.join(await tempDir(t), 'compare.html');
  // swarm-8 as deploy logs now collects it: each node's task.json names the image it ran.
  const swarm8 = await copyLogs(t, 'swarm-8');
  const image = `127.0.0.1:5000/aleph@sha256:${'d4d83e928fb4'}${'0'.repeat(52)}`;
  for (let k = 1; k <= 8; k++)
    await fs.writeFile(path.join(swarm8, `node${k}/task.json`), JSON.stringify({ state: 'complete', image }));
  const runs = await reportJson([path.join(LOGS, 'success-4'), swarm8, '--out', out]);
  assert.deepEqual(
    runs.map((r) => [r.name, r.figures.nodes]),
    [
      ['success-4', 4],
      ['swarm-8', 8],
    ],
  );
  const html = await fs.readFile(out, 'utf8');
  assert.match(html, /<th><\/th><th>success-4<\/th><th>swarm-8<\/th>/);
  assert.deepEqual(runs[1]!.setup.images, [image]);
  assert.deepEqual(runs[0]!.setup.images, [], 'success-4 has no task.json: its image was not recorded');
  // What was run: one table, a row per run, what differs in the row and what is alike said once.
  assert.equal((html.match(/<h2>What was run/g) ?? []).length, 1);
  assert.doesNotMatch(html, /<table class="setup">/, "no run's full setup table");
  const table = html.slice(
    html.indexOf('<table class="setup-runs">'),
    html.indexOf('</table>', html.indexOf('<table class="setup-runs">')),
  );
  const rows = [...table.matchAll(/<tr>(.*?)<\/tr>/g)]
    .slice(1)
    .map((m) => [...m[1]!.matchAll(/<td>(.*?)<\/td>/g)].map((c) => c[1]));
  assert.deepEqual(rows, [
    [
      'success-4',
      '4',
      'LevelLimit 10; NParents 2; CreateDelay 0.1 s; gossip nIn=3, nOut=2, timeout=2s; fallback none; fetch not run; multicast not run',
      'none',
      'none',
      'not recorded',
      '0.00 s (genesis lines, 1 s resolution)',
    ],
    [
      'swarm-8',
      '8',
      'LevelLimit 50; NParents N (the committee size); CreateDelay 0.2 s; gossip nIn=2, nOut=1, timeout=2s; fallback none; fetch nIn=10, nOut=15, timeout=2s; fallback gossip; multicast mcType=pers, timeout=2s, retryingFallback=fetch, retryingInterval=0.2s; fallback fetch',
      'none',
      'none',
      '127.0.0.1:5000/aleph@sha256:d4d83e928fb4',
      '3.00 s (genesis lines, 1 s resolution)',
    ],
  ]);
  assert.match(
    html,
    /<p class="setup-shared">Alike in every run: CanSkipLevel <code>true<\/code>; PrimeOnly <code>true<\/code>; OrderStartLevel <code>0<\/code>; Setup <code>coin<\/code>; Txpu <code>1 \(transactions of 100 bytes per unit\)<\/code>\.<\/p>/,
  );
  assert.doesNotMatch(
    html.slice(html.indexOf('<table class="figures">')),
    /start skew/,
    'said in the What was run table',
  );
  assert.equal((html.match(/<svg /g) ?? []).length, 5, 'three against N (4 and 8 nodes), two over time');
  assert.match(html, /data-chart="Units ordered per second against N"/);
  // gomel's own figures per run, with the failing fetch service flagged in words in the page.
  assert.match(
    html,
    /<h2>Inside gomel: swarm-8<\/h2>\n<ul class="flags"><li class="marked">fetch: 0 of 178 requests completed/,
  );
  assert.match(html, /<td>fetch out \(asked\)<\/td><td>178<\/td><td>0<\/td><td>178<\/td>/);
  const probe = await tempDir(t);
  await fs.copyFile(path.join(LOGS, 'swarm-8/committee.ka'), path.join(probe, 'committee.ka'));
  await fs.mkdir(path.join(probe, 'node1'));
  await fs.writeFile(path.join(probe, 'node1/probe.txt'), 'pid 0\nresult ok\n');
  const refused = await cli(['report', '--logs', probe]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /holds probe reports, not gomel logs/);
});

test("run stats on single lines: own-unit latency needs the unit's creation; quantiles", () => {
  const s = newRunStats();
  addRunLine(s, '{"L":"1","S":1,"H":0,"T":500,"E":"W"}'); // ordered before any creation was logged: no latency
  addRunLine(s, '{"L":"1","S":0,"Q":0,"A":4,"T":100,"E":"D"}');
  addRunLine(s, '{"L":"1","S":1,"H":0,"T":700,"E":"W"}');
  addRunLine(s, 'not json {"E":"D"');
  assert.deepEqual(s.latencies, [600]);
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
  const nodes = [
    statsNode('node1', 2000, 10),
    statsNode('node2', 3000, 10),
    statsNode('node3', 4000, 10),
    statsNode('node4', 5000, 10),
    statsNode('node5', undefined, 3, { reached: false }),
  ];
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

/** swarm-8 in a temp folder, each node's started_at `offsets[k]` seconds after t0 (run.sh's record). */
async function swarm8WithStarts(
  t: { after: (fn: () => Promise<void>) => void },
  t0: number,
  offsets: number[],
): Promise<string> {
  const dir = await tempDir(t);
  await fs.cp(path.join(LOGS, 'swarm-8'), dir, { recursive: true });
  for (const [k, offset] of offsets.entries())
    await fs.writeFile(path.join(dir, `node${k + 1}/started_at`), `${(t0 + offset).toFixed(6)}\n`);
  return dir;
}

test('a started_at that is no wall clock (one node\'s "-1e300") is no start: the report is written (hostile pass 20: a stack trace)', async (t) => {
  const t0 = 1795000000.5;
  const dir = await swarm8WithStarts(t, t0, [0.75, 0, 0.25, 1.5, 0.5, 2, 0.125, 3.25]);
  await fs.writeFile(path.join(dir, 'node5/started_at'), '-1e300\n');
  const out = path.join(await tempDir(t), 'report.html');
  const [run] = await reportJson(['--logs', dir, '--out', out]);
  // As a node with no started_at: the run is timed on gomel's genesis lines.
  assert.equal(run!.figures.clock.source, 'genesis');
  assert.match(await fs.readFile(out, 'utf8'), /<html/);
});

/** An independent reading of a node's log: its lines as JSON objects. */
async function logLines(dir: string, node: number): Promise<Record<string, unknown>[]> {
  const gz = path.join(dir, `node${node}/${node - 1}.config.log.gz`);
  return gunzipSync(await fs.readFile(gz))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test("one clock for the run: t = 0 is the first started_at; LevelLimit, ordering and the charts use it, each node's offset shown", async (t) => {
  const t0 = 1795000000.5;
  const offsets = [0.75, 0, 0.25, 1.5, 0.5, 2, 0.125, 3.25];
  const dir = await swarm8WithStarts(t, t0, offsets);
  // node8 learned the common start (t0) 3.2 s after it was due: it started late. Its start_plan names
  // the node that fixed the start (node2: node1 was silent); node4's is of the format before that.
  await fs.writeFile(path.join(dir, 'node8/start_plan'), `${t0.toFixed(6)} ${(t0 + 3.2).toFixed(6)} node2\n`);
  await fs.writeFile(path.join(dir, 'node4/start_plan'), `${t0.toFixed(6)} ${(t0 + 1.5).toFixed(6)}\n`);
  const [run] = await reportJson(['--logs', dir]);
  const f = run!.figures;
  assert.deepEqual(f.clock, { source: 'started_at', startWallSeconds: t0 });
  assert.deepEqual(
    f.perNode.map((n) => n.startOffsetSeconds),
    offsets,
  );
  assert.equal(f.perNode[7]!.startLateSeconds, 3.2);
  assert.equal(f.perNode[3]!.startLateSeconds, 1.5);
  assert.equal(f.perNode[0]!.startLateSeconds, undefined);
  assert.equal(f.startSkewSeconds, 3.25);
  // Independently: each node's first prime unit at level >= 50, moved onto the common clock.
  const reach: number[] = [];
  const ordered: number[] = [];
  for (let k = 1; k <= 8; k++) {
    const lines = await logLines(dir, k);
    const d = lines.find((r) => r.E === 'D' && (r.Q as number) >= 50)!;
    reach.push(offsets[k - 1]! + (d.T as number) / 1000);
    ordered.push(offsets[k - 1]! + (lines.filter((r) => r.E === 'Z')[343]!.T as number) / 1000);
  }
  const mid = (xs: number[]) => ((s) => (s[3]! + s[4]!) / 2)([...xs].sort((a, b) => a - b));
  assert.ok(Math.abs(f.levelLimitSeconds.median - mid(reach)) < 1e-9, `${f.levelLimitSeconds.median} vs ${mid(reach)}`);
  assert.ok(Math.abs(f.levelLimitSeconds.max - Math.max(...reach)) < 1e-9);
  assert.deepEqual(
    f.perNode.map((n) => n.levelLimitSeconds!.toFixed(3)),
    reach.map((x) => x.toFixed(3)),
  );
  assert.ok(Math.abs(f.orderingSeconds - mid(ordered)) < 1e-9);
  const html = await fs.readFile(path.join(dir, 'report.html'), 'utf8');
  assert.match(html, /<th>start offset<\/th>/);
  assert.match(html, /\+3\.25 s \(learned the start 3\.20 s late\)/);
  assert.match(html, /time since the common start \(s\)/);
});

test("the common clock moves each node's chart points by its offset", () => {
  const a = statsNode('node1', 2000, 2, { startedAt: 100 });
  const b = statsNode('node2', 2000, 2, { startedAt: 101.5 });
  const figures = runFigures([a, b], 2, 2);
  // node2 started 1.5 s after node1: its level 2 comes at 3.5 s on the common clock, node1's at 2 s.
  const band = (
    runCharts([a, b], figures)[0]!.spec as { layer: { data: { values: { t: number; median?: number }[] } }[] }
  ).layer[2]!.data.values;
  const at = (t: number) => band.filter((p) => p.t <= t).pop()!.median;
  assert.equal(at(1.9), 0.5, 'node1 at level 1 (since 0.5 s), node2 not yet (its level 1 comes at 2 s)');
  assert.equal(at(2.5), 1.5, 'node1 at level 2, node2 at 1');
  assert.equal(at(3.6), 2);
});

test('what was run is in the page and the JSON: LevelLimit, NParents, CanSkipLevel, the sync services, the network conditions', async (t) => {
  const dir = await tempDir(t);
  await fs.cp(path.join(LOGS, 'swarm-8'), dir, { recursive: true });
  for (let k = 1; k <= 8; k++) {
    const line =
      k <= 4
        ? `node${k} -> us (node5 node6 node7 node8): delay=80ms, loss=1%`
        : `node${k} -> eu (node1 node2 node3 node4): delay=70ms`;
    await fs.writeFile(path.join(dir, `node${k}/network.txt`), `${line}\n`);
  }
  const [run] = await reportJson(['--logs', dir]);
  const s = run!.setup;
  assert.equal(s.levelLimit, 50);
  assert.equal(s.nParents, 8);
  assert.equal(s.canSkipLevel, true);
  assert.deepEqual(
    s.sync.map((x) => x.type),
    ['gossip', 'fetch', 'multicast'],
  );
  assert.deepEqual(s.sync[1], { type: 'fetch', params: { nIn: '10', nOut: '15', timeout: '2s' }, fallback: 'gossip' });
  assert.deepEqual(s.network, [
    { conditions: 'us (4 peers): delay=80ms, loss=1%', nodes: ['node1', 'node2', 'node3', 'node4'] },
    { conditions: 'eu (4 peers): delay=70ms', nodes: ['node5', 'node6', 'node7', 'node8'] },
  ]);
  const html = await fs.readFile(path.join(dir, 'report.html'), 'utf8');
  const setup = html.slice(
    html.indexOf('<table class="setup">'),
    html.indexOf('</table>', html.indexOf('<table class="setup">')),
  );
  for (const text of [
    'LevelLimit</th><td>50',
    'NParents</th><td>8',
    'CanSkipLevel</th><td>true',
    'fetch</th><td>nIn=10, nOut=15, timeout=2s; fallback gossip',
    'node1, node2, node3, node4</th><td>us (4 peers): delay=80ms, loss=1%',
    'image</th><td>not recorded (logs collected before deploy logs recorded it)',
  ])
    assert.ok(setup.includes(text), text);
});

test('faults in the report: windows placed on the common clock as applied, throughput and latency before, during and after, recovery after the end', async (t) => {
  const t0 = 1795000000.5;
  const offsets = [0.75, 0, 0.25, 1.5, 0.5, 2, 0.125, 3.25];
  const dir = await swarm8WithStarts(t, t0, offsets);
  const hosts = Array.from({ length: 8 }, (_, i) => `node${i + 1}`);
  const plan = {
    n: 8,
    hosts,
    events: [
      { kind: 'pause', nodes: [3], atMs: 3000, untilMs: 5000, source: 'pause:3@3s-5s' },
      {
        kind: 'partition',
        nodes: [1, 2, 5, 6],
        groups: [
          [1, 2],
          [5, 6],
        ],
        atMs: 4000,
        untilMs: 6000,
        source: 'partition:1-2|5-6@4s-6s',
      },
      { kind: 'crash', nodes: [8], atMs: 7000, source: 'crash:8@7s' },
    ],
  };
  const record = {
    events: ['pause:3@3s-5s  node3 paused', 'partition:1-2|5-6@4s-6s  no traffic', 'crash:8@7s  node8 crashed'],
    faulty: [{ node: 8, host: 'node8', why: 'crashed at 7 s', atMs: 7000 }],
    delayed: [{ node: 3, host: 'node3', why: 'paused 3 s–5 s', atMs: 3000 }],
    plan,
  };
  await fs.writeFile(path.join(dir, 'faults.json'), JSON.stringify(record));
  const log = (node: number, lines: string[]) =>
    fs.writeFile(path.join(dir, `node${node}/faults.log`), lines.map((l) => `${l}\n`).join(''));
  // node3's pause applied 0.004 s and 0.01 s after its planned moments (its started_at is t0 + 0.25).
  await log(3, [`${(t0 + 3.254).toFixed(6)} 3000 stop ok`, `${(t0 + 5.26).toFixed(6)} 5000 cont ok`]);
  await log(1, [
    `${(t0 + 4.75).toFixed(6)} 4000 drop node5 node6 ok`,
    `${(t0 + 6.75).toFixed(6)} 6000 undrop node5 node6 ok`,
  ]);
  await log(2, [
    `${(t0 + 4).toFixed(6)} 4000 drop node5 node6 ok`,
    `${(t0 + 6).toFixed(6)} 6000 undrop node5 node6 ok`,
  ]);
  await log(5, [
    `${(t0 + 4.5).toFixed(6)} 4000 drop node1 node2 failed: iptables: Resource temporarily unavailable`,
    'garbage',
  ]);
  // A folder made here, not collected: its fault evidence is used as it is only when asked (hostile pass 26).
  const [run] = await reportJson(['--trust-logs', '--logs', dir]);
  const f = run!.faults!;
  assert.deepEqual(f.events, record.events);
  // node8's crash is planned, but its faults.log has no kill line: it counts for nothing, and says so.
  assert.deepEqual(f.faulty, []);
  assert.deepEqual(f.notApplied, [{ label: 'node8', why: 'crashed at 7 s' }]);
  assert.deepEqual(f.malformed, [
    'node5 faults.log line 2: not "<wall seconds> <ms> <action> [args] ok|failed: <reason>"',
  ]);
  const [pause, partition, crash] = f.windows;
  assert.equal(pause!.event, 'pause:3@3s-5s');
  assert.deepEqual(
    [pause!.plannedFromSeconds, pause!.plannedUntilSeconds],
    [3.25, 5.25],
    "planned from node3's own start",
  );
  assert.ok(Math.abs(pause!.appliedFromSeconds! - 3.254) < 1e-6 && Math.abs(pause!.appliedUntilSeconds! - 5.26) < 1e-6);
  assert.equal(partition!.appliedBy, 2, 'node1 and node2 applied it; node5 failed, node6 logged nothing');
  assert.deepEqual(partition!.failed, ['node5: drop node1 node2 failed: iptables: Resource temporarily unavailable']);
  assert.equal(partition!.appliedFromSeconds, 4);
  assert.equal(partition!.appliedUntilSeconds, 6.75);
  assert.equal(crash!.plannedFromSeconds, 3.25 + 7, "node8's own start is 3.25 s after t0");
  // Independently: the committee orders position k when its first node does, on the common clock.
  const order: number[] = [];
  const latencies: { at: number; ms: number }[] = [];
  for (let k = 1; k <= 8; k++) {
    const lines = await logLines(dir, k);
    lines
      .filter((r) => r.E === 'Z')
      .forEach((r, i) => (order[i] = Math.min(order[i] ?? Infinity, offsets[k - 1]! + (r.T as number) / 1000)));
    const created = lines.filter((r) => r.E === 'C' || r.E === 'D').map((r) => r.T as number);
    for (const w of lines.filter((r) => r.E === 'W'))
      if (created[w.H as number] !== undefined)
        latencies.push({ at: offsets[k - 1]! + (w.T as number) / 1000, ms: (w.T as number) - created[w.H as number]! });
  }
  const rate = (a: number, b: number) => order.filter((x) => x > a && x <= b).length / (b - a);
  const p50 = (a: number, b: number) =>
    ((xs) => (xs.length % 2 ? xs[xs.length >> 1]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2))(
      latencies
        .filter((l) => l.at > a && l.at <= b)
        .map((l) => l.ms)
        .sort((x, y) => x - y),
    );
  const end = order[order.length - 1]!;
  const [from, until] = [pause!.appliedFromSeconds!, pause!.appliedUntilSeconds!];
  const len = until - from;
  const close = (a: number | undefined, b: number, what: string) =>
    assert.ok(a !== undefined && Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);
  close(pause!.before!.unitsPerSecond, rate(from - len, from), 'before');
  close(pause!.during!.unitsPerSecond, rate(from, until), 'during');
  close(pause!.after!.unitsPerSecond, rate(until, Math.min(end, until + len)), 'after');
  close(pause!.during!.latencyP50Ms, p50(from, until), 'latency during');
  close(pause!.recoverySeconds, order.find((x) => x > until)! - until, 'recovery');
  assert.ok(pause!.before!.unitsPerSecond > 0 && pause!.during!.latencyCount > 0);
  assert.deepEqual(Object.keys(pause!.nodesRecoverySeconds!), ['node3']);
  close(
    crash!.after!.unitsPerSecond,
    rate(crash!.plannedFromSeconds, Math.min(end, crash!.plannedFromSeconds + 5)),
    'after the crash',
  );
  assert.equal(crash!.during, undefined);
  // The page lists them and draws them on the time charts.
  const html = await fs.readFile(path.join(dir, 'report.html'), 'utf8');
  assert.match(html, /<h2>Faults<\/h2>/);
  assert.match(html, /partition:1-2\|5-6@4s-6s/);
  assert.match(html, /node5: drop node1 node2 failed: iptables/);
  assert.match(html, /applied by 2 of 4 nodes/);
  const level = html.slice(
    html.indexOf('data-chart="Prime level reached over time"'),
    html.indexOf('</figure>', html.indexOf('data-chart="Prime level reached over time"')),
  );
  assert.match(level, /mark-rect/, 'the windows, as rectangles');
  assert.match(level, /mark-rule/, 'the crash, as a rule');
});

test('a run without faults.json has no faults section, and says nothing of faults in the JSON', async () => {
  const [run] = await reportJson(['--logs', path.join(LOGS, 'swarm-8'), '--out', '/dev/null']);
  assert.equal(run!.faults, undefined);
});

test('charts read at 64 nodes: quantile bands over the nodes, a latency CDF with p50/p90/p99, no legend over 12 entries', () => {
  // Node k reaches level 2 at k·100 ms and orders k units.
  const nodes = Array.from({ length: 64 }, (_, k) =>
    statsNode(`node${k + 1}`, 1000 + 100 * k, k + 1, { startedAt: 50 }),
  );
  for (const n of nodes) (n.stats!.latencies.push(...[100, 200, 300, 400]), n.stats!.latencyAt.push(1, 2, 3, 4));
  const figures = runFigures(nodes, 1, 2);
  const charts = runCharts(nodes, figures);
  const json = JSON.stringify(charts.map((c) => c.spec));
  assert.doesNotMatch(json, /"color":\{"field":"node"/, 'no colour per node');
  const levels = charts[0]!.spec as { layer: { encoding: { color: { datum: string } } }[] };
  assert.deepEqual(
    levels.layer.map((l) => l.encoding.color.datum),
    ['min–max', 'p10–p90', 'median'],
  );
  const latency = charts[2]!.spec as {
    layer: { data: { values: { latency: number; fraction: number; label?: string }[] } }[];
  };
  assert.deepEqual(
    latency.layer[1]!.data.values.map((v) => v.label),
    ['p50 0.25 s', 'p90 0.40 s', 'p99 0.40 s'],
  );
  assert.equal(latency.layer[0]!.data.values.at(-1)!.fraction, 1);
  // The bands at one time, against the nodes' values computed here: at 3 s, levels are 2 for k·0.1 + 1 <= 3, else 1.
  const values = nodes.map((_, k) => (1 + 0.1 * k <= 3 ? 2 : 1)).sort((x, y) => x - y);
  const grid = [3];
  const [p] = quantileBands(
    nodes.map((n) => n.stats!.levels.map(([t, q]) => [t / 1000, q] as const)),
    grid,
  );
  assert.deepEqual(p, {
    t: 3,
    min: values[0],
    p10: values[6],
    median: (values[31]! + values[32]!) / 2,
    p90: values[57],
    max: values[63],
  });
});

test('the prime-level heatmap: one row per node, each cell the highest level reached by its end; a stuck node keeps its level', () => {
  const moving = [
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 4],
  ] as const;
  const stuck = [
    [0, 1],
    [0.5, 2],
  ] as const;
  const cells = levelHeatmap(['node1', 'node2'], [moving, stuck], 4);
  assert.equal(cells.length, 8);
  assert.deepEqual(
    cells.filter((c) => c.node === 'node1').map((c) => c.level),
    [1, 2, 3, 4],
  );
  assert.deepEqual(
    cells.filter((c) => c.node === 'node2').map((c) => c.level),
    [2, 2, 2, 2],
  );
  assert.deepEqual(
    cells.filter((c) => c.node === 'node1').map((c) => [c.from, c.to]),
    [
      [0, 0.75],
      [0.75, 1.5],
      [1.5, 2.25],
      [2.25, 3],
    ],
  );
  assert.deepEqual(levelHeatmap(['node1'], [[]], 4), [], 'no levels, no cells');
});

test('runs against N: the headline figures against committee size; against the network when N is the same; none when neither differs', () => {
  const run = (name: string, nodes: number, unitsPerSecond: number, p50: number, network = 'none') =>
    ({
      name,
      nodes: [],
      network,
      figures: {
        nodes,
        unitsPerSecond,
        latencyMs: { p50, p90: 2 * p50, p99: 3 * p50, max: 4 * p50, count: 9 },
        levelLimitSeconds: { median: nodes / 2, max: nodes, nodes },
      },
    }) as unknown as ComparedRun;
  const byN = againstCharts([run('n8', 8, 34, 700), run('n16', 16, 30, 900), run('n32', 32, 20, 1500)]);
  assert.deepEqual(
    byN.map((c) => c.title),
    ['Units ordered per second against N', 'Own-unit latency against N', 'Time to reach LevelLimit against N'],
  );
  const units = byN[0]!.spec as { data: { values: { x: number; y: number }[] }; encoding: { x: { type: string } } };
  assert.deepEqual(
    units.data.values.map((v) => [v.x, v.y]),
    [
      [8, 34],
      [16, 30],
      [32, 20],
    ],
  );
  assert.equal(units.encoding.x.type, 'quantitative');
  const latency = byN[1]!.spec as { data: { values: { x: number; y: number; series: string }[] } };
  assert.deepEqual(
    latency.data.values.filter((v) => v.x === 16).map((v) => [v.series, v.y]),
    [
      ['p50', 0.9],
      ['p90', 1.8],
    ],
  );
  const byNet = againstCharts([run('plain', 8, 34, 700), run('zones80', 8, 19, 1600, 'eu->us: delay=80ms')]);
  assert.deepEqual(
    byNet.map((c) => c.title),
    [
      'Units ordered per second against network conditions',
      'Own-unit latency against network conditions',
      'Time to reach LevelLimit against network conditions',
    ],
  );
  assert.deepEqual(againstCharts([run('a', 8, 34, 700), run('b', 8, 33, 710)]), []);
});

test('compared setups: the knobs alike in every run said once, the others per run; NParents = N is alike across N', () => {
  const setup = (over: Partial<RunSetup>): RunSetup => ({
    configFile: 'conf.json',
    levelLimit: 50,
    nParents: 8,
    canSkipLevel: true,
    primeOnly: true,
    createDelaySeconds: 0.2,
    orderStartLevel: 0,
    setup: 'coin',
    txpu: 1,
    sync: [{ type: 'gossip', params: { nIn: '2' }, fallback: '' }],
    network: [],
    images: [],
    ...over,
  });
  const compared = compareSetups([
    { setup: setup({}), nodes: 8 },
    { setup: setup({ nParents: 64, levelLimit: 20 }), nodes: 64 },
    { setup: setup({ sync: [], canSkipLevel: false }), nodes: 8 },
    { setup: undefined, nodes: 16 },
  ]);
  assert.deepEqual(compared.shared, [
    ['NParents', 'N (the committee size)'],
    ['PrimeOnly', 'true'],
    ['CreateDelay', '0.2 s'],
    ['OrderStartLevel', '0'],
    ['Setup', 'coin'],
    ['Txpu', '1 (transactions of 100 bytes per unit)'],
  ]);
  assert.deepEqual(compared.differing, [
    [
      ['CanSkipLevel', 'true'],
      ['gossip', 'nIn=2; fallback none'],
    ],
    [
      ['CanSkipLevel', 'true'],
      ['gossip', 'nIn=2; fallback none'],
    ],
    [
      ['CanSkipLevel', 'false'],
      ['gossip', 'not run'],
    ],
    undefined,
  ]);
  assert.deepEqual(compareSetups([{ setup: undefined, nodes: 4 }]), { shared: [], differing: [undefined] });
});

test("runs' names: the folder's name, and as much of the path as tells two apart", () => {
  assert.deepEqual(runNames(['runs/n8', 'runs/n16']), ['n8', 'n16']);
  assert.deepEqual(runNames(['/work/runs/lab12/logs', '/work/runs/kill16/logs', 'x/n8']), [
    'lab12/logs',
    'kill16/logs',
    'n8',
  ]);
  assert.deepEqual(runNames(['a/b/logs', 'c/b/logs']), ['a/b/logs', 'c/b/logs']);
  assert.deepEqual(runNames(['/r/logs', '/r/logs']), ['/r/logs', '/r/logs'], 'the same folder twice: its path');
});

test('a --out the page cannot go to is refused before the runs are read: one line naming it, not the logs, exit 2 as for a link', async (t) => {
  // Reading the runs and drawing the charts takes a second or more; a refused --out need not pay it.
  // The logs here do not exist: an --out checked only as the page is written fails on them first.
  // Every bad --out is a bad argument, nothing changed: exit 2, as a link or another's file is (a folder was 1: h8).
  const root = await tempDir(t);
  const missing = path.join(root, 'no-such-run');
  const fifo = path.join(root, 'pipe.html');
  execFileSync('mkfifo', [fifo]);
  const file = path.join(root, 'notes.txt');
  await fs.writeFile(file, 'mine\n');
  for (const [out, says] of [
    [root, /^gomelctl: report --out .*: is a folder — pass a file name inside it/],
    [path.join(root, 'nodir', 'r.html'), /^gomelctl: report --out .*: its folder .*nodir does not exist/],
    [fifo, /^gomelctl: report --out .*pipe\.html: is a named pipe \(FIFO\), not a file/],
    [
      path.join(file, 'r.html'),
      /^gomelctl: report --out .*notes\.txt\/r\.html: a part of the path is a file, not a folder/,
    ],
  ] as const) {
    const r = await cli(['report', '--logs', missing, '--out', out]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, says);
    assert.doesNotMatch(r.err, /no-such-run/);
  }
});

test('report of a logs folder that is not there makes nothing: exit 1 naming it (it made the folders above it, then said exit 2)', async (t) => {
  const dir = await tempDir(t);
  const missing = path.join(dir, 'x', 'y', 'z');
  for (const args of [['--logs', missing], [missing], [missing, path.join(dir, 'w')]]) {
    const r = await cli(['report', ...args]);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.err, new RegExp(`${missing.replace(/[/.]/g, '\\$&')}: no such logs folder`));
    assert.deepEqual(await fs.readdir(dir), [], `report ${args.join(' ')} made nothing`);
  }
});
