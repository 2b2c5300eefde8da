// Live faults (gomelctl fault, core/faults/live.ts): each action turned into the
// nodes' requests, bad ones refused in one line, and what the nodes applied folded
// into the run's fault record the verdict judges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOTHING_TO_HEAL, parseLiveFault, recordLiveFault, type LiveAnswer } from '../src/core/faults/live.js';
import { faultyNodes, parseFaultPlan, type FaultLogEvent } from '../src/core/faults/plan.js';
import { UsageError } from '../src/core/errors.js';

const HOSTS = Array.from({ length: 8 }, (_, i) => `node${i + 1}`);
const requests = (action: string, nodes?: string, cpu?: string) =>
  Object.fromEntries(parseLiveFault(action, nodes, HOSTS, cpu).requests);
const applied = (node: number, atMs: number, action = 'x', ok = true): LiveAnswer => ({
  node,
  event: { line: 1, wall: 1e9 + atMs / 1000, atMs, action, args: [], ok } as FaultLogEvent,
});

test('each live action becomes the faults.sh line of the nodes it reaches', () => {
  assert.deepEqual(requests('crash', '7,8'), { 7: 'kill', 8: 'kill' });
  assert.deepEqual(requests('stop', 'node2'), { 2: 'term' });
  assert.deepEqual(requests('pause', '2'), { 2: 'stop' });
  assert.deepEqual(requests('resume', '1-2'), { 1: 'resume', 2: 'resume' });
  assert.deepEqual(requests('slow', '3', '0.2'), { 3: 'slow 0.2' });
  // Both sides of a cut drop the other: it holds even where one side's rule fails.
  assert.deepEqual(requests('partition', '1-2|3-4'), {
    1: 'drop node3 node4',
    2: 'drop node3 node4',
    3: 'drop node1 node2',
    4: 'drop node1 node2',
  });
  assert.deepEqual(requests('isolate', '3'), {
    3: 'drop node1 node2 node4 node5 node6 node7 node8',
    1: 'drop node3',
    2: 'drop node3',
    4: 'drop node3',
    5: 'drop node3',
    6: 'drop node3',
    7: 'drop node3',
    8: 'drop node3',
  });
  assert.deepEqual(Object.keys(requests('heal')).map(Number), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(requests('heal', '1-2'), { 1: 'heal', 2: 'heal' });
  assert.equal(parseLiveFault('partition', '1|2', HOSTS).needsNetAdmin, true);
  assert.equal(parseLiveFault('pause', '1', HOSTS).needsNetAdmin, false);
});

test('bad live faults are one line each, before anything is sent', () => {
  const refused: [string, string | undefined, string | undefined, RegExp][] = [
    [
      'explode',
      '1',
      undefined,
      /^fault explode 1: unknown action "explode"; the actions are crash, stop, pause, resume, slow, partition, isolate, heal, mute, selective, unmute$/,
    ],
    ['crash', undefined, undefined, /^fault crash: no nodes; give e\.g\. fault crash 7,8$/],
    ['crash', '9', undefined, /node 9 is not in the 8-node committee/],
    ['pause', 'node12', undefined, /"node12" is not a node/],
    ['slow', '3', undefined, /slow needs --cpu <fraction>/],
    ['slow', '3', '1.5', /cpu=1\.5: give the fraction/],
    ['pause', '3', '0.5', /--cpu is for slow only/],
    ['partition', '1-4', undefined, /a partition needs two groups or more/],
    ['partition', '1-4|4-8', undefined, /node 4 is in two groups/],
    ['isolate', '1-8', undefined, /isolates every node/],
  ];
  for (const [action, nodes, cpu, message] of refused) {
    assert.throws(
      () => parseLiveFault(action, nodes, HOSTS, cpu),
      (e: Error) => e instanceof UsageError && message.test(e.message) && !e.message.includes('\n'),
      `${action} ${nodes}`,
    );
  }
});

test('the record: a crash makes its nodes faulty; a pause is faulty until resumed, then only delayed; a heal closes the partition', () => {
  const crash = parseLiveFault('crash', '7,8', HOSTS);
  // node8 did not apply it (its gomel had exited): only node7 is recorded.
  let plan = recordLiveFault(undefined, HOSTS, crash, [
    applied(7, 4200),
    { node: 8, problem: 'not running (complete)' },
  ]);
  assert.deepEqual(
    plan.events.map((e) => [e.kind, e.nodes, e.atMs, e.source]),
    [['crash', [7], 4200, 'live: fault crash 7,8']],
  );
  const pause = parseLiveFault('pause', '2', HOSTS);
  plan = recordLiveFault(plan, HOSTS, pause, [applied(2, 5000)]);
  assert.deepEqual(
    faultyNodes(plan).faulty.map((f) => f.node),
    [2, 7],
    'paused for good until resumed',
  );
  plan = recordLiveFault(plan, HOSTS, parseLiveFault('resume', '2', HOSTS), [applied(2, 15_000)]);
  const { faulty, delayed } = faultyNodes(plan);
  assert.deepEqual([faulty.map((f) => f.node), delayed.map((f) => f.node)], [[7], [2]]);
  assert.match(delayed[0]!.why, /^paused by gomelctl fault 5 s–15 s$/);
  // A partition over a planned run: the plan's events stay, the live one joins them in time order.
  const planned = parseFaultPlan('crash:1@3s', HOSTS);
  const cut = parseLiveFault('partition', '1-4|5-8', HOSTS);
  let merged = recordLiveFault(
    planned,
    HOSTS,
    cut,
    [1, 2, 3, 4, 5, 6, 7, 8].map((k) => applied(k, 6000 + k)),
  );
  assert.deepEqual(
    merged.events.map((e) => [e.kind, e.atMs, e.untilMs]),
    [
      ['crash', 3000, undefined],
      ['partition', 6001, undefined],
    ],
  );
  assert.deepEqual(merged.events[1]!.groups, [
    [1, 2, 3, 4],
    [5, 6, 7, 8],
  ]);
  // Healed on one node only: the others still drop, the cut stays open.
  const heal = parseLiveFault('heal', undefined, HOSTS);
  assert.equal(recordLiveFault(merged, HOSTS, heal, [applied(3, 21_000)]).events[1]!.untilMs, undefined);
  // Every node healed, had nothing to heal, or no longer runs: closed at the first heal.
  const nothing: LiveAnswer = {
    node: 2,
    event: { line: 1, wall: 1, atMs: 21_500, action: 'heal', args: [], ok: false, reason: NOTHING_TO_HEAL },
  };
  const answers = [
    applied(1, 21_000),
    nothing,
    { node: 3, problem: 'not running (failed)' },
    ...[4, 5, 6, 7, 8].map((k) => applied(k, 21_100)),
  ];
  merged = recordLiveFault(merged, HOSTS, heal, answers);
  assert.equal(merged.events[1]!.untilMs, 21_000);
  assert.deepEqual(
    faultyNodes(merged).faulty.map((f) => f.node),
    [1],
    'healed: the partition only delayed its nodes',
  );
  assert.equal(planned.events.length, 1, 'the record given is not changed in place');
  // A pause of two nodes and a resume of one: the other stays paused (faulty), the resumed one is delayed.
  let two = recordLiveFault(undefined, HOSTS, parseLiveFault('pause', '2,3', HOSTS), [
    applied(2, 1000),
    applied(3, 1010),
  ]);
  two = recordLiveFault(two, HOSTS, parseLiveFault('resume', '2', HOSTS), [applied(2, 9000)]);
  assert.deepEqual(
    [faultyNodes(two).faulty.map((f) => f.node), faultyNodes(two).delayed.map((f) => f.node)],
    [[3], [2]],
  );
  // An isolation is closed only once every node healed (all of them drop the isolated one).
  const iso = recordLiveFault(
    undefined,
    HOSTS,
    parseLiveFault('isolate', '3', HOSTS),
    HOSTS.map((_, i) => applied(i + 1, 500)),
  );
  assert.equal(
    recordLiveFault(iso, HOSTS, parseLiveFault('heal', '3', HOSTS), [applied(3, 2000)]).events[0]!.untilMs,
    undefined,
  );
  assert.equal(
    recordLiveFault(
      iso,
      HOSTS,
      heal,
      HOSTS.map((_, i) => applied(i + 1, 2000)),
    ).events[0]!.untilMs,
    2000,
  );
  // Nothing applied: nothing recorded.
  assert.deepEqual(recordLiveFault(undefined, HOSTS, pause, [applied(2, 100, 'stop', false)]).events, []);
});
