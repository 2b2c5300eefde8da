// gomel's protocol figures and honest traffic (src/core/logs/protocol-stats.ts),
// checked two ways: on the vendored real swarm-8 run against a second, grep-like
// computation written here from the raw lines, and on small hand-made logs
// whose every figure is worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import {
  addProtocolLine,
  flatProtocolFigures,
  mergeProtocolStats,
  newProtocolStats,
  protocolFigures,
  summarize,
  type ProtocolStats,
  type RunProtocolFigures,
} from '../src/core/logs/protocol-stats.js';

// Not helpers.js: that one loads the whole CLI, and this test needs only the files.
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SWARM8 = path.join(REPO, 'test/vectors/gomel-2019-09/logs/swarm-8');

/** node<k>/<k−1>.config.log.gz, as deploy logs collected them: label, pid, raw text. */
function swarmLogs(dir: string): { label: string; pid: number; text: string }[] {
  return readdirSync(dir)
    .filter((d) => /^node\d+$/.test(d))
    .map((d) => {
      const pid = Number(d.slice(4)) - 1;
      return {
        label: d,
        pid,
        text: gunzipSync(readFileSync(path.join(dir, d, `${pid}.config.log.gz`))).toString('utf8'),
      };
    })
    .sort((a, b) => a.pid - b.pid);
}

function feed(text: string): ProtocolStats {
  const s = newProtocolStats();
  for (const line of text.split('\n')) addProtocolLine(s, line);
  return s;
}

// ---------------------------------------------------------------------------
// The second computation: substring tests and regexes on the raw text, no JSON,
// no session state machine. Sessions are found by their text prefix "P":p,"O":s,.

const is = (line: string, event: string) => line.includes(`"E":"${event}"`);
const field = (line: string, key: string) => {
  const m = new RegExp(`"${key}":(\\d+)`).exec(line);
  return m ? Number(m[1]) : undefined;
};
const prefixOf = (line: string) => /"P":\d+,"[IO]":\d+,/.exec(line)?.[0];
const sortedMedian = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const nearestRank = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.ceil(q * xs.length) - 1]!;

type Kind = 'gossip.out' | 'gossip.in' | 'fetch.out' | 'fetch.in';
/** What a K line's fields say it closes (gossip/protocol.go:140,267; fetch/protocol.go:46,86). */
const kindOfK = (line: string): Kind =>
  line.includes('"F":')
    ? 'gossip.out'
    : line.includes('"G":')
      ? 'gossip.in'
      : line.includes('"O":')
        ? 'fetch.out'
        : 'fetch.in';

