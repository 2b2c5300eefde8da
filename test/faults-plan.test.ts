// The fault plan (issue 24 item 1): every short form, the JSON form, random:K from a
// seed, each bad plan refused in one line naming its event, each node's schedule,
// who is faulty, and faults.log read back. Pure: no engine, no files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { InputError, UsageError } from '../src/core/errors.js';
import {
  describeFaultPlan,
  faultSchedules,
  faultTolerance,
  faultyNodes,
  formatFaultEvent,
  needsNetAdmin,
  parseFaultPlan,
  parseFaultPlanJson,
  parseFaultsLog,
  type FaultEvent,
  type FaultPlan,
} from '../src/core/faults/plan.js';

const hostsOf = (n: number) => Array.from({ length: n }, (_, i) => `node${i + 1}`);
const H8 = hostsOf(8);
const strip = (e: FaultEvent) => {
  const { source: _s, random: _r, ...rest } = e;
  return rest;
};
const one = (spec: string, hosts = H8) => strip(parseFaultPlan(spec, hosts).events[0]!);

test('every short form of the issue parses to its event', () => {
  assert.deepEqual(one('crash:7,8@3s'), { kind: 'crash', nodes: [7, 8], atMs: 3000 });
  assert.deepEqual(one('stop:2@5s'), { kind: 'stop', nodes: [2], atMs: 5000 });
  assert.deepEqual(one('pause:2@2s-12s'), { kind: 'pause', nodes: [2], atMs: 2000, untilMs: 12000 });
  assert.deepEqual(one('partition:1-4|5-8@3s-15s'), {
    kind: 'partition',
    nodes: [1, 2, 3, 4, 5, 6, 7, 8],
    groups: [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ],
    atMs: 3000,
    untilMs: 15000,
  });
  assert.deepEqual(one('isolate:3@4s-9s'), { kind: 'isolate', nodes: [3], atMs: 4000, untilMs: 9000 });
  assert.deepEqual(one('slow:3@0s-20s,cpu=0.2'), { kind: 'slow', nodes: [3], atMs: 0, untilMs: 20000, cpu: 0.2 });
  const restart = parseFaultPlan('crash:7@3s; restart:7@20s', H8).events.map(strip);
  assert.deepEqual(restart[1], { kind: 'restart', nodes: [7], atMs: 20000 });
  // "For good": a pause, isolate or slow without its end.
  assert.deepEqual(one('slow:3@5s,cpu=0.5'), { kind: 'slow', nodes: [3], atMs: 5000, cpu: 0.5 });
  assert.deepEqual(one('pause:1@1s'), { kind: 'pause', nodes: [1], atMs: 1000 });
});

test('nodes as in --zones (7, 1-4, node3, lists) and times in ms, s, m with decimals', () => {
  assert.deepEqual(one('crash:node3@1s').nodes, [3]);
  assert.deepEqual(one('crash:1-2,node5,8@1s').nodes, [1, 2, 5, 8]);
  assert.deepEqual(one('crash:8,1@1s').nodes, [1, 8], 'ascending');
  assert.equal(one('crash:1@250ms').atMs, 250);
  assert.equal(one('crash:1@1.5s').atMs, 1500);
  assert.equal(one('crash:1@0.25m').atMs, 15000);
  assert.equal(one('crash:1@2m').atMs, 120000);
  assert.equal(one('crash:1@0').atMs, 0);
  assert.equal(one('crash:1@24h').atMs, 86_400_000);
  assert.equal(one(' crash:1@1s ; ').atMs, 1000, 'spaces and an empty last event are fine');
  // Host names other than node<k>: as given to the parser, in pid order.
  assert.deepEqual(one('crash:b@1s', ['a', 'b', 'c', 'd']).nodes, [2]);
  // The events come back in time order, the plan's order at one moment.
  assert.deepEqual(
    parseFaultPlan('crash:2@5s;crash:1@3s;stop:3@3s', H8).events.map((e) => e.source),
    ['crash:1@3s', 'stop:3@3s', 'crash:2@5s'],
  );
});

