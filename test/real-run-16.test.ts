// A larger real run (issue 21): 16 gomel nodes on three Swarm hosts, vendored in
// test/vectors/real-runs/lab16 (README.md there). `gomelctl verdict` and `report --json`
// are checked against a second computation written here straight from the raw lines:
// gunzip, JSON.parse of each line, and counting. Nothing of src/ is used for it, so a
// figure the report gets wrong cannot be got wrong the same way here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { cli, REPO } from './helpers.js';
import { readRun, reportCharts } from '../src/commands/report.js';

/** A bar of the per-node traffic chart: one node's bytes on one service, one way. */
interface TrafficBar {
  node: string;
  service: string;
  direction: string;
  bytes: number;
}

const LAB16 = path.join(REPO, 'test/vectors/real-runs/lab16');
const N = 16;
const LEVEL_LIMIT = 50;

// ---------------------------------------------------------------------------
// The folder, read by hand.

type Rec = Record<string, unknown>;
interface RawNode {
  label: string;
  pid: number;
  startedAt: number;
  exitStatus: number;
  stderr: string;
  lines: Rec[];
  /** Lines that are not JSON (none in a real gomel log). */
  unparsed: number;
}

function readNodes(dir: string): RawNode[] {
  return readdirSync(dir)
    .filter((d) => /^node\d+$/.test(d))
    .map((label) => {
      const folder = path.join(dir, label);
      const logs = readdirSync(folder).filter((f) => /^\d+\.config\.log\.gz$/.test(f));
      assert.equal(logs.length, 1, `${label}: one gomel log`);
      const lines: Rec[] = [];
      let unparsed = 0;
      for (const line of gunzipSync(readFileSync(path.join(folder, logs[0]!)))
        .toString('utf8')
        .split('\n')) {
        if (line.trim() === '') continue;
        try {
          lines.push(JSON.parse(line) as Rec);
        } catch {
          unparsed++;
        }
      }
      const text = (name: string) => readFileSync(path.join(folder, name), 'utf8');
      return {
        label,
        pid: Number(logs[0]!.split('.')[0]),
        startedAt: Number(text('started_at')),
        exitStatus: Number(text('exit_status')),
        stderr: text('stderr.txt'),
        lines,
        unparsed,
      };
    })
    .sort((a, b) => a.pid - b.pid);
}

// ---------------------------------------------------------------------------
// The second computation.

