// Faults that lie (issue 34): twin:K (one key, two instances, each reachable by one half of the other
// nodes), mute:K (it hears, nothing it sends leaves) and selective:K,to=… (it talks to some peers only),
// planned and live. Pure: the grammar, its record, each node's schedule, and the evidence rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError, UsageError } from '../src/core/errors.js';
import { faultsApplied } from '../src/core/faults/evidence.js';
import { parseLiveFault, recordLiveFault, type LiveAnswer } from '../src/core/faults/live.js';
import {
  describeFaultPlan,
  faultSchedules,
  faultyNodes,
  formatFaultEvent,
  needsNetAdmin,
  parseFaultPlan,
  parseFaultPlanJson,
  parseFaultsLog,
  readFaultRecord,
  type FaultEvent,
  type FaultLogEvent,
} from '../src/core/faults/plan.js';

const hostsOf = (n: number) => Array.from({ length: n }, (_, i) => `node${i + 1}`);
const H8 = hostsOf(8);
const strip = (e: FaultEvent) => {
  const { source: _s, ...rest } = e;
  return rest;
};
const one = (spec: string, hosts = H8) => strip(parseFaultPlan(spec, hosts).events[0]!);

test('twin:K: from the start, the other nodes in two halves (the first reaches node K, the second its twin); named halves leave K out', () => {
  assert.deepEqual(one('twin:3'), {
    kind: 'twin',
    nodes: [3],
    groups: [
      [1, 2, 4, 5],
      [6, 7, 8],
    ],
    atMs: 0,
  });
  // N = 4: f = 1, the twin splits the three others 2 | 1.
  assert.deepEqual(one('twin:1', hostsOf(4)).groups, [[2, 3], [4]]);
  assert.deepEqual(one('twin:node3,groups=1-4|5-8').groups, [
    [1, 2, 4],
    [5, 6, 7, 8],
  ]);
  assert.deepEqual(one('twin:3,groups=5,7|1-2,4,6,8').groups, [
    [5, 7],
    [1, 2, 4, 6, 8],
  ]);
  const plan = parseFaultPlan('twin:3;crash:7@5s', H8);
  assert.equal(needsNetAdmin(plan), true, 'the halves are iptables rules');
  assert.equal(faultSchedules(plan)[2], '', "a twin's halves are set before gomel starts, not on its schedule");
  assert.deepEqual(
    faultyNodes(plan).faulty.map((x) => [x.node, x.why]),
    [
      [3, 'a twin: two instances with one key (node3, node3-twin) from the start'],
      [7, 'crashed at 5 s'],
    ],
  );
  assert.equal(
    describeFaultPlan(plan)[0],
    'twin:3,groups=1-2,4-5|6-8  node3 runs as two instances with one key from the start: node3 reached by node1, node2, node4, node5; node3-twin by node6, node7, node8',
  );
  // The short form reads back to the same event, and the record (a service label) reads back.
  const e = plan.events[0]!;
  assert.deepEqual(one(formatFaultEvent(e)), strip(e));
  assert.deepEqual(readFaultRecord(JSON.stringify(plan)), plan);
});

test('twin in a JSON plan: nodes and groups', () => {
  const plan = parseFaultPlanJson('[{"kind": "twin", "nodes": "3", "groups": ["1-4", "5-8"]}]', 'f.json', H8);
  assert.deepEqual(strip(plan.events[0]!), one('twin:3,groups=1-4|5-8'));
  assert.deepEqual(
    parseFaultPlanJson('[{"kind": "twin", "nodes": 3}]', 'f.json', H8).events[0]!.groups,
    one('twin:3').groups,
  );
  const bad: [string, RegExp][] = [
    [
      '[{"kind": "twin", "nodes": "3", "at": "2s"}]',
      /^f\.json:\[0\]\.at: a twin takes nodes and groups: it runs from the start$/,
    ],
    ['[{"kind": "twin", "nodes": "3,4"}]', /^f\.json:\[0\]\.nodes: a twin is one node/],
    [
      '[{"kind": "twin", "nodes": "3", "groups": ["1-4"]}]',
      /^f\.json:\[0\]\.groups: a partition needs two groups or more/,
    ],
    [
      '[{"kind": "twin", "nodes": "3", "groups": ["1-2", "5-8"]}]',
      /^f\.json:\[0\]\.groups: node 4 is in neither group/,
    ],
  ];
  for (const [text, want] of bad)
    assert.throws(
      () => parseFaultPlanJson(text, 'f.json', H8),
      (e: Error) => e instanceof InputError && want.test(e.message),
      text,
    );
});