function grepFigures(text: string) {
  const lines = text.split('\n').filter((l) => l.trim());
  const created = lines.filter((l) => is(l, 'C') || is(l, 'D'));
  const parents = created.map((l) => field(l, 'A')!);
  const createdAt = created.map((l) => field(l, 'T')!);
  const timing = lines.filter((l) => is(l, 'E'));
  // A session's kind: the first debug line after its J with the same prefix (M, L, Q, P).
  const firstDebugKind: Record<string, Kind> = { M: 'gossip.out', L: 'gossip.in', Q: 'fetch.out', P: 'fetch.in' };
  const jKind = new Map<number, Kind>();
  lines.forEach((l, i) => {
    if (!is(l, 'J')) return;
    const p = prefixOf(l)!;
    const next = lines.slice(i + 1).find((x) => x.startsWith('{"L":"0",') && x.includes(p));
    const e = next && /"E":"(.)"/.exec(next)?.[1];
    if (e && firstDebugKind[e]) jKind.set(i, firstDebugKind[e]);
  });
  const count = (f: (l: string) => boolean) => lines.filter(f).length;
  const started: Record<Kind, number> = { 'gossip.out': 0, 'gossip.in': 0, 'fetch.out': 0, 'fetch.in': 0 };
  for (const k of jKind.values()) started[k]++;
  const completed: Record<Kind, number> = { 'gossip.out': 0, 'gossip.in': 0, 'fetch.out': 0, 'fetch.in': 0 };
  const durations: Record<Kind, number[]> = { 'gossip.out': [], 'gossip.in': [], 'fetch.out': [], 'fetch.in': [] };
  lines.forEach((l, i) => {
    if (!is(l, 'K')) return;
    const kind = kindOfK(l);
    completed[kind]++;
    // Its J: the latest one before it with the same prefix and the same kind.
    for (let j = i - 1; j >= 0; j--)
      if (is(lines[j]!, 'J') && lines[j]!.includes(prefixOf(l)!) && jKind.get(j) === kind) {
        durations[kind].push(field(l, 'T')! - field(lines[j]!, 'T')!);
        break;
      }
  });
  const sessionErrors = (kind: Kind) =>
    count((l) => l.includes('"L":"3"') && prefixOf(l) !== undefined && l.includes(`"where":"${kind}.`));
  const beforeStart = (kind: Kind) =>
    count(
      (l) =>
        l.includes('"L":"3"') &&
        prefixOf(l) === undefined &&
        new RegExp(`"where":"${kind.replace('.', '\\.')}\\.(dial|greeting)"`).test(l),
    );
  // Bytes of a session's X line: the kind of the nearest earlier K or error line with its prefix.
  const bytes: Record<string, { sent: number; received: number }> = {};
  const addBytes = (name: string, l: string) => {
    const b = (bytes[name] ??= { sent: 0, received: 0 });
    b.sent += field(l, 'U') ?? 0;
    b.received += field(l, 'V') ?? 0;
  };
  lines.forEach((l, i) => {
    if (!is(l, 'X')) return;
    const p = prefixOf(l);
    if (!p)
      return addBytes(
        ({ 6: 'gossip', 7: 'fetch', 8: 'multicast' } as Record<number, string>)[field(l, 'S') ?? -1] ?? 'none',
        l,
      );
    for (let j = i - 1; j >= 0; j--) {
      const x = lines[j]!;
      if (!x.includes(p)) continue;
      if (is(x, 'K')) return addBytes(kindOfK(x).split('.')[0]!, l);
      const where = /"where":"(\w+)\./.exec(x)?.[1];
      if (x.includes('"L":"3"') && where) return addBytes(where, l);
    }
    addBytes('none', l);
  });
  return {
    unitsCreated: created.length,
    parentsMean: parents.reduce((a, b) => a + b, 0) / parents.length,
    intervals: createdAt.slice(1).map((t, i) => t - createdAt[i]!),
    failedCreationAttempts: count((l) => is(l, 'I')),
    decisionDepths: timing.map((l) => field(l, 'H')! - field(l, 'R')!),
    started,
    completed,
    durations,
    sessionErrors,
    beforeStart,
    bytes,
    allBytes: lines.filter((l) => is(l, 'X')).reduce((a, l) => a + (field(l, 'U') ?? 0) + (field(l, 'V') ?? 0), 0),
    closedBeforeSession: (service: number) =>
      count((l) => is(l, 'X') && l.includes(`"S":${service},`) && !l.includes('"P":')),
    sessionDuplicatesIn: count((l) => is(l, 'V') && l.includes('"I":')),
    sessionDuplicatesOut: count((l) => is(l, 'V') && l.includes('"O":')),
    multicast: {
      sent: count((l) => is(l, 'e')),
      handled: count((l) => is(l, 'g')),
      duplicates: count((l) => is(l, 'V') && !l.includes('"P":') && !l.includes('"S":')),
      unknownParents: count((l) => is(l, 'f') && !l.includes('"P":') && !l.includes('"S":')),
      sendFailed: count((l) => l.includes('"where":"multicast.out.')),
      fromCreator: (pid: number) => count((l) => is(l, 'g') && l.includes(`"C":${pid},`)),
    },
  };
}