const n = (r: Rec, key: string) => r[key] as number;
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const ascending = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
/** Midpoint of the two middle values for an even count. */
const medianOf = (xs: readonly number[]) => {
  const s = ascending(xs);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
/** Nearest rank: the ⌈q·n⌉-th smallest. */
const rank = (xs: readonly number[], q: number) => ascending(xs)[Math.ceil(q * xs.length) - 1]!;

type Kind = 'gossip.out' | 'gossip.in' | 'fetch.out' | 'fetch.in';
const KINDS: Kind[] = ['gossip.out', 'gossip.in', 'fetch.out', 'fetch.in'];
/** The debug line gomel logs first in each kind of session (LogLevel 0 keeps them). */
const FIRST_DEBUG: Record<string, Kind> = { M: 'gossip.out', L: 'gossip.in', Q: 'fetch.out', P: 'fetch.in' };
/** What a K line closes, by the fields it carries (gossip/protocol.go, fetch/protocol.go). */
const kindOfK = (r: Rec): Kind =>
  'F' in r ? 'gossip.out' : 'G' in r ? 'gossip.in' : 'O' in r ? 'fetch.out' : 'fetch.in';
/** A session line's key: its peer, its direction and its id ("P":p,"O":s or "P":p,"I":s). */
const sessionKey = (r: Rec) =>
  typeof r.P === 'number' && (typeof r.I === 'number' || typeof r.O === 'number')
    ? `${r.P}/${'I' in r ? `I${n(r, 'I')}` : `O${n(r, 'O')}`}`
    : undefined;
const SERVICE_BY_NUMBER: Record<number, string> = { 6: 'gossip', 7: 'fetch', 8: 'multicast' };

function countNode(node: RawNode) {
  const ev = (e: string) => node.lines.filter((r) => r.E === e);
  const created = node.lines.filter((r) => r.E === 'C' || r.E === 'D');
  const createdT = created.map((r) => n(r, 'T'));
  const primes = ev('D');
  const ordered = ev('Z');
  const latencies = ev('W').map((w) => n(w, 'T') - createdT[n(w, 'H')]!);
  const timingT = ev('E').map((r) => n(r, 'T'));
  const errors = node.lines.filter((r) => r.L === '3' && typeof r.where === 'string');
  const where = (prefix: string) => errors.filter((r) => (r.where as string).startsWith(prefix));

  // Sessions, in one pass: a J's kind is the first debug line after it with its key; a K's
  // kind is in its fields; an X line's service is that of the last K or error line of its key.
  const started: Record<Kind, number> = { 'gossip.out': 0, 'gossip.in': 0, 'fetch.out': 0, 'fetch.in': 0 };
  const completed: Record<Kind, number> = { 'gossip.out': 0, 'gossip.in': 0, 'fetch.out': 0, 'fetch.in': 0 };
  const durations: Record<Kind, number[]> = { 'gossip.out': [], 'gossip.in': [], 'fetch.out': [], 'fetch.in': [] };
  const bytes: Record<string, { sent: number; received: number }> = {};
  /** Bytes this node read on sessions with each peer, by service: what that peer delivered to it. */
  const readFrom: Record<string, number[]> = { gossip: Array(N).fill(0), fetch: Array(N).fill(0) };
  const unclassified: Rec[] = [];
  const pendingJ = new Map<string, number>();
  const openSession = new Map<string, number>();
  const lastClosed = new Map<string, string>();
  for (const r of node.lines) {
    const key = sessionKey(r);
    if (r.E === 'J' && key) pendingJ.set(key, n(r, 'T'));
    else if (r.L === '0' && key && pendingJ.has(key) && FIRST_DEBUG[r.E as string]) {
      const kind = FIRST_DEBUG[r.E as string]!;
      started[kind]++;
      openSession.set(`${kind} ${key}`, pendingJ.get(key)!);
      pendingJ.delete(key);
    } else if (r.E === 'K' && key) {
      const kind = kindOfK(r);
      completed[kind]++;
      const t0 = openSession.get(`${kind} ${key}`);
      if (t0 !== undefined) durations[kind].push(n(r, 'T') - t0);
      openSession.delete(`${kind} ${key}`);
      lastClosed.set(key, kind.split('.')[0]!);
    } else if (r.L === '3' && key && typeof r.where === 'string') lastClosed.set(key, r.where.split('.')[0]!);
    else if (r.E === 'X') {
      const service = key ? lastClosed.get(key) : SERVICE_BY_NUMBER[n(r, 'S')];
      if (!service) {
        unclassified.push(r);
        continue;
      }
      const b = (bytes[service] ??= { sent: 0, received: 0 });
      b.sent += n(r, 'U');
      b.received += n(r, 'V');
      if (key) readFrom[service]![n(r, 'P')]! += n(r, 'V');
    }
  }
  const xs = ev('X');
  return {
    unitsCreated: created.length,
    primeUnitsCreated: primes.length,
    maxLevel: Math.max(...primes.map((r) => n(r, 'Q'))),
    /** T of the first prime unit at LevelLimit. */
    levelLimitT: primes.filter((r) => n(r, 'Q') >= LEVEL_LIMIT).map((r) => n(r, 'T'))[0],
    order: ordered.map((r) => `${n(r, 'C')}:${n(r, 'H')}`),
    orderedT: ordered.map((r) => n(r, 'T')),
    ownOrdered: latencies.length,
    latencies,
    timingUnits: timingT.length,
    timingIntervals: timingT.slice(1).map((t, i) => t - timingT[i]!),
    failedCreationAttempts: ev('I').length,
    jLines: ev('J').length,
    kLines: ev('K').length,
    started,
    completed,
    durations,
    unclassifiedJ: pendingJ.size,
    failedBeforeStart: (kind: Kind) =>
      where(`${kind}.`).filter((r) => sessionKey(r) === undefined && /\.(dial|greeting)$/.test(r.where as string))
        .length,
    fetchRequestErrors: where('fetch.out.').length,
    bytesSent: sum(xs.map((r) => n(r, 'U'))),
    bytesReceived: sum(xs.map((r) => n(r, 'V'))),
    bytes,
    readFrom,
    unclassified,
    multicastSent: ev('e').length,
    multicastHandledFrom: (pid: number) => ev('g').filter((r) => r.C === pid).length,
    multicastHandled: ev('g').length,
  };
}

// ---------------------------------------------------------------------------
// The report, run once.

interface Stat {
  count: number;
  median: number;
  p90: number;
  max: number;
}
interface Session {
  attempts: number;
  started: number;
  completed: number;
  failed: number;
  failedBeforeStart: number;
  durationMs?: Stat;
}
interface ServiceFigures {
  in: Session;
  out: Session;
  bytesSent: number;
  bytesReceived: number;
}
interface Over {
  total: number;
  median: number;
  min: number;
  max: number;
}
interface ReportRun {
  name: string;
  consensus: string;
  figures: {
    nodes: number;
    agreedUnits: number;
    clock: { source: string; startWallSeconds: number };
    orderingSeconds: number;
    orderingNodes: number;
    unitsPerSecond: number;
    latencyMs: { p50: number; p90: number; p99: number; max: number; count: number };
    timingIntervalMs: { median: number; p90: number };
    levelLimitSeconds: { median: number; max: number; nodes: number };
    startSkewSeconds: number;
    perNode: {
      label: string;
      startOffsetSeconds: number;
      levelLimitSeconds: number;
      reached: boolean;
      shutdown: string;
    }[];
  };
  protocol: {
    nodes: number;
    unitsCreated: Over;
    failedCreationAttempts: Over;
    timingUnits: Over;
    gossip: ServiceFigures;
    fetch: ServiceFigures;
    rmc: ServiceFigures;
    multicast: { unitsBroadcast: number; unitsReceived: number; bytesSent: number; bytesReceived: number };
    unattributedSessions: number;
    unattributedBytes: { sent: number; received: number };
    traffic: {
      service: string;
      bytesSent: number;
      bytesReceived: number;
      deliveredPercent: number;
      unitsSent?: number;
      unitsDelivered?: number;
      perNode: { label: string; sent: number; delivered: number }[];
    }[];
    flags: string[];
    perNode: ({
      label: string;
      unitsCreated: number;
      primeUnitsCreated: number;
      failedCreationAttempts: number;
      timingUnits: number;
      multicast: { bytesSent: number; bytesReceived: number };
    } & Record<'gossip' | 'fetch' | 'rmc', ServiceFigures>)[];
  };
}

let raw: RawNode[];
let counts: ReturnType<typeof countNode>[];
let run: ReportRun;
let scratch: string;

before(async () => {
  raw = readNodes(LAB16);
  counts = raw.map(countNode);
  scratch = mkdtempSync(path.join(os.tmpdir(), 'gomelctl-test-'));
  const r = await cli(['report', '--logs', LAB16, '--json', '--out', path.join(scratch, 'r.html')]);
  assert.equal(r.code, 0, r.err);
  const runs = JSON.parse(r.out) as ReportRun[];
  assert.equal(runs.length, 1);
  run = runs[0]!;
});
after(() => rmSync(scratch, { recursive: true, force: true }));

const close = (a: number, b: number, what: string, eps = 1e-6) =>
  assert.ok(Math.abs(a - b) <= eps, `${what}: report ${a}, raw lines ${b}`);
const totalOf = (xs: readonly number[]) => ({
  total: sum(xs),
  median: medianOf(xs),
  min: Math.min(...xs),
  max: Math.max(...xs),
});

// ---------------------------------------------------------------------------

test('lab16 (real gomel, 16 nodes on Swarm): the folder holds 16 nodes, each with its whole JSON log', () => {
  assert.deepEqual(
    raw.map((x) => [x.label, x.pid]),
    Array.from({ length: N }, (_, i) => [`node${i + 1}`, i]),
  );
  const committee = readFileSync(path.join(LAB16, 'committee.ka'), 'utf8').trim().split('\n');
  assert.equal(committee.length, N, 'committee.ka: 16 members');
  assert.equal(
    (JSON.parse(readFileSync(path.join(LAB16, 'conf.json'), 'utf8')) as { LevelLimit: number }).LevelLimit,
    LEVEL_LIMIT,
  );
  for (const x of raw) {
    assert.equal(x.unparsed, 0, `${x.label}: every line is JSON`);
    assert.ok(x.lines.length > 4000, `${x.label}: ${x.lines.length} lines`);
    assert.equal(x.lines[0]!.E, 'genesis', `${x.label}: the log starts at its beginning`);
    assert.ok(Number.isFinite(x.startedAt), `${x.label}: started_at`);
  }
  assert.equal(run.name, 'lab16');
  assert.equal(run.figures.nodes, N);
  assert.equal(run.protocol.nodes, N, 'every node has a log the report read');
  assert.deepEqual(
    run.figures.perNode.map((p) => p.label),
    raw.map((x) => x.label),
  );
  assert.ok(run.figures.perNode.every((p) => p.reached));
  // Plausible for 16 nodes to level 50 on three hosts: tens of seconds, seconds of latency.
  assert.ok(run.figures.orderingSeconds > 10 && run.figures.orderingSeconds < 60, `${run.figures.orderingSeconds}`);
  assert.ok(run.figures.latencyMs.p50 > 100 && run.figures.latencyMs.p50 < 10_000, `${run.figures.latencyMs.p50}`);
});

test('lab16: consensus — the same 581 units in the same order on every node, level 50 reached by all', async () => {
  const agreed = Math.min(...counts.map((c) => c.order.length));
  for (const [i, c] of counts.entries())
    assert.deepEqual(c.order.slice(0, agreed), counts[0]!.order.slice(0, agreed), `${raw[i]!.label}: the agreed order`);
  assert.equal(agreed, 581);
  assert.equal(new Set(counts[0]!.order.slice(0, agreed)).size, agreed, 'no unit twice in the order');
  // Every ordered unit is its creator's own: the W lines over the run are the agreed units, once each.
  assert.equal(sum(counts.map((c) => c.ownOrdered)), agreed);
  for (const [pid, c] of counts.entries())
    assert.equal(
      c.ownOrdered,
      counts[0]!.order.slice(0, agreed).filter((u) => u.startsWith(`${pid}:`)).length,
      `${raw[pid]!.label}: its own units ordered (W) are its units in the agreed order`,
    );
  assert.equal(run.figures.agreedUnits, agreed);
  assert.equal(run.consensus, `consensus reached by all ${N} nodes (${agreed} units in the same order)`);

  const verdict = await cli(['verdict', '--logs', LAB16]);
  assert.equal(verdict.code, 0, verdict.err);
  assert.match(
    verdict.out,
    new RegExp(`^consensus reached by all ${N} nodes \\(${agreed} units in the same order\\)$`, 'm'),
  );
  const json = await cli(['verdict', '--logs', LAB16, '--json']);
  const v = JSON.parse(json.out) as {
    n: number;
    levelLimit: number;
    nodes: { label: string; maxLevel: number; timingRounds: number; ordered: number; agrees: boolean }[];
  };
  assert.equal(v.n, N);
  assert.equal(v.levelLimit, LEVEL_LIMIT);
  assert.deepEqual(
    v.nodes.map((x) => [x.label, x.maxLevel, x.timingRounds, x.ordered, x.agrees]),
    raw.map((x, i) => [x.label, counts[i]!.maxLevel, counts[i]!.timingUnits, counts[i]!.order.length, true]),
  );
  assert.ok(counts.every((c) => c.maxLevel === LEVEL_LIMIT && c.timingUnits === 40));

  // Crashed: the nodes whose stderr holds gomel's panic and whose exit status is 2.
  assert.deepEqual(
    run.figures.perNode.filter((p) => p.shutdown === 'crashed').map((p) => p.label),
    raw.filter((x) => x.exitStatus === 2 && /^panic: send on closed channel/m.test(x.stderr)).map((x) => x.label),
  );
  assert.equal(raw.filter((x) => x.exitStatus === 2).length, 6);
});

test('lab16: units created, prime levels, latency, ordering time and bytes agree with the raw lines', () => {
  const f = run.figures;
  // The common clock: t = 0 at the earliest started_at.
  const t0 = Math.min(...raw.map((x) => x.startedAt));
  const offset = raw.map((x) => x.startedAt - t0);
  assert.equal(f.clock.source, 'started_at');
  close(f.clock.startWallSeconds, t0, 'clock start');
  close(f.startSkewSeconds, Math.max(...offset), 'start skew');

  // Latency of own units: W's T minus the T of the C/D line of that height.
  const latencies = counts.flatMap((c) => c.latencies);
  assert.deepEqual(f.latencyMs, {
    p50: medianOf(latencies),
    p90: rank(latencies, 0.9),
    p99: rank(latencies, 0.99),
    max: Math.max(...latencies),
    count: latencies.length,
  });
  assert.equal(latencies.length, 581);
  assert.ok(latencies.every((l) => l > 0));

  // When each node had ordered the 581st unit, on the common clock; the median over 16 nodes.
  const orderedAt = counts.map((c, i) => offset[i]! + c.orderedT[f.agreedUnits - 1]! / 1000);
  close(f.orderingSeconds, medianOf(orderedAt), 'ordering seconds');
  assert.equal(f.orderingNodes, N);
  close(f.unitsPerSecond, f.agreedUnits / medianOf(orderedAt), 'units per second');

  const intervals = counts.flatMap((c) => c.timingIntervals);
  assert.deepEqual(f.timingIntervalMs, { median: medianOf(intervals), p90: rank(intervals, 0.9) });

  // Prime levels: the first prime unit at LevelLimit, per node.
  const atLimit = counts.map((c, i) => offset[i]! + c.levelLimitT! / 1000);
  assert.equal(f.levelLimitSeconds.nodes, N);
  close(f.levelLimitSeconds.median, medianOf(atLimit), 'LevelLimit median');
  close(f.levelLimitSeconds.max, Math.max(...atLimit), 'LevelLimit max');

  for (const [i, p] of f.perNode.entries()) {
    const c = counts[i]!;
    const m = `${p.label}: `;
    close(p.startOffsetSeconds, offset[i]!, m + 'start offset');
    close(p.levelLimitSeconds, atLimit[i]!, m + 'at LevelLimit');
    const q = run.protocol.perNode[i]!;
    assert.equal(q.label, p.label);
    assert.equal(q.unitsCreated, c.unitsCreated, m + 'units created (C + D lines)');
    assert.equal(q.primeUnitsCreated, c.primeUnitsCreated, m + 'prime units (D lines)');
  }
  assert.equal(sum(counts.map((c) => c.bytesSent)), 16_219_261);
  assert.equal(sum(counts.map((c) => c.bytesReceived)), 12_244_759);
});

test('lab16: protocol figures — creation, timing units, sessions started and completed, their durations', () => {
  const p = run.protocol;
  const unitsCreated = counts.map((c) => c.unitsCreated);
  assert.deepEqual(p.unitsCreated, totalOf(unitsCreated));
  assert.equal(p.unitsCreated.total, 763);
  assert.deepEqual(p.failedCreationAttempts, totalOf(counts.map((c) => c.failedCreationAttempts)));
  assert.equal(p.failedCreationAttempts.total, 1222, 'I lines');
  assert.deepEqual(p.timingUnits, totalOf(counts.map((c) => c.timingUnits)));
  assert.equal(p.timingUnits.total, 640, 'E lines: 40 on each node');

  // Sessions: every J was given a kind by its first debug line, every K by its fields.
  assert.ok(counts.every((c) => c.unclassifiedJ === 0));
  const jLines = sum(counts.map((c) => c.jLines));
  const kLines = sum(counts.map((c) => c.kLines));
  assert.deepEqual([jLines, kLines], [10_222, 6475]);
  const services = ['gossip', 'fetch', 'rmc'] as const;
  const sides = ['in', 'out'] as const;
  const over = (f: (s: Session) => number) => sum(services.flatMap((sv) => sides.map((sd) => f(p[sv][sd]))));
  assert.equal(
    over((s) => s.started),
    jLines,
    'sessions started over services: the J lines',
  );
  assert.equal(
    over((s) => s.completed),
    kLines,
    'sessions completed over services: the K lines',
  );
  assert.equal(p.unattributedSessions, 0);
  for (const [i, q] of p.perNode.entries()) {
    const c = counts[i]!;
    const m = `${q.label}: `;
    assert.equal(q.failedCreationAttempts, c.failedCreationAttempts, m + 'failed creation attempts');
    assert.equal(q.timingUnits, c.timingUnits, m + 'timing units');
    for (const kind of KINDS) {
      const [service, side] = kind.split('.') as ['gossip' | 'fetch', 'in' | 'out'];
      assert.equal(q[service][side].started, c.started[kind], `${m}${kind} started`);
      assert.equal(q[service][side].completed, c.completed[kind], `${m}${kind} completed`);
      assert.equal(q[service][side].failedBeforeStart, c.failedBeforeStart(kind), `${m}${kind} failed before start`);
    }
  }
  for (const kind of KINDS) {
    const [service, side] = kind.split('.') as ['gossip' | 'fetch', 'in' | 'out'];
    const s = p[service][side];
    assert.equal(s.started, sum(counts.map((c) => c.started[kind])), `${kind} started`);
    assert.equal(s.completed, sum(counts.map((c) => c.completed[kind])), `${kind} completed`);
    const d = counts.flatMap((c) => c.durations[kind]);
    assert.equal(d.length, s.completed, `${kind}: every K found its J`);
    if (d.length) {
      assert.equal(s.durationMs!.count, d.length);
      assert.equal(s.durationMs!.median, medianOf(d), `${kind} duration median`);
      assert.equal(s.durationMs!.p90, rank(d, 0.9), `${kind} duration p90`);
      assert.equal(s.durationMs!.max, Math.max(...d), `${kind} duration max`);
    } else assert.equal(s.durationMs, undefined);
  }
  assert.deepEqual(
    KINDS.map((k) => [k, sum(counts.map((c) => c.started[k])), sum(counts.map((c) => c.completed[k]))]),
    [
      ['gossip.out', 1513, 1420],
      ['gossip.in', 1436, 1420],
      ['fetch.out', 3638, 0],
      ['fetch.in', 3635, 3635],
    ],
  );
});

test('lab16: delivered traffic — bytes per service, what peers read of each node, multicast units, the fetch flags', () => {
  const p = run.protocol;
  assert.ok(
    counts.every((c) => c.unclassified.length === 0),
    'every X line has a service',
  );
  const traffic = (service: string) => p.traffic.find((t) => t.service === service)!;
  const total = (service: string, side: 'sent' | 'received') => sum(counts.map((c) => c.bytes[service]?.[side] ?? 0));
  for (const service of ['gossip', 'fetch', 'multicast'] as const) {
    const t = traffic(service);
    assert.equal(t.bytesSent, total(service, 'sent'), `${service} bytes sent`);
    assert.equal(t.bytesReceived, total(service, 'received'), `${service} bytes read by peers`);
    assert.equal(p[service].bytesSent, t.bytesSent);
    assert.equal(p[service].bytesReceived, t.bytesReceived);
    close(
      t.deliveredPercent,
      (100 * total(service, 'received')) / total(service, 'sent'),
      `${service} delivered %`,
      1e-9,
    );
  }
  // Bytes read by peers: V over all X lines is the received bytes summed over the services.
  assert.equal(sum(p.traffic.map((t) => t.bytesReceived)), sum(counts.map((c) => c.bytesReceived)));
  assert.equal(sum(p.traffic.map((t) => t.bytesSent)), sum(counts.map((c) => c.bytesSent)));
  assert.deepEqual(p.unattributedBytes, { sent: 0, received: 0 });

  // Per node: what it sent on a service, and what the other 15 read on their sessions with it.
  for (const service of ['gossip', 'fetch'] as const)
    assert.deepEqual(
      traffic(service).perNode.map((x) => [x.label, x.sent, x.delivered]),
      raw.map((x, i) => [
        x.label,
        counts[i]!.bytes[service]?.sent ?? 0,
        sum(counts.map((c, j) => (j === i ? 0 : c.readFrom[service]![i]!))),
      ]),
      `${service} per node`,
    );
  // Multicast in units: e lines sent; delivered, the g lines at the others naming the node as creator.
  const mc = traffic('multicast');
  assert.equal(mc.unitsSent, sum(counts.map((c) => c.multicastSent)));
  assert.equal(mc.unitsDelivered, sum(counts.map((c) => c.multicastHandled)));
  assert.deepEqual(
    mc.perNode.map((x) => [x.label, x.sent, x.delivered]),
    raw.map((x, i) => [
      x.label,
      counts[i]!.multicastSent,
      sum(counts.map((c, j) => (j === i ? 0 : c.multicastHandledFrom(i)))),
    ]),
  );
  assert.deepEqual([mc.unitsSent, mc.unitsDelivered], [11_160, 11_135]);

  // Fetch failed in this run: no requester's K, every request ended in a fetch.out error.
  const requests = sum(counts.map((c) => c.fetchRequestErrors));
  assert.equal(sum(counts.map((c) => c.completed['fetch.out'])), 0);
  assert.equal(p.fetch.out.attempts, requests);
  assert.equal(requests, 3644);
  const [first, second, ...rest] = p.flags;
  assert.equal(
    first,
    `fetch: 0 of ${requests} requests completed (0.00 %) — gomel's fetch server does not flush its reply, so requesters read EOF`,
  );
  const m =
    /^fetch: ([\d.]+) MB counted as sent, ([\d.]+) MB read by peers \(([\d.]+) %\) \(replies written but never flushed\)$/.exec(
      second ?? '',
    );
  assert.ok(m, `second flag: ${second}`);
  const sent = total('fetch', 'sent');
  const read = total('fetch', 'received');
  close(Number(m[1]), sent / 1e6, 'fetch MB sent', 0.05);
  close(Number(m[2]), read / 1e6, 'fetch MB read', 0.05);
  close(Number(m[3]), (100 * read) / sent, 'fetch delivered %', 0.05);
  assert.deepEqual(rest, [], 'gossip and multicast delivered: no flag for them');
  assert.ok(traffic('gossip').deliveredPercent > 90 && traffic('multicast').deliveredPercent > 90);
});

test('lab16: the per-node traffic chart draws the bytes Inside gomel counts — per node, service and direction, as in the raw lines', async () => {
  // The chart as the page draws it, from the run as `report` reads it.
  const reported = await readRun(LAB16, { logs: LAB16, configs: 'configs', keys: 'keys' });
  const chart = reportCharts([reported]).find((c) => c.title === 'Traffic per node')!;
  const bars = (chart.spec as { data: { values: TrafficBar[] } }).data.values;
  // The chart sums its bars per node, service and direction (aggregate: sum): so does this.
  const at = (node: string, service: string, direction: string) =>
    sum(bars.filter((b) => b.node === node && b.service === service && b.direction === direction).map((b) => b.bytes));
  const services = ['gossip', 'fetch', 'multicast'] as const;
  for (const [i, q] of run.protocol.perNode.entries()) {
    const c = counts[i]!;
    const m = `${q.label}: `;
    for (const service of services) {
      // Inside gomel's per-node figures (protocol.perNode) and the raw lines' attribution, both.
      const p = service === 'multicast' ? q.multicast : q[service];
      assert.equal(at(q.label, service, 'written'), p.bytesSent, `${m}${service} written, as Inside gomel`);
      assert.equal(at(q.label, service, 'read'), p.bytesReceived, `${m}${service} read, as Inside gomel`);
      assert.equal(at(q.label, service, 'written'), c.bytes[service]?.sent ?? 0, `${m}${service} written (raw lines)`);
      assert.equal(at(q.label, service, 'read'), c.bytes[service]?.received ?? 0, `${m}${service} read (raw lines)`);
    }
    const nodeTotal = (direction: string) =>
      sum(bars.filter((b) => b.node === q.label && b.direction === direction).map((b) => b.bytes));
    assert.equal(
      nodeTotal('written'),
      sum(services.map((s) => (s === 'multicast' ? q.multicast : q[s]).bytesSent)),
      m + 'total written',
    );
    assert.equal(
      nodeTotal('read'),
      sum(services.map((s) => (s === 'multicast' ? q.multicast : q[s]).bytesReceived)),
      m + 'total read',
    );
    // Every X line of the node counted once: U and V over all of them.
    assert.equal(nodeTotal('written'), c.bytesSent, m + 'written: U over its X lines');
    assert.equal(nodeTotal('read'), c.bytesReceived, m + 'read: V over its X lines');
  }
  // Over the run: the chart's bars add up to the Inside gomel traffic table, service by service.
  for (const t of run.protocol.traffic) {
    assert.equal(
      sum(bars.filter((b) => b.service === t.service && b.direction === 'written').map((b) => b.bytes)),
      t.bytesSent,
      `${t.service} written`,
    );
    assert.equal(
      sum(bars.filter((b) => b.service === t.service && b.direction === 'read').map((b) => b.bytes)),
      t.bytesReceived,
      `${t.service} read by the peers`,
    );
  }
  assert.deepEqual(
    new Set(bars.map((b) => b.service)),
    new Set(run.protocol.traffic.map((t) => t.service)),
    'the services of the Inside gomel table, and no other group',
  );
});
