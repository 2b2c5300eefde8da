// When a node's gomel says it dropped log entries (src/core/logs/dropped-lines.ts): its order is no
// evidence of consensus, and proves a fork only against an order that lost nothing. Hostile passes
// 20–25 found each finer rule wrong: the cases below were honest runs judged a FORK, or forks hidden.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contradicts as contradictsOrder, wholeOrder } from '../src/core/logs/dropped-lines.js';
import { unitKey } from '../src/core/logs/log-stats.js';
import { droppedLogEntries, stderrBesideDrops } from '../src/core/logs/shutdown.js';

/** "c:h c:h …" as unit keys. */
const units = (text: string) =>
  text
    .split(' ')
    .filter(Boolean)
    .map((u) => unitKey(...(u.split(':').map(Number) as [number, number]))!);

const none = () => false;
const contradicts = (w: number[], lossy: number[], skip: (unit: number) => boolean = none) =>
  contradictsOrder(wholeOrder(w, skip), lossy, skip);

// Four creators, heights 0..2 each, in round order: 12 units.
const whole = units('0:0 1:0 2:0 3:0 0:1 1:1 2:1 3:1 0:2 1:2 2:2 3:2');

test('lost lines only take units out: gaps anywhere, and units beyond a whole order that ends early, contradict nothing', () => {
  assert.equal(
    contradicts(
      whole,
      whole.filter((_, i) => i !== 2 && i !== 7),
    ),
    false,
    'two gaps',
  );
  assert.equal(
    contradicts(
      whole.slice(0, 4),
      whole.filter((_, i) => i !== 6),
    ),
    false,
    'a short whole order',
  );
  assert.equal(contradicts(whole, [...whole.slice(0, 11), ...units('0:3 1:3')]), false, 'beyond its end');
  assert.equal(contradicts(whole, units('3:2')), false, 'its last unit alone');
});

test('a unit both show, the other way round, or one the whole order lacks before one it has, is a fork', () => {
  const swapped = [...whole];
  [swapped[4], swapped[6]] = [swapped[6]!, swapped[4]!];
  assert.equal(contradicts(whole, swapped), true);
  assert.equal(contradicts(whole, [...whole.slice(0, 4), ...units('3:9'), ...whole.slice(4)]), true);
});

test("a twin's units (both versions of one key, ordered by every node) prove nothing either way (hostile passes 24, 25)", () => {
  const twin = (unit: number) => Math.floor(unit / 2 ** 32) === 2;
  const withTwin = [...whole.slice(0, 7), ...units('2:1'), ...whole.slice(7)];
  assert.equal(
    contradicts(
      withTwin,
      withTwin.filter((_, i) => i !== 3),
      twin,
    ),
    false,
  );
  // A node that lost the first version's line shows the second one later: no fork either.
  const secondOnly = [...whole.filter((_, i) => i !== 6), ...units('2:1')];
  assert.equal(contradicts(whole, secondOnly, twin), false);
  assert.equal(contradicts(whole, secondOnly), true, 'not a twin: a unit out of order');
});

test("a unit a liar's whole order repeats counts where it came first: it shields no order put the other way round (hostile pass 25)", () => {
  const swapped = [...whole];
  [swapped[4], swapped[6]] = [swapped[6]!, swapped[4]!];
  assert.equal(contradicts([...whole, whole[4]!], swapped), true);
  assert.equal(contradicts([...whole, whole[6]!], swapped), true);
});

test("gomel's log diode's words on stderr: the entries it dropped, summed; its set collisions are no error (hostile pass 23)", () => {
  const stderr = [
    'WARNING: Dropped 3 log entries',
    '2026/12/08 00:00:01 Diode set collision: consider using a larger diode',
    'WARNING: Dropped 2 log entries',
    'Diode set collision: consider using a larger diode',
  ].join('\n');
  assert.equal(droppedLogEntries(stderr), 5);
  assert.equal(stderrBesideDrops(stderr), '');
  assert.equal(stderrBesideDrops(`${stderr}\npanic: x`), 'panic: x');
  assert.equal(droppedLogEntries('WARNING: Dropped 1234567890123456 log entries'), 0, 'no diode drops 10^15');
});