test('the JSON form says the same as the short form; times are strings or seconds', () => {
  const json = JSON.stringify([
    { kind: 'crash', nodes: '7,8', at: '3s' },
    { kind: 'stop', nodes: [2], at: 5 },
    { kind: 'pause', nodes: ['node1'], at: '2s', until: 12 },
    { kind: 'partition', groups: ['1-4', [5, 6, '7-8']], at: '13s', until: '15s' },
    { kind: 'isolate', nodes: 3, at: 4, until: 9 },
    { kind: 'slow', nodes: '4', at: 0, until: 1.5, cpu: 0.2 },
    { kind: 'restart', nodes: '7', at: '20s' },
  ]);
  const fromJson = parseFaultPlanJson(json, 'faults.json', H8);
  const fromShort = parseFaultPlan(
    'crash:7,8@3s;stop:2@5s;pause:1@2s-12s;partition:1-4|5-8@13s-15s;isolate:3@4s-9s;slow:4@0s-1.5s,cpu=0.2;restart:7@20s',
    H8,
  );
  assert.deepEqual(fromJson.events.map(strip), fromShort.events.map(strip));
  assert.equal(fromJson.events[0]!.source, '[5]', 'a JSON event is named by its index');
  // A --faults text that starts with "[" is JSON too.
  assert.deepEqual(parseFaultPlan(json, H8).events.map(strip), fromShort.events.map(strip));
  const random = parseFaultPlanJson('[{"kind": "random", "count": 2}]', 'f.json', H8, 's');
  assert.deepEqual(random.events.map(strip), parseFaultPlan('random:2', H8, 's').events.map(strip));
});

test('random:K: K crashes drawn by the documented rule, the same for one seed, others for another', () => {
  const plan = parseFaultPlan('random:3', H8, 'lab-run-1');
  // Redo the rule of randomCrashes independently.
  const u = (i: number) =>
    createHash('sha256').update(`gomelctl faults\nlab-run-1\n${i}`).digest().readUIntBE(0, 6) / 2 ** 48;
  const order = [1, 2, 3, 4, 5, 6, 7, 8];
  for (let j = 0; j < 3; j++) {
    const s = j + Math.floor(u(j) * (8 - j));
    [order[j], order[s]] = [order[s]!, order[j]!];
  }
  const expected = order
    .slice(0, 3)
    .map((node, j) => ({ kind: 'crash', nodes: [node], atMs: 1000 + Math.floor(u(3 + j) * 90) * 100 }));
  assert.deepEqual(
    plan.events.map(strip),
    [...expected].sort((a, b) => a.atMs - b.atMs),
  );
  assert.equal(plan.seed, 'lab-run-1');
  for (const e of plan.events) assert.ok(e.atMs >= 1000 && e.atMs <= 9900 && e.atMs % 100 === 0);
  assert.deepEqual(parseFaultPlan('random:3', H8, 'lab-run-1'), plan, 'same seed, same events');
  const draws = new Set(
    ['a', 'b', 'c', 'd'].map((seed) => JSON.stringify(parseFaultPlan('random:3', H8, seed).events.map(strip))),
  );
  assert.ok(draws.size >= 3, 'other seeds draw other nodes and times');
  assert.match(
    describeFaultPlan(plan)[0]!,
    /^crash:\d@\d(\.\d)?s {2}node\d crashed \(SIGKILL\) at [\d.]+ s \(random:3, seed "lab-run-1"\)$/,
  );
  // All N crash: allowed (a stall is what BFT promises), K > N is not.
  assert.equal(parseFaultPlan('random:8', H8, 'x').events.length, 8);
});

