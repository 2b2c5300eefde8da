// Progress while a run goes on, and the stall that ends `up`'s wait (src/core/logs/live-progress.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { committeeProgress, describeProgress, lastProgress, StallWatch } from '../src/core/logs/live-progress.js';

test("the last progress line of a node's output tail; other lines are ignored", () => {
  assert.deepEqual(lastProgress('gomelctl-progress 10.5 3 12 0\nsomething else\ngomelctl-progress 13.5 4 20 1\n'), {
    wall: 13.5,
    level: 4,
    ordered: 20,
    faults: 1,
  });
  assert.deepEqual(lastProgress('gomelctl-progress 10.5 - 0 0'), {
    wall: 10.5,
    level: undefined,
    ordered: 0,
    faults: 0,
  });
  assert.equal(lastProgress('gomelctl-progress x 1 2 3\n'), undefined);
});

test('the committee: level min/median/max (midpoint for an even count), most units ordered, faults applied', () => {
  const p = committeeProgress(
    [
      { wall: 1, level: 10, ordered: 50, faults: 1 },
      { wall: 1, level: 13, ordered: 70, faults: 0 },
      undefined,
      { wall: 1, level: 12, ordered: 60, faults: 1 },
      { wall: 1, level: 11, ordered: 55, faults: 0 },
    ],
    4,
  );
  assert.deepEqual(p, { level: { min: 10, median: 11.5, max: 13 }, ordered: 70, alive: 4, total: 5, faults: 2 });
  assert.equal(
    describeProgress(p, 12.4),
    'up: 12 s — level 10/11.5/13 (min/median/max), 70 units ordered, 4/5 nodes alive, 2 fault action(s) applied',
  );
  assert.equal(
    describeProgress(committeeProgress([undefined], 1), 3),
    'up: 3 s — no prime unit yet, 0 units ordered, 1/1 nodes alive',
  );
});

test('a stall: no node ordered a new unit and no level rose for the stall time; a node that finished does not count as stalled', () => {
  const at = (level: number, ordered: number) => committeeProgress([{ wall: 0, level, ordered, faults: 0 }], 1);
  const watch = new StallWatch(6);
  assert.equal(
    watch.update(committeeProgress([undefined], 1), new Map(), 0),
    false,
    'before gomel runs there is nothing to stall',
  );
  assert.equal(watch.update(at(1, 0), new Map([['a', 0]]), 1), false);
  assert.equal(
    watch.update(
      at(5, 20),
      new Map([
        ['a', 20],
        ['b', 30],
      ]),
      4,
    ),
    false,
  );
  // b finished and dropped out; a still orders, below b's count: not a stall.
  assert.equal(watch.update(at(6, 25), new Map([['a', 25]]), 9), false);
  assert.equal(watch.update(at(6, 25), new Map([['a', 25]]), 14), false);
  assert.equal(watch.update(at(6, 25), new Map([['a', 25]]), 15), true);
  assert.equal(watch.idleFor(15), 6);
  // Without a given time: max(20 s, 10 rounds), a round ≈ the time to the last new unit over the highest level then.
  const auto = new StallWatch();
  auto.update(at(1, 1), new Map([['a', 1]]), 0);
  assert.equal(auto.threshold(), 20, 'at least 20 s');
  auto.update(at(10, 40), new Map([['a', 40]]), 100);
  assert.equal(auto.threshold(), 100, '10 rounds of 10 s');
  // Stalled at level 10: the estimate stays as it was at the last new unit, so the stall ends the wait.
  assert.equal(auto.update(at(10, 40), new Map([['a', 40]]), 150), false);
  assert.equal(auto.threshold(), 100);
  assert.equal(auto.update(at(10, 40), new Map([['a', 40]]), 200), true);
  // Levels that keep rising while the order lags are no stall; levels and order both still are.
  const lagging = new StallWatch(10);
  lagging.update(at(14, 549), new Map([['a', 549]]), 0);
  for (const [t, level] of [
    [5, 20],
    [10, 26],
    [15, 31],
    [20, 35],
  ] as const)
    assert.equal(lagging.update(at(level, 549), new Map([['a', 549]]), t), false, `level ${level} at ${t} s`);
  assert.equal(lagging.update(at(35, 549), new Map([['a', 549]]), 29), false);
  assert.equal(lagging.update(at(35, 549), new Map([['a', 549]]), 30), true, 'ten seconds without a new level or unit');
  // Levels that climb on for three stall times without a new ordered unit: the ordering itself stalled.
  const unordered = new StallWatch(10);
  unordered.update(at(5, 100), new Map([['a', 100]]), 0);
  let t = 0;
  let stalled = false;
  for (let level = 6; level < 20 && !stalled; level++)
    stalled = unordered.update(at(level, 100), new Map([['a', 100]]), (t += 5));
  assert.equal(stalled, true, 'a stall once the climb outlasts three stall times');
  assert.ok(t >= 30 && t <= 45, `called after ${t} s`);
});