test('bad twins: one line each, naming the event (exit 2)', () => {
  const bad: [string, RegExp][] = [
    ['twin:3@2s', /a twin runs from the start, with no time; give twin:3 or twin:3,groups=1-4\|5-8$/],
    ['twin', /no node; give twin:3/],
    ['twin:3,4', /one node a twin: give twin:3, and another node's twin as an event of its own$/],
    ['twin:3-4', /one node a twin: give twin:3/],
    ['twin:9', /node 9 is not in the 8-node committee/],
    ['twin:3,groups=1-4|5-7', /node 8 is in neither group; every other node reaches one twin$/],
    ['twin:3,groups=1-2|4-5|6-8', /a twin splits the other nodes in two groups, not 3$/],
    ['twin:3,groups=3|1-2,4-8', /each twin needs a group of nodes that reach it; a group holds only node 3 itself$/],
    ['twin:3,cpu=0.5', /unknown key "cpu=0.5"; a twin takes groups=<nodes>\|<nodes>$/],
    ['twin:3;crash:3@2s', /"crash:3@2s": node3 runs as twins \("twin:3"\); a twin takes no other fault/],
    ['twin:3;partition:1-3|4-8@1s-2s', /node3 runs as twins/],
    // Hostile pass 9: said "node3 runs as twins (…); a twin takes no other fault" of a twin given twice.
    ['twin:3;twin:3', /"twin:3": node3 is given a twin twice \("twin:3" and "twin:3"\); give its twin once$/],
    ['twin:3;twin:3,groups=1-4|5-8', /node3 is given a twin twice \("twin:3" and "twin:3,groups=1-4\|5-8"\)/],
    [
      'twin:3;isolate:5@1s-2s',
      /"isolate:5@1s-2s": cuts nodes off in a plan with a twin \("twin:3"\), whose second instance carries no schedule/,
    ],
  ];
  for (const [spec, want] of bad)
    assert.throws(
      () => parseFaultPlan(spec, H8),
      (e: Error) => e instanceof UsageError && want.test(e.message) && e.message.startsWith('--faults'),
      spec,
    );
  assert.throws(
    () => parseFaultPlan('twin:1', hostsOf(2)),
    /a twin needs two other nodes or more to split, and the committee has 2/,
  );
  const long = ['a'.repeat(60), 'b', 'c', 'd'];
  assert.throws(
    () => parseFaultPlan('twin:1', long),
    /the service a{60}-twin, over the 63 characters of a service name/,
  );
  // Two services of one name cannot be (hostile pass 21).
  assert.throws(
    () => parseFaultPlan('twin:1', ['a', 'a-twin', 'c', 'd']),
    /a's twin would be the service a-twin, which is already a committee host's; rename that host/,
  );
});

test('mute:K and selective:K,to=…: windows or for good; each node mutes itself toward the peers it lies to', () => {
  assert.deepEqual(one('mute:7@3s'), { kind: 'mute', nodes: [7], atMs: 3000 });
  assert.deepEqual(one('mute:6,7@3s-10s'), { kind: 'mute', nodes: [6, 7], atMs: 3000, untilMs: 10000 });
  assert.deepEqual(one('selective:3@2s-9s,to=1-2,4'), {
    kind: 'selective',
    nodes: [3],
    atMs: 2000,
    untilMs: 9000,
    to: [1, 2, 4],
  });
  const plan = parseFaultPlan('mute:7@3s;selective:3@2s-9s,to=1-2,4;crash:8@1s', H8);
  assert.equal(needsNetAdmin(plan), true);
  const s = faultSchedules(plan);
  assert.equal(s[6], '3000 mute node1 node2 node3 node4 node5 node6\n', 'not toward node8, down for good before');
  assert.equal(s[2], '2000 mute node5 node6 node7\n9000 unmute node5 node6 node7\n');
  assert.deepEqual(
    faultyNodes(plan).faulty.map((x) => [x.node, x.why]),
    [
      [7, 'muted at 3 s for good'],
      [8, 'crashed at 1 s'],
    ],
  );
  assert.deepEqual(
    faultyNodes(plan).delayed.map((x) => [x.node, x.why]),
    [[3, 'selective (talks only to node1, node2, node4) 2 s–9 s']],
  );
  for (const e of plan.events) assert.deepEqual(one(formatFaultEvent(e)), strip(e), formatFaultEvent(e));
  assert.deepEqual(describeFaultPlan(plan).slice(1), [
    'selective:3@2s-9s,to=1-2,4  node3 talks only to node1, node2, node4, mute to the others, from 2 s, until 9 s',
    'mute:7@3s  node7 muted (it hears its peers; nothing it sends reaches them) from 3 s, for good',
  ]);
  assert.deepEqual(readFaultRecord(JSON.stringify(plan)), plan);
  const json = parseFaultPlanJson(
    '[{"kind": "selective", "nodes": 3, "at": 2, "until": "9s", "to": [1, 2, "4"]}]',
    'f.json',
    H8,
  );
  assert.deepEqual(strip(json.events[0]!), one('selective:3@2s-9s,to=1-2,4'));
});

test('bad mutes: one line each (exit 2)', () => {
  const bad: [string, RegExp][] = [
    ['mute:7', /no time; give mute:<nodes>@<time>, e\.g\. mute:7@3s-10s$/],
    ['mute:7@3s,to=1', /mute takes no keys \(to=1\)$/],
    [
      'selective:3@2s',
      /selective needs to=<nodes>, the nodes it still talks to, last: e\.g\. selective:3@2s-9s,to=1-4$/,
    ],
    ['selective:3@2s,to=3', /to=3 names no other node; a node that talks to none is mute:<nodes>@<time>$/],
    ['selective:3@2s,to=1-2,4-8', /to=1-2,4-8 names every other node: that is no lie; name fewer, or use mute$/],
    ['selective:3@2s,to=9', /node 9 is not in the 8-node committee/],
    ['mute:7@3s;pause:7@4s-5s', /overlaps "mute:7@3s" on node7/],
  ];
  for (const [spec, want] of bad)
    assert.throws(
      () => parseFaultPlan(spec, H8),
      (e: Error) => e instanceof UsageError && want.test(e.message),
      spec,
    );
  assert.throws(
    () => parseFaultPlanJson('[{"kind": "selective", "nodes": 3, "at": 2}]', 'f.json', H8),
    /f\.json:\[0\]\.to: selective gives the nodes it still talks to/,
  );
  assert.throws(
    () => parseFaultPlanJson('[{"kind": "mute", "nodes": 3, "at": 2, "to": "1"}]', 'f.json', H8),
    /f\.json:\[0\]\.to: mute takes at, nodes, until$/,
  );
});

test('a node mute at its end is faulty, unmuted it is only delayed; a live unmute (no peers) undoes every mute', () => {
  const T0 = 1_800_000_000;
  const at = (lines: string[]) => parseFaultsLog(lines.map((l) => `${l}\n`).join('')).events;
  const four = ['node1', 'node2', 'node3', 'node4'];
  const plan = parseFaultPlan('mute:1@1s;selective:2@1s-5s,to=1;selective:3@2s,to=4', four);
  const nodes = [
    { label: 'node1', events: at([`${T0 + 1} 1000 mute node2 node3 node4 ok`]), startedAt: T0 },
    {
      label: 'node2',
      events: at([`${T0 + 1} 1000 mute node3 node4 ok`, `${T0 + 5} 5000 unmute node3 node4 ok`]),
      startedAt: T0,
    },
    { label: 'node3', events: at([`${T0 + 2} 2000 mute node1 node2 ok`]), startedAt: T0 },
    { label: 'node4', events: at([]), startedAt: T0 },
  ];
  assert.deepEqual(faultsApplied(plan, nodes).applied, [
    { label: 'node1', why: 'muted for good from 1 s as planned' },
    { label: 'node3', why: 'selectively muted for good from 2 s as planned' },
  ]);
  nodes[0]!.events = at([`${T0 + 1} 1000 mute node2 node3 node4 ok`, `${T0 + 7} 7000 unmute ok`]);
  assert.deepEqual(
    faultsApplied(plan, nodes).applied.map((x) => x.label),
    ['node3'],
  );
  // A mute line the record names no event for counts for nothing.
  nodes[3]!.events = at([`${T0 + 2} 2000 mute node1 ok`]);
  assert.match(
    faultsApplied(plan, nodes).inconsistent[0]!.why,
    /mute at 2 s, but the run's fault record names no such event/,
  );
});

test('live mute, selective, unmute: requests, refusals, and the record they leave (a mute open until unmuted)', () => {
  const req = (action: string, nodes: string, to?: string) =>
    Object.fromEntries(parseLiveFault(action, nodes, H8, undefined, to).requests);
  assert.deepEqual(req('mute', '7'), { 7: 'mute node1 node2 node3 node4 node5 node6 node8' });
  assert.deepEqual(req('selective', '3', '1-4'), { 3: 'mute node5 node6 node7 node8' });
  assert.deepEqual(req('unmute', '3,7'), { 3: 'unmute', 7: 'unmute' });
  assert.equal(parseLiveFault('mute', '7', H8).needsNetAdmin, true);
  const refused: [string, string, string | undefined, RegExp][] = [
    ['selective', '3', undefined, /selective needs --to <nodes>/],
    ['mute', '3', '1', /--to is for selective only/],
    ['selective', '3', '3', /--to: to=3 names no other node/],
    ['selective', '3', '1-2,4-8', /--to: to=1-2,4-8 names every other node/],
  ];
  for (const [action, nodes, to, want] of refused)
    assert.throws(
      () => parseLiveFault(action, nodes, H8, undefined, to),
      (e: Error) => e instanceof UsageError && want.test(e.message),
      `${action} ${nodes} ${to}`,
    );
  const ok = (node: number, atMs: number): LiveAnswer => ({
    node,
    event: { line: 1, wall: 1e9, atMs, action: 'x', args: [], ok: true } as FaultLogEvent,
  });
  let plan = recordLiveFault(undefined, H8, parseLiveFault('selective', '3', H8, undefined, '1-4'), [ok(3, 4000)]);
  plan = recordLiveFault(plan, H8, parseLiveFault('mute', '7', H8), [ok(7, 5000)]);
  assert.deepEqual(
    plan.events.map((e) => [e.kind, e.nodes, e.to, e.atMs, e.untilMs]),
    [
      ['selective', [3], [1, 2, 4], 4000, undefined],
      ['mute', [7], undefined, 5000, undefined],
    ],
  );
  plan = recordLiveFault(plan, H8, parseLiveFault('unmute', '7', H8), [ok(7, 9000)]);
  assert.deepEqual(
    faultyNodes(plan).faulty.map((x) => x.node),
    [3],
    'node7 unmuted is only delayed; node3 still lies to some',
  );
});