test('swarm-8 (real gomel, 8 nodes): every node figure agrees with a grep-like count of its raw lines', () => {
  const logs = swarmLogs(SWARM8);
  assert.equal(logs.length, 8);
  for (const { label, text } of logs) {
    const g = grepFigures(text);
    const f = protocolFigures(feed(text));
    const m = `${label}: `;
    assert.equal(f.unitsCreated, g.unitsCreated, m + 'units created');
    assert.ok(Math.abs(f.parentsPerUnit!.mean - g.parentsMean) < 1e-9, m + 'parents per unit');
    assert.equal(f.creationIntervalMs!.count, g.intervals.length);
    assert.equal(f.creationIntervalMs!.median, sortedMedian(g.intervals), m + 'creation interval median');
    assert.equal(f.creationIntervalMs!.p90, nearestRank(g.intervals, 0.9), m + 'creation interval p90');
    assert.equal(f.failedCreationAttempts, g.failedCreationAttempts, m + 'failed creation attempts');
    assert.equal(f.timingUnits, g.decisionDepths.length);
    assert.ok(
      Math.abs(f.decisionDepth!.mean - g.decisionDepths.reduce((a, b) => a + b, 0) / g.decisionDepths.length) < 1e-9,
      m + 'decision depth',
    );
    for (const kind of ['gossip.out', 'gossip.in', 'fetch.out', 'fetch.in'] as const) {
      const [service, side] = kind.split('.') as ['gossip' | 'fetch', 'in' | 'out'];
      const s = f[service][side];
      assert.equal(s.started, g.started[kind], `${m}${kind} started`);
      assert.equal(s.completed, g.completed[kind], `${m}${kind} completed`);
      assert.equal(s.failedBeforeStart, g.beforeStart(kind), `${m}${kind} failed before start`);
      // In this run every failed session logs exactly one error, and none is left open but gossip's last on node2.
      assert.equal(s.failed - s.failedBeforeStart, g.sessionErrors(kind), `${m}${kind} failed`);
      assert.equal(s.attempts, s.completed + s.failed + s.unfinished, `${m}${kind} attempts add up`);
      if (g.durations[kind].length) {
        assert.equal(s.durationMs!.median, sortedMedian(g.durations[kind]), `${m}${kind} duration median`);
        assert.equal(s.durationMs!.p90, nearestRank(g.durations[kind], 0.9), `${m}${kind} duration p90`);
      } else assert.equal(s.durationMs, undefined);
    }
    assert.equal(
      f.gossip.in.duplicates + f.fetch.in.duplicates,
      g.sessionDuplicatesIn,
      m + 'duplicates in incoming sessions',
    );
    assert.equal(
      f.gossip.out.duplicates + f.fetch.out.duplicates,
      g.sessionDuplicatesOut,
      m + 'duplicates in outgoing sessions',
    );
    // Bytes: all of them land on a service, and on the same one the second computation finds.
    assert.deepEqual(f.unattributedBytes, { sent: 0, received: 0 });
    assert.equal(g.bytes.none, undefined, m + 'every X line found its service');
    for (const service of ['gossip', 'fetch', 'multicast'] as const) {
      assert.equal(f[service].bytesSent, g.bytes[service]?.sent ?? 0, `${m}${service} bytes sent`);
      assert.equal(f[service].bytesReceived, g.bytes[service]?.received ?? 0, `${m}${service} bytes received`);
    }
    assert.equal(
      f.gossip.bytesSent +
        f.gossip.bytesReceived +
        f.fetch.bytesSent +
        f.fetch.bytesReceived +
        f.multicast.bytesSent +
        f.multicast.bytesReceived,
      g.allBytes,
    );
    assert.equal(f.multicast.unitsBroadcast, g.multicast.sent, m + 'multicast units sent');
    assert.equal(f.multicast.unitsReceived, g.multicast.handled);
    assert.equal(f.multicast.unitsAdded, g.multicast.handled - g.multicast.duplicates - g.multicast.unknownParents);
    assert.equal(f.multicast.broadcastFailed, g.multicast.sendFailed);
    assert.equal(
      f.gossip.closedBeforeSession,
      g.closedBeforeSession(6),
      m + 'gossip connections closed before a session',
    );
  }
});