test('bad plans: one line each, naming the event, UsageError (exit 2)', () => {
  const bad: [string, RegExp][] = [
    ['crash:9@3s', /^--faults "crash:9@3s": node 9 is not in the 8-node committee \(nodes 1\.\.8\)$/],
    [
      'crash:node9@3s',
      /"crash:node9@3s": "node9" is not a node; give a number 1\.\.8, a range like 1-4, or a name like node1$/,
    ],
    ['crash:0@3s', /"crash:0@3s": "0" is not a node number/],
    ['crash:4-2@3s', /"crash:4-2@3s": "4-2" is not a node number or range/],
    ['pause:2@12s-2s', /"pause:2@12s-2s": ends at 2 s, not after its start at 12 s$/],
    ['isolate:3@4s-4s', /ends at 4 s, not after its start at 4 s/],
    [
      'pause:2@2s-12s;isolate:2@5s-6s',
      /^--faults "isolate:2@5s-6s": overlaps "pause:2@2s-12s" on node2 \(2 s–12 s\); windows on one node must not overlap$/,
    ],
    [
      'slow:3@0s,cpu=0.2;partition:1-4|5-8@3s-15s',
      /"partition:1-4\|5-8@3s-15s": overlaps "slow:3@0s,cpu=0.2" on node3 \(from 0 s for good\)/,
    ],
    [
      'crash:2@5s;pause:2@2s-12s',
      /"crash:2@5s": node2 is paused then \("pause:2@2s-12s"\); a node cannot be paused while down$/,
    ],
    ['crash:2@1s;slow:2@2s-3s,cpu=0.5', /"slow:2@2s-3s,cpu=0\.5": node2 is down then \("crash:2@1s"\)/],
    [
      'restart:7@20s',
      /^--faults "restart:7@20s": node7 is not down at 20 s: restart starts gomel again after a crash or stop of that node before it$/,
    ],
    ['restart:7@2s;crash:7@3s', /"restart:7@2s": node7 is not down at 2 s/],
    ['crash:7@3s;restart:7@3s', /"restart:7@3s": node7 is restarted at the moment it goes down/],
    ['crash:7@3s;stop:7@4s', /"stop:7@4s": node7 is already down at 4 s \("crash:7@3s" at 3 s, no restart before\)/],
    ['crash:7,7@3s', /"crash:7,7@3s": node 7 is named twice/],
    ['random:9', /^--faults "random:9": more crashes than nodes: 9 of the 8-node committee$/],
    ['random:0', /"random:0": give random:K/],
    ['random:2', /"random:2": random needs --seed/],
    ['', /^--faults: the plan is empty/],
    [' ; ;', /^--faults: the plan is empty/],
    [
      'kill:1@3s',
      /^--faults "kill:1@3s": unknown kind "kill"; the kinds are crash, stop, pause, partition, isolate, slow, restart, mute, selective, twin, random$/,
    ],
    ['crash', /"crash": no nodes and time; give e\.g\. crash:7,8@3s/],
    ['crash:1', /"crash:1": no time; give crash:<nodes>@<time>/],
    ['crash:1@3s-4s', /"crash:1@3s-4s": crash happens at one moment/],
    ['partition:1-4|5-8@3s', /a partition needs its end/],
    ['partition:1-8@3s-5s', /a partition needs two groups or more/],
    ['partition:1-4|4-8@3s-5s', /node 4 is in two groups/],
    ['slow:3@0s-20s', /"slow:3@0s-20s": slow needs cpu=<fraction>/],
    ['slow:3@0s-20s,cpu=0.2,cpu=0.3', /"slow:3@0s-20s,cpu=0\.2,cpu=0\.3": cpu is given twice; give it once$/],
    ['slow:3@0s-20s,mem=1', /unknown key "mem=1"; slow takes cpu=<fraction>/],
    ['slow:3@0s-20s,cpu=1', /cpu=1: give the fraction of the CPU gomel keeps, from 0\.01 to 0\.99/],
    ['slow:3@0s-20s,cpu=0.001', /cpu=0\.001: give the fraction/],
    ['slow:3@0s-20s,cpu=-0.5', /cpu=-0\.5: give the fraction/],
    ['crash:1@3s,cpu=0.2', /"crash:1@3s,cpu=0\.2": crash takes no keys \(cpu=0\.2\)/],
    ['crash:1@3', /"crash:1@3": "3" is not a time; give e\.g\. 3s/],
    [
      'crash:1@-3s',
      /"crash:1@-3s": "-3s" is not a time: times count from the common start, never before it; give 0 or more/,
    ],
    ['pause:1@-1s-2s', /"-1s-2s" is not a time: times count from the common start/],
    ['pause:1@2s-', /"pause:1@2s-": "2s-" is not a time or a window like 2s-12s$/],
    ['crash:1@25h', /"crash:1@25h": 25h is more than 24 h after the start/],
    ['crash:1@86400001ms', /more than 24 h/],
    ['pause:1@1s-2s-3s', /"2s-2s-3s"|is not a time or a window/],
  ];
  for (const [spec, re] of bad) {
    assert.throws(
      () => parseFaultPlan(spec, H8),
      (e: unknown) => {
        assert.ok(e instanceof UsageError, `${spec}: ${String(e)}`);
        assert.match(e.message, re, spec);
        assert.doesNotMatch(e.message, /\n/, 'one line');
        return true;
      },
    );
  }
});

