// When a node's own gomel says its log lost lines. gomel e8d0088 logs through zerolog's diode, a
// ring of LogBuffer entries (conf.json): when the writer falls that far behind, the diode drops
// entries and gomel prints "WARNING: Dropped <n> log entries" on stderr (pkg/logging/log_config.go),
// once per drop. Ordered units' lines ("Z") go with the rest, anywhere in the log: such a node's
// order is the committee's with units missing, not evidence of a fork, unless no dropped line can
// explain it. Pure: orders are unitKey numbers (log-stats.ts), creator·2³² + height.

/** Each order's unit positions, made once per order: a node is held against every other (N² pairs). */
const positions = new WeakMap<readonly number[], Map<number, number>>();
function positionsOf(order: readonly number[]): Map<number, number> {
  let known = positions.get(order);
  if (!known) positions.set(order, (known = new Map(order.map((unit, i) => [unit, i]))));
  return known;
}

const creatorOf = (unit: number) => Math.floor(unit / 2 ** 32);
const heightOf = (unit: number) => unit % 2 ** 32;

/**
 * Whether a lossy order contradicts a whole one (a node that logged every ordered unit, perhaps
 * stopping early): a unit of both out of the whole one's order, or a unit the whole one lacks before
 * one it has. Lost lines only take units out; a whole order that ends early ends before any unit it
 * lacks.
 */
export function contradicts(whole: readonly number[], lossy: readonly number[]): boolean {
  const position = positionsOf(whole);
  let last = -1;
  let beyond = false;
  for (const unit of lossy) {
    const i = position.get(unit);
    if (i === undefined) beyond = true;
    else if (beyond || i <= last) return true;
    else last = i;
  }
  return false;
}

/** Whether two lossy orders put two units they share in opposite orders: no lost line does that. */
export function inverts(a: readonly number[], b: readonly number[]): boolean {
  const position = positionsOf(a);
  let last = -1;
  for (const unit of b) {
    const i = position.get(unit);
    if (i === undefined) continue;
    if (i <= last) return true;
    last = i;
  }
  return false;
}

/**
 * Whether some one order holds every given order as a subsequence, each creator's units in the order of
 * their heights (gomel orders a unit's parents first, its creator's previous unit among them): the union
 * of their successions and of each creator's heights has no cycle. Then no lost line is needed to tell
 * them apart (hostile pass 23: node1 showing 1:4 before 3:5 and node2 3:6 before 1:4, both with lines
 * lost, are a fork no shared unit shows). Kahn's algorithm, linear in the units (N² pairs of orders of
 * 20,000 units took 8 s at 64 nodes).
 */
export function oneOrderHoldsAll(orders: readonly (readonly number[])[]): boolean {
  const next = new Map<number, number[]>();
  const before = new Map<number, number>();
  const edge = (u: number, v: number) => {
    let after = next.get(u);
    if (!after) next.set(u, (after = []));
    after.push(v);
    before.set(v, before.get(v)! + 1);
  };
  for (const order of orders) for (const unit of order) if (!before.has(unit)) before.set(unit, 0);
  for (const order of orders) for (let i = 1; i < order.length; i++) edge(order[i - 1]!, order[i]!);
  const byCreator = new Map<number, number[]>();
  for (const unit of before.keys()) {
    let units = byCreator.get(creatorOf(unit));
    if (!units) byCreator.set(creatorOf(unit), (units = []));
    units.push(unit);
  }
  for (const units of byCreator.values()) {
    units.sort((x, y) => x - y);
    for (let i = 1; i < units.length; i++) edge(units[i - 1]!, units[i]!);
  }
  const ready = [...before].filter(([, n]) => n === 0).map(([unit]) => unit);
  let placed = 0;
  while (ready.length) {
    const unit = ready.pop()!;
    placed++;
    for (const v of next.get(unit) ?? []) {
      const left = before.get(v)! - 1;
      before.set(v, left);
      if (left === 0) ready.push(v);
    }
  }
  return placed === before.size;
}

/**
 * The units a lossy order must have ordered but does not show: those of a whole order (a node that
 * logged every unit it ordered) up to the last it shows, or all of them when it goes beyond; and each creator's
 * heights below the highest it shows (gomel orders a unit no later than its parents, its creator's
 * previous unit among them: a node that ordered 3:12 ordered 3:0…3:11). Counted, never listed: a
 * height of 2³² − 1 costs nothing.
 */
export function unitsNotShown(whole: readonly number[], lossy: readonly number[]): number {
  const shown = new Set(lossy);
  const position = positionsOf(whole);
  let last = -1;
  let beyond = false;
  for (const unit of shown) {
    const i = position.get(unit);
    if (i === undefined) beyond = true;
    else last = Math.max(last, i);
  }
  const top = new Map<number, number>();
  const count = new Map<number, number>();
  for (const unit of shown) {
    const c = creatorOf(unit);
    top.set(c, Math.max(top.get(c) ?? 0, heightOf(unit)));
    count.set(c, (count.get(c) ?? 0) + 1);
  }
  // Heights 0..top of each creator it shows, less those shown.
  let notShown = 0;
  for (const [c, h] of top) notShown += h + 1 - count.get(c)!;
  // Units of the whole order it must have ordered, unless counted above already.
  for (const unit of whole.slice(0, beyond ? whole.length : last + 1))
    if (!shown.has(unit) && !(heightOf(unit) < (top.get(creatorOf(unit)) ?? -1))) notShown++;
  return notShown;
}

/**
 * Why a node whose gomel says it dropped `dropped` log entries has an order that is no evidence, if
 * lost lines explain it: it contradicts no whole order (`whole`: the longest of each group of nodes that
 * dropped nothing; a shorter one of a group is its prefix, and asks less), `keepsLossyOrders`
 * (oneOrderHoldsAll of the lossy ones), and misses at most `dropped` units against each whole order
 * (unitsNotShown): against every one, never one chosen, since a short one (a node that crashed early, or
 * a liar's true prefix) asks too little (hostile pass 23). Undefined when lost lines cannot explain it
 * (it is compared as any order: a fork, if it differs), or when it shows nothing missing beside the
 * longest whole order (its order is evidence as it is). Hostile passes 20–22: one gap was all the excuse
 * allowed, and two gaps, a gap beyond the agreed order, or every node dropping made honest runs a FORK.
 */
export function lostLinesOnly(
  order: readonly number[],
  dropped: number,
  whole: readonly (readonly number[])[],
  keepsLossyOrders: boolean,
): string | undefined {
  if (!keepsLossyOrders || whole.some((w) => contradicts(w, order))) return undefined;
  const missing = Math.max(unitsNotShown([], order), ...whole.map((w) => unitsNotShown(w, order)));
  if (missing > dropped) return undefined;
  const longest = whole.reduce<readonly number[]>((a, b) => (b.length > a.length ? b : a), []);
  const prefixOfOther = order.every((unit, i) => i >= longest.length || longest[i] === unit);
  if (missing === 0 && prefixOfOther) return undefined;
  return `its order keeps the others' with units missing, and gomel says it dropped ${dropped} log entries (stderr.txt): lines lost from its log`;
}
