// When a node's own gomel says its log lost lines. gomel e8d0088 logs through zerolog's diode, a
// ring of LogBuffer entries (conf.json): when the writer falls that far behind, the diode drops
// entries and gomel prints "WARNING: Dropped <n> log entries" on stderr (pkg/logging/log_config.go),
// once per drop. Ordered units' lines ("Z") go with the rest, anywhere in the log.
//
// Such an order is no evidence of consensus, and proves a fork only against an order that lost
// nothing: a unit both show, in the other order, or one the whole order lacks before one it has
// (lost lines only take units out). Gaps prove nothing, nor do two lossy orders against each other.
// Hostile passes 20–24 beat every finer rule (one gap; gaps counted against the entries dropped and
// each creator's heights; lossy orders fitted into one): honest drop patterns became FORKs, liars'
// orders made correct nodes' gaps count, and the checks grew with N² orders.
// Pure: orders are unitKey numbers (log-stats.ts).

/**
 * A whole order (a node that logged every unit it ordered, perhaps stopping early), indexed: each unit at
 * its first place. A unit `skip` names (a twin's: every node orders both its versions, one key) is left
 * out, and a unit ordered again (a liar's) counts where it came first: it cannot shield an order that
 * puts two units the other way round (hostile passes 24, 25).
 */
export interface WholeOrder {
  position: ReadonlyMap<number, number>;
}

export function wholeOrder(order: readonly number[], skip: (unit: number) => boolean): WholeOrder {
  const position = new Map<number, number>();
  for (const [i, unit] of order.entries()) if (!skip(unit) && !position.has(unit)) position.set(unit, i);
  return { position };
}

/**
 * Whether a lossy order contradicts a whole one: two units both show, the other way round, or a unit the
 * whole order lacks before one it has. A whole order that ends early ends before any unit it lacks.
 */
export function contradicts(whole: WholeOrder, lossy: readonly number[], skip: (unit: number) => boolean): boolean {
  const seen = new Set<number>();
  let last = -1;
  let beyond = false;
  for (const unit of lossy) {
    if (skip(unit) || seen.has(unit)) continue;
    seen.add(unit);
    const i = whole.position.get(unit);
    if (i === undefined) beyond = true;
    else if (beyond || i <= last) return true;
    else last = i;
  }
  return false;
}

/** What the verdict says of a node whose gomel dropped `dropped` log entries, and contradicts no whole order. */
export const droppedLinesReason = (dropped: number): string =>
  `gomel says it dropped ${dropped} log entries (stderr.txt): lines lost from its log`;