test('swarm-8: the run merge sums, pools, takes midpoint medians over nodes and flags fetch', () => {
  const logs = swarmLogs(SWARM8);
  const gs = logs.map((l) => grepFigures(l.text));
  const run = mergeProtocolStats(logs.map((l) => ({ label: l.label, pid: l.pid, stats: feed(l.text) })));
  assert.equal(run.nodes, 8);
  const failed = gs.map((g) => g.failedCreationAttempts);
  assert.equal(
    run.failedCreationAttempts.total,
    failed.reduce((a, b) => a + b, 0),
  );
  assert.equal(run.failedCreationAttempts.median, sortedMedian(failed));
  assert.equal(
    run.failedCreationAttempts.median,
    2.5,
    'eight nodes: the midpoint of the 4th and 5th (2 and 3), not the lower one',
  );
  const intervals = gs.flatMap((g) => g.intervals);
  assert.equal(run.creationIntervalMs!.median, sortedMedian(intervals));
  assert.equal(run.creationIntervalMs!.p90, nearestRank(intervals, 0.9));
  const gossipOut = gs.flatMap((g) => g.durations['gossip.out']);
  assert.equal(run.gossip.out.durationMs!.count, gossipOut.length);
  assert.equal(run.gossip.out.durationMs!.median, sortedMedian(gossipOut));
  assert.equal(run.gossip.out.durationMs!.p90, nearestRank(gossipOut, 0.9));

  // Honest traffic: the peers read what the run's X lines say they read, per service.
  for (const service of ['gossip', 'fetch', 'multicast'] as const) {
    const t = run.traffic.find((x) => x.service === service)!;
    assert.equal(
      t.bytesSent,
      gs.reduce((a, g) => a + (g.bytes[service]?.sent ?? 0), 0),
      `${service} sent`,
    );
    assert.equal(
      t.bytesReceived,
      gs.reduce((a, g) => a + (g.bytes[service]?.received ?? 0), 0),
      `${service} received`,
    );
  }
  const multicast = run.traffic.find((x) => x.service === 'multicast')!;
  assert.equal(
    multicast.unitsSent,
    gs.reduce((a, g) => a + g.multicast.sent, 0),
  );
  for (const [i, n] of multicast.perNode!.entries())
    assert.equal(
      n.delivered,
      gs.reduce((a, g, j) => a + (j === i ? 0 : g.multicast.fromCreator(i)), 0),
      `${n.label}: its units the others got`,
    );

  // No fetch request got its units: the servers completed theirs (K) but never flushed the reply.
  const requests = gs.reduce((a, g) => a + g.started['fetch.out'] + g.beforeStart('fetch.out'), 0);
  assert.equal(run.fetch.out.completed, 0);
  assert.ok(run.fetch.in.completed > 100);
  assert.ok(run.traffic.find((x) => x.service === 'fetch')!.deliveredPercent! < 10);
  assert.deepEqual(run.flags, [
    `fetch: 0 of ${requests} requests completed (0.00 %) — gomel's fetch server does not flush its reply, so requesters read EOF`,
  ]);
  assert.equal(requests, 178);
  // Every outgoing gossip session that failed reading the dag info met a peer that had closed it unopened.
  const dagInfoFailures = logs.reduce(
    (a, l) => a + l.text.split('\n').filter((x) => x.includes('"where":"gossip.out.getDagInfo"')).length,
    0,
  );
  assert.equal(run.gossip.closedBeforeSession, dagInfoFailures);
  assert.equal(dagInfoFailures, 481);
});

// ---------------------------------------------------------------------------
// Hand-made logs: two nodes, pid 0 (A) and pid 1 (B), every figure worked out below.