test('bad plan files: InputError naming the file and the event index', () => {
  const bad: [string, RegExp][] = [
    ['{', /^f\.json: not valid JSON/],
    ['{"kind": "crash"}', /^f\.json: expected a JSON array of events/],
    ['[]', /^f\.json: the plan is empty/],
    ['[1]', /^f\.json:\[0\]: an event is an object/],
    [
      '[{"kind": "crash", "nodes": "1", "at": "1s"}, {"kind": "crash", "nodes": "9", "at": "1s"}]',
      /^f\.json:\[1\]\.nodes: node 9 is not in the 8-node committee/,
    ],
    ['[{"kind": "crash", "nodes": "1", "at": "1s", "at": "2s"}]', /^f\.json:\[0\]\.at: given twice/],
    [
      '[{"kind": "x", "nodes": [{"a": 1, "a": 2}]}, {"kind": "crash", "kind": "stop"}]',
      /^f\.json:\[0\]\.a: given twice/,
    ],
    [
      '[{"kind": "crash", "nodes": "1", "at": "1s"}, {"kind": "crash", "kind": "stop"}]',
      /^f\.json:\[1\]\.kind: given twice/,
    ],
    ['[{"kind": "crash", "nodes": "1", "at": "1s", "when": 3}]', /^f\.json:\[0\]\.when: unknown field/],
    ['[{"kind": "crash", "nodes": "1", "at": "1s", "until": 3}]', /^f\.json:\[0\]\.until: crash takes at, nodes$/],
    ['[{"kind": "crash", "nodes": "1"}]', /^f\.json:\[0\]\.at: missing/],
    ['[{"kind": "crash", "nodes": "1", "at": -1}]', /^f\.json:\[0\]\.at: a time is ≥ 0 seconds/],
    ['[{"kind": "crash", "nodes": "1", "at": 90000}]', /^f\.json:\[0\]\.at: 90000 s is more than 24 h/],
    ['[{"kind": "boom", "nodes": "1", "at": 1}]', /^f\.json:\[0\]: unknown kind "boom"/],
    [
      '[{"kind": "pause", "nodes": "2", "at": 2, "until": 12}, {"kind": "isolate", "nodes": "2", "at": 5, "until": 6}]',
      /^f\.json:\[1\]: overlaps "\[0\]" on node2/,
    ],
    ['[{"kind": "restart", "nodes": "7", "at": 20}]', /^f\.json:\[0\]: node7 is not down at 20 s/],
    [
      '[{"kind": "partition", "nodes": "1-4", "at": 1, "until": 2}]',
      /^f\.json:\[0\]\.nodes: partition takes at, groups, until$/,
    ],
    ['[{"kind": "random", "count": 9}]', /^f\.json:\[0\]: more crashes than nodes/],
    ['[{"kind": "random", "count": 2, "at": 1}]', /^f\.json:\[0\]\.at: random takes only count/],
  ];
  for (const [text, re] of bad) {
    assert.throws(
      () => parseFaultPlanJson(text, 'f.json', H8, 's'),
      (e: unknown) => {
        assert.ok(e instanceof InputError, `${text}: ${String(e)}`);
        assert.match(e.message, re, text);
        assert.doesNotMatch(e.message, /\n/, 'one line');
        return true;
      },
    );
  }
});

