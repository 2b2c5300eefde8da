// Faults that lie (issue 34), as planned: twin:K (one key, two instances, each reachable by one half
// of the other nodes). Pure: the grammar, its record, and what it makes of each node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError, UsageError } from '../src/core/errors.js';
import {
  describeFaultPlan,
  faultSchedules,
  faultyNodes,
  formatFaultEvent,
  needsNetAdmin,
  parseFaultPlan,
  parseFaultPlanJson,
  readFaultRecord,
  type FaultEvent,
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
    ['twin:3;twin:3', /node3 runs as twins/],
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
});