const NODE_A = [
  '{"genesis":"Wed, 25 Nov 2026 12:00:00 +0000","T":0,"E":"genesis"}',
  // Units at 100, 300, 450 ms (intervals 200, 150) with 0, 3, 2 parents; two failed attempts; one refused by the dag.
  '{"L":"1","S":0,"Q":0,"A":0,"T":100,"E":"D"}',
  '{"L":"1","S":0,"T":200,"E":"I"}',
  '{"L":"1","S":0,"Q":1,"A":3,"T":300,"E":"D"}',
  '{"L":"1","S":0,"T":350,"E":"I"}',
  '{"L":"1","S":0,"Q":1,"A":2,"T":450,"E":"C"}',
  '{"L":"3","S":0,"where":"dag.AddUnit callback","T":460,"E":"some error"}',
  // Timing units decided 2 levels up, with the dag 1 and 0 levels above that.
  '{"L":"1","S":1,"H":4,"N":5,"R":2,"T":500,"E":"E"}',
  '{"L":"1","S":1,"H":5,"N":5,"R":3,"T":600,"E":"E"}',
  // A gossip out session and a fetch out session to pid 1 sharing "O":0 (each server counts its own ids).
  '{"L":"1","P":1,"O":0,"T":1000,"E":"J"}',
  '{"L":"0","P":1,"O":0,"T":1000,"E":"M"}',
  '{"L":"1","P":1,"O":0,"T":1002,"E":"J"}',
  '{"L":"0","P":1,"O":0,"T":1002,"E":"Q"}',
  '{"L":"1","P":1,"O":0,"C":1,"H":0,"T":1003,"E":"V"}',
  '{"L":"3","P":1,"O":0,"where":"fetch.out.receivePreunits","T":1005,"E":"EOF"}',
  '{"L":"1","P":1,"O":0,"U":40,"V":0,"T":1006,"E":"X"}',
  '{"L":"1","P":1,"O":0,"U":2,"F":1,"V":3,"T":1010,"E":"K"}',
  '{"L":"1","P":1,"O":0,"U":500,"V":700,"T":1011,"E":"X"}',
  // pid 2 fetches from A: A completes, writes 300 bytes, reads the 40-byte request.
  '{"L":"1","S":7,"T":1099,"E":"G"}',
  '{"L":"1","P":2,"I":0,"T":1100,"E":"J"}',
  '{"L":"0","P":2,"I":0,"T":1100,"E":"P"}',
  '{"L":"1","P":2,"I":0,"U":2,"T":1101,"E":"K"}',
  '{"L":"1","P":2,"I":0,"U":300,"V":40,"T":1102,"E":"X"}',
  // A gossip in session from pid 2 logged at info level (no debug lines): told by its K.
  '{"L":"1","S":6,"T":1199,"E":"G"}',
  '{"L":"1","P":2,"I":0,"T":1200,"E":"J"}',
  '{"L":"1","P":2,"I":0,"T":1201,"E":"R"}',
  '{"L":"1","P":2,"I":0,"C":2,"N":2,"T":1202,"E":"f"}',
  '{"L":"1","P":2,"I":0,"U":1,"V":0,"G":0,"T":1230,"E":"K"}',
  '{"L":"1","P":2,"I":0,"U":100,"V":90,"T":1231,"E":"X"}',
  // A gossip dial that failed, and an incoming gossip connection refused before its session.
  '{"L":"3","where":"gossip.out.dial","T":1300,"E":"dial tcp: lookup node3: no such host"}',
  '{"L":"1","S":6,"T":1310,"E":"G"}',
  '{"L":"1","S":6,"U":0,"V":30,"T":1311,"E":"X"}',
  // Multicast: two units out, one dial failure; three in (one a duplicate, one with 2 unknown parents).
  '{"L":"1","H":0,"P":1,"T":1400,"E":"e"}',
  '{"L":"1","S":8,"U":400,"V":0,"T":1400,"E":"X"}',
  '{"L":"1","H":0,"P":2,"T":1401,"E":"e"}',
  '{"L":"1","S":8,"U":400,"V":0,"T":1401,"E":"X"}',
  '{"L":"3","where":"multicast.out.dial","T":1402,"E":"dial tcp: connection refused"}',
  '{"L":"3","where":"multicast.in.listen","T":1403,"E":"accept tcp: i/o timeout"}',
  '{"L":"1","S":8,"T":1409,"E":"G"}',
  '{"L":"1","C":1,"H":0,"T":1410,"E":"V"}',
  '{"L":"1","C":1,"T":1410,"E":"g"}',
  '{"L":"1","S":8,"U":0,"V":380,"T":1410,"E":"X"}',
  '{"L":"1","C":2,"N":2,"T":1420,"E":"f"}',
  '{"L":"1","C":2,"T":1420,"E":"g"}',
  '{"L":"1","C":1,"T":1430,"E":"g"}',
  '{"L":"3","C":2,"#":"ab12","T":1440,"E":"k"}',
  // Still open when the log ends: a gossip out session, and one nothing tells the service of.
  '{"L":"1","P":2,"O":5,"T":1500,"E":"J"}',
  '{"L":"0","P":2,"O":5,"T":1500,"E":"M"}',
  '{"L":"1","P":1,"I":9,"T":1510,"E":"J"}',
];