test('each node gets its schedule: peers by host name, both sides of a cut, ends first at one moment', () => {
  const plan = parseFaultPlan(
    'crash:3@3s;restart:3@20s;pause:1@2s-12s;partition:1-2|3-4@12s-15s;slow:2@0s-12s,cpu=0.25;isolate:4@4s-9s;stop:4@30s',
    hostsOf(4),
  );
  assert.deepEqual(faultSchedules(plan), [
    [
      '2000 stop',
      '4000 drop node4',
      '9000 undrop node4',
      '12000 cont',
      '12000 drop node3 node4',
      '15000 undrop node3 node4',
      '',
    ].join('\n'),
    [
      '0 slow 0.25',
      '4000 drop node4',
      '9000 undrop node4',
      '12000 unslow',
      '12000 drop node3 node4',
      '15000 undrop node3 node4',
      '',
    ].join('\n'),
    [
      '3000 kill',
      '4000 drop node4',
      '9000 undrop node4',
      '12000 drop node1 node2',
      '15000 undrop node1 node2',
      '20000 restart',
      '',
    ].join('\n'),
    [
      '4000 drop node1 node2 node3',
      '9000 undrop node1 node2 node3',
      '12000 drop node1 node2',
      '15000 undrop node1 node2',
      '30000 term',
      '',
    ].join('\n'),
  ]);
  // Other names for the peers (addresses, say), and a node without actions.
  assert.deepEqual(
    faultSchedules(parseFaultPlan('isolate:1@1s-2s;crash:2@1s', hostsOf(5)), ['a', 'b', 'c', 'd', 'e']),
    [
      '1000 drop b c d e\n2000 undrop b c d e\n',
      '1000 kill\n1000 drop a\n2000 undrop a\n',
      '1000 drop a\n2000 undrop a\n',
      '1000 drop a\n2000 undrop a\n',
      '1000 drop a\n2000 undrop a\n',
    ],
  );
  assert.deepEqual(faultSchedules(parseFaultPlan('crash:1@1s', hostsOf(4))), ['1000 kill\n', '', '', '']);
  assert.equal(needsNetAdmin(plan), true);
  assert.equal(needsNetAdmin(parseFaultPlan('crash:1@1s;pause:2@1s-2s;slow:3@1s,cpu=0.5', H8)), false);
});

test('faulty by the plan (crashed, stopped, restarted, for good) vs delayed but correct (windows)', () => {
  const plan = parseFaultPlan(
    'crash:7,8@3s;restart:7@20s;stop:6@5s;slow:5@1s,cpu=0.3;pause:4@1s;pause:1@2s-12s;partition:1-2|3@13s-15s;isolate:2@20s-25s',
    H8,
  );
  const { faulty, delayed } = faultyNodes(plan);
  assert.deepEqual(
    faulty.map((x) => [x.host, x.why]),
    [
      ['node4', 'paused at 1 s for good'],
      ['node5', 'slowed to cpu=0.3 at 1 s for good'],
      ['node6', 'stopped at 5 s'],
      ['node7', 'crashed at 3 s, restarted at 20 s'],
      ['node8', 'crashed at 3 s'],
    ],
  );
  assert.deepEqual(
    delayed.map((x) => [x.host, x.why, x.atMs]),
    [
      ['node1', 'paused 2 s–12 s, partitioned 13 s–15 s', 2000],
      ['node2', 'partitioned 13 s–15 s, isolated 20 s–25 s', 13000],
      ['node3', 'partitioned 13 s–15 s', 13000],
    ],
  );
  assert.deepEqual([4, 7, 8, 16, 64].map(faultTolerance), [1, 2, 2, 5, 21]);
});

test('describeFaultPlan: one line per event, its short form first', () => {
  const plan = parseFaultPlan(
    'crash:7,8@3s;stop:2@5s;pause:4@6s-12s;partition:1-2|5@13s-15s;isolate:3@4s;slow:6@0s-20s,cpu=0.2;restart:7@20.5s',
    H8,
  );
  assert.deepEqual(describeFaultPlan(plan), [
    'slow:6@0s-20s,cpu=0.2  node6 slowed to 20% of the CPU from 0 s, until 20 s',
    'crash:7-8@3s  node7, node8 crashed (SIGKILL) at 3 s',
    'isolate:3@4s  node3 cut off from the other nodes from 4 s, for good',
    'stop:2@5s  node2 stopped (SIGTERM) at 5 s',
    'pause:4@6s-12s  node4 paused (SIGSTOP) at 6 s, until 12 s',
    'partition:1-2|5@13s-15s  no traffic between {node1, node2} and {node5} from 13 s, until 15 s',
    'restart:7@20.5s  node7 started again with the same key at 20.5 s',
  ]);
});