const NODE_B = [
  // B's side of A's gossip out session: it read 480 of A's 500 bytes.
  '{"L":"1","P":0,"I":0,"T":1000,"E":"J"}',
  '{"L":"1","P":0,"I":0,"U":3,"V":2,"G":1,"T":1009,"E":"K"}',
  '{"L":"1","P":0,"I":0,"U":700,"V":480,"T":1010,"E":"X"}',
  // B's side of A's fetch: it read the 40-byte request, wrote 200 bytes A never got.
  '{"L":"1","P":0,"I":0,"T":1002,"E":"J"}',
  '{"L":"1","P":0,"I":0,"U":1,"T":1003,"E":"K"}',
  '{"L":"1","P":0,"I":0,"U":200,"V":40,"T":1004,"E":"X"}',
  // One of A's two multicast units.
  '{"L":"1","C":0,"T":1400,"E":"g"}',
  '{"L":"1","S":8,"U":0,"V":400,"T":1400,"E":"X"}',
];

test('hand-made log: creation, decisions, sessions sharing an id, bytes by service, multicast', () => {
  const f = protocolFigures(feed(NODE_A.join('\n')));
  assert.equal(f.unitsCreated, 3);
  assert.equal(f.primeUnitsCreated, 2);
  assert.deepEqual(f.parentsPerUnit, { mean: 5 / 3, histogram: { 0: 1, 2: 1, 3: 1 } });
  assert.deepEqual(f.creationIntervalMs, { count: 2, mean: 175, median: 175, p90: 200, max: 200 });
  assert.equal(f.failedCreationAttempts, 2);
  assert.equal(f.creationAddFailed, 1);
  assert.equal(f.timingUnits, 2);
  assert.deepEqual(f.decisionDepth, { mean: 2, histogram: { 2: 2 } });
  assert.deepEqual(f.levelsAboveDecision, { mean: 0.5, histogram: { 0: 1, 1: 1 } });
  // Gossip out: one completed in 10 ms (its duplicate too, though fetch's J came between), one dial failure, one open.
  assert.deepEqual(f.gossip.out, {
    attempts: 3,
    started: 2,
    completed: 1,
    failed: 1,
    failedBeforeStart: 1,
    unfinished: 1,
    durationMs: { count: 1, mean: 10, median: 10, p90: 10, max: 10 },
    unitsSent: 3,
    unitsReceived: 3,
    duplicates: 1,
    unknownParents: 0,
    missingParents: 0,
    additionalExchanges: 0,
  });
  assert.deepEqual(f.gossip.in, {
    attempts: 1,
    started: 1,
    completed: 1,
    failed: 0,
    failedBeforeStart: 0,
    unfinished: 0,
    durationMs: { count: 1, mean: 30, median: 30, p90: 30, max: 30 },
    unitsSent: 1,
    unitsReceived: 0,
    duplicates: 0,
    unknownParents: 1,
    missingParents: 2,
    additionalExchanges: 1,
  });
  assert.equal(f.fetch.out.attempts, 1);
  assert.equal(f.fetch.out.failed, 1);
  assert.equal(f.fetch.out.durationMs, undefined);
  assert.equal(f.fetch.out.duplicates, 0, "the duplicate was gossip's");
  assert.equal(f.fetch.in.completed, 1);
  assert.equal(f.fetch.in.unitsSent, 2);
  assert.equal(f.gossip.connectionsAccepted, 2);
  assert.equal(f.gossip.closedBeforeSession, 1);
  assert.equal(f.fetch.connectionsAccepted, 1);
  // Bytes: gossip 500+100+0 sent, 700+90+30 received; fetch 40+300 sent, 0+40 received.
  assert.deepEqual(
    [f.gossip.bytesSent, f.gossip.bytesReceived, f.fetch.bytesSent, f.fetch.bytesReceived],
    [600, 820, 340, 40],
  );
  assert.deepEqual(f.multicast, {
    unitsBroadcast: 2,
    broadcastFailed: 1,
    unitsReceived: 3,
    unitsAdded: 1,
    duplicates: 1,
    unknownParents: 1,
    missingParents: 2,
    receiveFailed: 0,
    connectionsAccepted: 1,
    bytesSent: 800,
    bytesReceived: 380,
  });
  assert.equal(f.fallbackUnresolved, 1);
  assert.equal(f.unattributedSessions, 1);
  assert.deepEqual(f.unattributedBytes, { sent: 0, received: 0 });
  const flat = flatProtocolFigures(f);
  assert.equal(flat.fetchRequestsFailed, 1);
  assert.equal(flat.gossipSessionsOutDurationMsMedian, 10);
  assert.equal(flat.creationIntervalMsMedian, 175);
  assert.equal(flat.multicastUnitsSent, 2);
});