test('faults.log read back: events with their status, malformed lines with a reason', () => {
  const log = [
    '1700000000.123456 3000 kill ok',
    '1700000001.5 4000 drop node1 node2 failed: iptables v1.8.9 (nf_tables): Permission denied (you must be root)',
    '',
    '1700000002 0 slow 0.2 ok\r',
    '1700000003.000001 20000 restart failed: gomel (pid 12) is still running',
    '1700000004.0 5000 explode ok',
    '1700000004.0 5000 kill',
    'garbage',
    '1700000004.0 5000 slow 2 ok',
    '1700000004.0 5000 drop ok',
    '1700000004.0 5000 kill now ok',
  ].join('\n');
  const { events, malformed } = parseFaultsLog(log);
  assert.deepEqual(events, [
    { line: 1, wall: 1700000000.123456, atMs: 3000, action: 'kill', args: [], ok: true },
    {
      line: 2,
      wall: 1700000001.5,
      atMs: 4000,
      action: 'drop',
      args: ['node1', 'node2'],
      ok: false,
      reason: 'iptables v1.8.9 (nf_tables): Permission denied (you must be root)',
    },
    { line: 4, wall: 1700000002, atMs: 0, action: 'slow', args: ['0.2'], ok: true },
    {
      line: 5,
      wall: 1700000003.000001,
      atMs: 20000,
      action: 'restart',
      args: [],
      ok: false,
      reason: 'gomel (pid 12) is still running',
    },
  ]);
  assert.deepEqual(
    malformed.map((m) => [m.line, m.reason]),
    [
      [6, 'unknown action "explode"'],
      [7, 'not "<wall seconds> <ms> <action> [args] ok|failed: <reason>"'],
      [8, 'not "<wall seconds> <ms> <action> [args] ok|failed: <reason>"'],
      [9, 'slow 2: not a CPU fraction between 0 and 1'],
      [10, 'drop takes at least 1 argument(s), not 0'],
      [11, 'kill takes 0 argument(s), not 1'],
    ],
  );
});

// ---- properties ----

type NodeEvent =
  | { kind: 'crash'; at: number; restartAfter: number | null }
  | { kind: 'stop'; at: number }
  | { kind: 'pause' | 'isolate'; at: number; len: number | null }
  | { kind: 'slow'; at: number; len: number | null; cpu: number };
const time = fc.integer({ min: 0, max: 100_000 });
const nodeEvent: fc.Arbitrary<NodeEvent | null> = fc.oneof(
  fc.constant(null),
  fc.record({
    kind: fc.constant('crash' as const),
    at: time,
    restartAfter: fc.option(fc.integer({ min: 1, max: 50_000 })),
  }),
  fc.record({ kind: fc.constant('stop' as const), at: time }),
  fc.record({
    kind: fc.constantFrom('pause' as const, 'isolate' as const),
    at: time,
    len: fc.option(fc.integer({ min: 1, max: 50_000 })),
  }),
  fc.record({
    kind: fc.constant('slow' as const),
    at: time,
    len: fc.option(fc.integer({ min: 1, max: 50_000 })),
    cpu: fc.integer({ min: 1, max: 99 }),
  }),
);
/** A valid plan by construction: at most one event per node (with its restart), and one partition after every finite window. */
const validPlan = fc.integer({ min: 4, max: 16 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    events: fc.array(nodeEvent, { minLength: n, maxLength: n }),
    split: fc.option(fc.array(fc.boolean(), { minLength: n, maxLength: n })),
    timeText: fc.constantFrom('ms', 's'),
  }),
);
const t = (ms: number, unit: string) => (unit === 's' ? `${ms / 1000}s` : `${ms}ms`);

function specOf(p: { n: number; events: (NodeEvent | null)[]; split: boolean[] | null; timeText: string }): {
  spec: string;
  faulty: number[];
} {
  const parts: string[] = [];
  const faulty: number[] = [];
  const forGood = new Set<number>();
  // A node down for good before a cut is no side of it (nothing left to cut: the plan refuses such a side).
  const goneBy = (k: number, ms: number) => {
    const e = p.events[k - 1];
    return (e?.kind === 'stop' || (e?.kind === 'crash' && e.restartAfter === null)) && e.at < ms;
  };
  p.events.forEach((e, i) => {
    const k = i + 1;
    if (!e) return;
    if (e.kind === 'isolate' && p.events.every((_, j) => j === i || goneBy(j + 1, e.at))) return;
    if (e.kind === 'crash') {
      parts.push(`crash:${k}@${t(e.at, p.timeText)}`);
      if (e.restartAfter !== null) parts.push(`restart:node${k}@${t(e.at + e.restartAfter, p.timeText)}`);
      faulty.push(k);
    } else if (e.kind === 'stop') {
      parts.push(`stop:${k}@${t(e.at, p.timeText)}`);
      faulty.push(k);
    } else {
      const end = e.len === null ? '' : `-${t(e.at + e.len, p.timeText)}`;
      parts.push(`${e.kind}:${k}@${t(e.at, p.timeText)}${end}${e.kind === 'slow' ? `,cpu=${e.cpu / 100}` : ''}`);
      if (e.len === null) {
        faulty.push(k);
        forGood.add(k);
      }
    }
  });
  if (p.split) {
    const eligible = p.split
      .map((side, i) => ({ side, k: i + 1 }))
      .filter((x) => !forGood.has(x.k) && !goneBy(x.k, 200_000));
    const a = eligible.filter((x) => x.side).map((x) => x.k);
    const b = eligible.filter((x) => !x.side).map((x) => x.k);
    if (a.length && b.length) parts.push(`partition:${a.join(',')}|${b.join(',')}@200s-300s`);
  }
  if (!parts.length) {
    parts.push('crash:1@0s');
    faulty.push(1);
  }
  return { spec: parts.join(';'), faulty: faulty.sort((x, y) => x - y) };
}

test('property: a valid plan parses, round-trips through its short forms, and classifies its nodes', () => {
  fc.assert(
    fc.property(validPlan, (p) => {
      const { spec, faulty } = specOf(p);
      const hosts = hostsOf(p.n);
      const plan: FaultPlan = parseFaultPlan(spec, hosts);
      const again = parseFaultPlan(
        describeFaultPlan(plan)
          .map((l) => l.split('  ')[0]!)
          .join(';'),
        hosts,
      );
      assert.deepEqual(again.events.map(strip), plan.events.map(strip));
      assert.deepEqual(
        plan.events.map(formatFaultEvent),
        again.events.map((e) => e.source),
      );
      assert.deepEqual(
        faultyNodes(plan).faulty.map((x) => x.node),
        faulty,
      );
      const schedules = faultSchedules(plan);
      assert.equal(schedules.length, p.n);
      for (const s of schedules) {
        const lines = s.split('\n').slice(0, -1);
        for (const line of lines)
          assert.match(line, /^\d+ (kill|term|stop|cont|restart|unslow|slow 0\.\d+|(un)?drop( node\d+)+)$/);
        const times = lines.map((l) => Number(l.split(' ')[0]));
        assert.deepEqual(
          times,
          [...times].sort((a, b) => a - b),
          'in time order',
        );
      }
    }),
    { numRuns: 100 },
  );
});

test('property: any text is a plan or a one-line UsageError, never anything else', () => {
  const alphabet = [...'crashstoppauseisolatepartitionslowrestartrandomnode0123456789@-|,;:=.smh '];
  const planish = fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 60 });
  const tokens = fc
    .array(
      fc.constantFrom(
        'crash:',
        'stop:',
        'pause:',
        'partition:',
        'isolate:',
        'slow:',
        'restart:',
        'random:',
        '1',
        '4',
        '9',
        '1-4',
        '|',
        '5-8',
        'node3',
        '@',
        '3s',
        '-',
        '12s',
        '0',
        '2.5s',
        'ms',
        ',cpu=0.2',
        ',cpu=',
        ';',
        '25h',
        ' ',
      ),
      { maxLength: 14 },
    )
    .map((a) => a.join(''));
  fc.assert(
    fc.property(fc.oneof(fc.string(), planish, tokens), fc.option(fc.string({ maxLength: 8 })), (spec, seed) => {
      try {
        parseFaultPlan(spec, H8, seed ?? undefined);
      } catch (e) {
        if (!(e instanceof UsageError || (spec.trim().startsWith('[') && e instanceof InputError))) throw e;
        assert.doesNotMatch(e.message, /\n/);
      }
    }),
    { numRuns: 2000 },
  );
});