test('hand-made log: a duplicate while a fetch server and a gossip session share an id is gossip’s', () => {
  const f = protocolFigures(
    feed(
      [
        '{"L":"1","P":3,"I":1,"T":10,"E":"J"}', // fetch in, older and still running
        '{"L":"0","P":3,"I":1,"T":10,"E":"P"}',
        '{"L":"1","P":3,"I":1,"T":11,"E":"J"}', // gossip in
        '{"L":"0","P":3,"I":1,"T":11,"E":"L"}',
        '{"L":"1","P":3,"I":1,"C":3,"H":4,"T":12,"E":"V"}',
        '{"L":"1","P":3,"I":1,"U":0,"V":1,"G":0,"T":13,"E":"K"}',
        '{"L":"1","P":3,"I":1,"U":10,"V":20,"T":14,"E":"X"}',
        '{"L":"1","P":3,"I":1,"U":1,"T":15,"E":"K"}',
        '{"L":"1","P":3,"I":1,"U":30,"V":40,"T":16,"E":"X"}',
      ].join('\n'),
    ),
  );
  assert.deepEqual([f.gossip.in.duplicates, f.fetch.in.duplicates], [1, 0]);
  assert.deepEqual([f.gossip.in.durationMs?.median, f.fetch.in.durationMs?.median], [2, 5]);
  assert.deepEqual(
    [f.gossip.bytesSent, f.gossip.bytesReceived, f.fetch.bytesSent, f.fetch.bytesReceived],
    [10, 20, 30, 40],
  );
});