test('property: any JSON is a plan or an InputError; any text is read as faults.log without throwing', () => {
  const event = fc.record(
    {
      kind: fc.constantFrom('crash', 'stop', 'pause', 'partition', 'isolate', 'slow', 'restart', 'random', 'x'),
      nodes: fc.oneof(
        fc.constantFrom('1', '1-4', 'node2', '9'),
        fc.array(fc.oneof(fc.integer({ min: -1, max: 9 }), fc.constant('2-3'))),
      ),
      groups: fc.array(fc.constantFrom('1-4', '5-8', '4', [1, 2]), { maxLength: 3 }),
      at: fc.oneof(fc.double(), fc.constantFrom('3s', '1m', 'x', '-1s')),
      until: fc.oneof(fc.double(), fc.constantFrom('12s', '2s')),
      cpu: fc.oneof(fc.double(), fc.constantFrom('0.2', 'x')),
      count: fc.integer({ min: -1, max: 10 }),
    },
    { requiredKeys: ['kind'] },
  );
  fc.assert(
    fc.property(fc.oneof(fc.array(event, { maxLength: 4 }), fc.jsonValue()), (doc) => {
      try {
        parseFaultPlanJson(JSON.stringify(doc) ?? 'null', 'f.json', H8, 'seed');
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
      }
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.string(), (text) => {
      const { events, malformed } = parseFaultsLog(text);
      assert.ok(Array.isArray(events) && Array.isArray(malformed));
    }),
  );
});

test('plans no node could carry out are refused, naming the limit (issue 30, class 5)', () => {
  // A cut that cuts nobody off: every node isolated, or one side all down for good when it starts.
  assert.throws(
    () => parseFaultPlan('isolate:1-8@4s', H8),
    (e: Error) =>
      e instanceof UsageError &&
      e.message ===
        '--faults "isolate:1-8@4s": isolates every node of the 8-node committee, which cuts nobody off; leave at least one out',
  );
  assert.throws(
    () => parseFaultPlanJson('[{"kind": "isolate", "nodes": "1-4", "at": 1, "until": 2}]', 'f.json', hostsOf(4)),
    (e: Error) => e instanceof InputError && /^f\.json:\[0\]: isolates every node/.test(e.message),
  );
  assert.throws(
    () => parseFaultPlan('crash:3@2s;isolate:3@4s-9s', hostsOf(4)),
    /^UsageError: --faults "isolate:3@4s-9s": cuts nobody off: at 4 s every node on one side of it is down for good/,
  );
  assert.throws(
    () => parseFaultPlan('stop:5-8@1s;partition:1-4|5-8@3s-15s', H8),
    /"partition:1-4\|5-8@3s-15s": cuts nobody off/,
  );
  // A node down for good is left out of the cuts after it (its name no longer resolves); one restarted stays in.
  assert.deepEqual(faultSchedules(parseFaultPlan('crash:4@1s;isolate:1@2s-3s', hostsOf(4))), [
    '2000 drop node2 node3\n3000 undrop node2 node3\n',
    '2000 drop node1\n3000 undrop node1\n',
    '2000 drop node1\n3000 undrop node1\n',
    '1000 kill\n',
  ]);
  assert.match(
    faultSchedules(parseFaultPlan('crash:4@1s;restart:4@1.5s;isolate:1@2s-3s', hostsOf(4)))[0]!,
    /^2000 drop node2 node3 node4\n/,
  );

  // What a node can be handed: its schedule is one environment string (MAX_ARG_STRLEN, 131072 bytes).
  const h256 = hostsOf(256);
  const cuts = (count: number) =>
    Array.from({ length: count }, (_, i) => `partition:1-128|129-256@${2 * i + 1}s-${2 * i + 2}s`).join(';');
  assert.equal(parseFaultPlan(cuts(10), h256).events.length, 10, '10 cuts over 256 nodes fit');
  assert.throws(
    () => parseFaultPlan(cuts(80), h256),
    (e: Error) =>
      e instanceof UsageError &&
      /^--faults: node1's schedule takes \d+ bytes as its environment string GOMEL_FAULTS \(base64\), and Linux starts no process with one over 131072 \(MAX_ARG_STRLEN\); give that node fewer events or smaller cuts$/.test(
        e.message,
      ),
  );
  // ... and the plan is a label of every service: at most 256 KiB of JSON.
  const crashes = Array.from(
    { length: 2000 },
    (_, i) => `crash:${(i % 8) + 1}@${2 * i + 1}s;restart:${(i % 8) + 1}@${2 * i + 2}s`,
  );
  assert.throws(
    () => parseFaultPlan(crashes.join(';'), H8),
    (e: Error) =>
      e instanceof UsageError &&
      /^--faults: the plan's record is \d+ bytes of JSON, and every node's service carries it as a label of at most 262144 bytes; give fewer events$/.test(
        e.message,
      ),
  );
  assert.ok(parseFaultPlan(crashes.slice(0, 500).join(';'), H8), '1000 events fit');
});