test('hand-made logs: the run merge, delivery per node and the median over two nodes', () => {
  const run = mergeProtocolStats([
    { label: 'node1', pid: 0, stats: feed(NODE_A.join('\n')) },
    { label: 'node2', pid: 1, stats: feed(NODE_B.join('\n')) },
    { label: 'node3', pid: 2, stats: undefined },
  ]);
  assert.equal(run.nodes, 2);
  assert.deepEqual(run.failedCreationAttempts, { total: 2, median: 1, min: 0, max: 2 });
  assert.deepEqual(run.gossip.in.durationMs, { count: 2, mean: 19.5, median: 19.5, p90: 30, max: 30 });
  const gossip = run.traffic.find((t) => t.service === 'gossip')!;
  // A wrote 500 (to B) + 100 (to pid 2, no log) on sessions; B read 480 of them. B wrote 700, A read all 700.
  assert.deepEqual(gossip.perNode, [
    { label: 'node1', sent: 600, delivered: 480, deliveredPercent: 80 },
    { label: 'node2', sent: 700, delivered: 700, deliveredPercent: 100 },
  ]);
  assert.deepEqual([gossip.bytesSent, gossip.bytesReceived], [1300, 1300]);
  const fetch = run.traffic.find((t) => t.service === 'fetch')!;
  assert.deepEqual(
    fetch.perNode!.map((n) => [n.sent, n.delivered]),
    [
      [340, 40],
      [200, 0],
    ],
  );
  const multicast = run.traffic.find((t) => t.service === 'multicast')!;
  assert.deepEqual([multicast.unitsSent, multicast.unitsDelivered], [2, 4]);
  assert.deepEqual(
    multicast.perNode!.map((n) => [n.sent, n.delivered]),
    [
      [2, 1],
      [0, 2],
    ],
  );
  assert.deepEqual(run.flags, [], 'too few attempts and bytes to say anything');
  // Without pids nothing can be matched across nodes: no per-node delivery.
  const anonymous = mergeProtocolStats([{ label: 'a', stats: feed(NODE_A.join('\n')) }]);
  assert.equal(anonymous.traffic.find((t) => t.service === 'gossip')!.perNode, undefined);
});

test('flags: a fetch that never delivers is named, with its cause; gossip that delivers is not', () => {
  const requester: string[] = [];
  const server: string[] = [];
  for (let i = 0; i < 25; i++) {
    const t = 1000 + 10 * i;
    requester.push(
      `{"L":"1","P":1,"O":${i},"T":${t},"E":"J"}`,
      `{"L":"3","P":1,"O":${i},"where":"fetch.out.receivePreunits","T":${t + 1},"E":"EOF"}`,
      `{"L":"1","P":1,"O":${i},"U":40,"V":0,"T":${t + 2},"E":"X"}`,
    );
    server.push(
      `{"L":"1","P":0,"I":${i},"T":${t},"E":"J"}`,
      `{"L":"1","P":0,"I":${i},"U":3,"T":${t + 1},"E":"K"}`,
      `{"L":"1","P":0,"I":${i},"U":5000,"V":40,"T":${t + 2},"E":"X"}`,
    );
  }
  const run: RunProtocolFigures = mergeProtocolStats([
    { label: 'node1', pid: 0, stats: feed(requester.join('\n')) },
    { label: 'node2', pid: 1, stats: feed(server.join('\n')) },
  ]);
  assert.deepEqual(run.flags, [
    "fetch: 0 of 25 requests completed (0.00 %) — gomel's fetch server does not flush its reply, so requesters read EOF",
    'fetch: 0.1 MB counted as sent, 0.0 MB read by peers (0.79 %) (replies written but never flushed)',
  ]);
});

test('lines that are not gomel’s, or cut short, change nothing but what they can be counted as', () => {
  const s = newProtocolStats();
  for (const line of [
    '',
    'not json',
    '{"L":"1","T":5,"E":"K"}',
    '{"L":"3","where":"gossip.out.dial"',
    `{"E":"C","x":"${'x'.repeat(70_000)}"}`,
    '{"L":"1","P":1,"O":2,"U":5,"V":6,"T":1,"E":"X"}',
  ])
    addProtocolLine(s, line);
  const f = protocolFigures(s);
  assert.equal(f.unitsCreated, 0);
  assert.equal(f.gossip.out.attempts, 0);
  assert.deepEqual(f.unattributedBytes, { sent: 5, received: 6 }, 'a session X with no J before it');
  assert.deepEqual(mergeProtocolStats([]).traffic, []);
});

test('summarize: midpoint median for an even count, nearest-rank p90', () => {
  assert.deepEqual(
    summarize(
      new Map([
        [1, 1],
        [2, 1],
        [10, 1],
        [30, 1],
      ]),
    ),
    { count: 4, mean: 43 / 4, median: 6, p90: 30, max: 30 },
  );
  assert.deepEqual(
    summarize(
      new Map([
        [5, 3],
        [7, 1],
      ]),
    ),
    { count: 4, mean: 5.5, median: 5, p90: 7, max: 7 },
  );
  assert.equal(summarize(new Map()), undefined);
});
