// Did the committee reach consensus, and how did its nodes shut down? Judged
// apart (test/vectors/gomel-2019-09/logs/README.md, swarm-8): gomel 2019-09
// often panics at exit after every node ordered the same units, and N = 3f+1
// tolerates f broken nodes, so the evidence is read per node.
import {
  droppedLogEntries,
  isShutdownRace,
  judgeShutdown,
  parseGoPanic,
  stoppedBySwarm,
  stderrBesideDrops,
  type Shutdown,
  type ShutdownKind,
} from './shutdown.js';
import { agreedShortBy, topError, unitText, type LogStats } from './log-stats.js';
import { contradicts, droppedLinesReason, wholeOrder } from './dropped-lines.js';
import { clip } from '../summary.js';
import { redactKeyMaterial } from '../keys/secrets.js';
import type { FaultFindings, NodeFault } from '../faults/evidence.js';
import {
  gomelLines,
  judgeTwins,
  liarLine,
  sightingLine,
  twinsThatRan,
  type ByzantineFindings,
  type TwinRun,
} from './byzantine.js';

export interface NodeEvidence {
  pid: number;
  label: string; // e.g. "node1" or "pid 0"
  stats: LogStats | undefined; // undefined: no log found
  logProblem: string | undefined; // "no log", "log truncated (…)", …
  exitStatus: number | undefined; // gomel's, from run.sh's exit_status
  /** Why its exit_status, present, is no exit status (the file, what it holds): its end is unknown, never clean. */
  exitStatusProblem?: string;
  stderr: string | undefined; // gomel's stderr, from run.sh's stderr.txt
  /** The Swarm task when the logs were collected (deploy logs' task.json), if known. */
  task?: {
    state: string;
    /** Swarm's desired state of the task when the logs were collected (deploy logs records it since issue 36). */
    desiredState?: string;
    /** When the task reached its state (ISO time, the engine's). */
    since?: string;
    /** Epoch seconds the swarm declared its host down before it shut the task (deploy logs, from the manager's node events). */
    hostDeclaredDownAt?: number;
    exitCode?: number;
    swarmNode?: string;
    hostDown?: boolean;
    error?: string;
    uncollected?: string;
    incomplete?: string[];
    /** The image its service ran, as the service spec names it (pinned by digest); absent from logs collected before it was recorded. */
    image?: string;
  };
  /** Wall-clock second gomel started (run.sh's started_at), if known. */
  startedAt?: number;
  /**
   * Why the node's order cannot be compared with the others', when it cannot: lines lost or damaged
   * inside it, or a log that fails its checksum. A damaged log proves no fork and no consensus.
   */
  orderDamaged?: string;
  /**
   * With orderDamaged, how many of its first ordered units come before the damage, intact: they can
   * prove a fork (they differ from the committee's), never consensus (the rest is unknown).
   */
  intactOrder?: number;
}

interface NodeVerdict {
  pid: number;
  label: string;
  /** How it lied, when it did (a twin: two instances with one key); such a node is faulty whatever it ordered. */
  byzantine?: string;
  /** This node reached consensus: its order agrees with the committee's and goes as far. */
  reached: boolean;
  reasons: string[]; // why not, when not
  notes: string[]; // facts worth a look that do not change the verdict
  maxLevel: number | undefined;
  timingRounds: number;
  ordered: number;
  agrees: boolean | undefined;
  shutdown: Shutdown;
  exitStatus: number | undefined;
  swarmNode: string | undefined;
  startedAt: number | undefined;
}

interface Divergence {
  position: number; // 1-based index in the order
  majority: { nodes: string[]; unit: string };
  minority: { nodes: string[]; unit: string };
}

export interface Verdict {
  n: number;
  levelLimit: number;
  nodes: NodeVerdict[];
  reachedBy: string[];
  /** Units every node that reached consensus ordered, in the same order. */
  agreedUnits: number;
  /** Where two nodes that did not lie ordered different units: safety is broken (outcome 'fork'). */
  divergences: Divergence[];
  /** Nodes that lied (issue 34: twins), and what the correct nodes' logs show of them; absent without twins. */
  byzantine?: ByzantineFindings;
  /** Who lied and how, and what gomel did about it (a few lines at any N; empty without liars). */
  byzantineLines: string[];
  /** Each correct node's sight of each liar (verdict.txt). */
  byzantineNodeLines: string[];
  /** Consensus by all N nodes: what the exit status says. */
  all: boolean;
  /** Every node shut down cleanly: what --strict adds. */
  clean: boolean;
  /** Seconds between the first and the last node's start, when their starts were recorded. */
  startSkew: number | undefined;
  /** Faults the committee tolerates: f = ⌊(N−1)/3⌋ (N = 3f+1). */
  f: number;
  /**
   * Why the folder's fault evidence was not used (not sealed, or changed since: core/logs/seal.ts):
   * then no node is faulty by it, and every node is held to consensus.
   */
  evidenceNotUsed?: string;
  /**
   * Nodes faulty for a reason outside gomel, by evidence: a fault their own faults.log says was
   * applied, or their host lost as the engine reported; a node that reached consensus first is not.
   */
  faulty: NodeFault[];
  /** Planned faults without a faults.log line that they were applied: they count for nothing. */
  notApplied: NodeFault[];
  /** faults.log lines that cannot be this run's (applied before gomel started, or before their time). */
  inconsistent: NodeFault[];
  /**
   * consensus: by all N; tolerated: by every correct node, at most f faulty (so by N − f or more; a
   * node that lied counts among them); stalled: more than f faulty, and the correct nodes (one at least)
   * agree and did not fail on their own; fork: two nodes that did not lie ordered different units at
   * one position (safety broken, whatever else); failed: anything else.
   */
  outcome: 'consensus' | 'tolerated' | 'stalled' | 'fork' | 'failed';
  consensusLine: string;
  shutdownLine: string;
}

function firstDifference(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Groups orders that agree on their common prefix; the largest group is the committee's order. */
function groupOrders(nodes: readonly NodeEvidence[]): { groups: NodeEvidence[][]; main: NodeEvidence[] | undefined } {
  const withOrder = nodes
    .filter((n) => (n.stats?.order.length ?? 0) > 0 && !n.orderDamaged)
    .sort((a, b) => b.stats!.order.length - a.stats!.order.length);
  const groups: NodeEvidence[][] = [];
  for (const node of withOrder) {
    const group = groups.find((g) => firstDifference(g[0]!.stats!.order, node.stats!.order) === -1);
    if (group) group.push(node);
    else groups.push([node]);
  }
  const main = [...groups].sort(
    (a, b) => b.length - a.length || b[0]!.stats!.order.length - a[0]!.stats!.order.length,
  )[0];
  return { groups, main };
}

/**
 * Why an order that differs from the committee's is no evidence of a fork, if it is not: it is
 * the committee's with a contiguous run of units missing (lines lost from the head or the middle
 * of its log; a node orders every unit once, in one order, so no honest node skips units), or
 * deploy logs found its evidence incomplete.
 */
function notForkEvidence(reference: readonly number[], e: NodeEvidence): string | undefined {
  if (e.task?.incomplete?.length) return `evidence incomplete (${e.task.incomplete.join('; ')})`;
  const order = e.stats!.order;
  const at = firstDifference(reference, order);
  if (at < 0) return undefined;
  const resumes = reference.indexOf(order[at]!, at + 1);
  if (resumes < 0) return undefined;
  const rest = order.slice(at, at + reference.length - resumes);
  if (firstDifference(reference.slice(resumes), rest) !== -1) return undefined;
  const missing =
    resumes === at + 1
      ? `unit #${resumes} of the committee's order is`
      : `units #${at + 1}–#${resumes} of the committee's order are`;
  return `${missing} missing from it (lines lost from its log)`;
}

/** Faults a committee of n tolerates: f = ⌊(n−1)/3⌋ (n = 3f+1). */
const tolerated = (n: number) => Math.floor((n - 1) / 3);

/**
 * The longest order f + 1 nodes of the main group ordered alike (its orders are prefixes of one another):
 * one correct node's at least. What excuses another order (lines lost) is measured against it, never
 * against one node's longest: a liar appending a unit made that of a forked node2 look "lost lines",
 * and the fork exit 1 (hostile pass 15).
 */
function agreedOrder(main: readonly NodeEvidence[], n: number): readonly number[] {
  const longestFirst = [...main].sort((a, b) => b.stats!.order.length - a.stats!.order.length);
  return longestFirst[Math.min(tolerated(n), longestFirst.length - 1)]!.stats!.order;
}

/** The evidence with orders that cannot show a fork (notForkEvidence) marked damaged: a folder not as collected. */
function markLostLines(
  evidence: readonly NodeEvidence[],
  counted: (e: NodeEvidence) => boolean,
  n: number,
): NodeEvidence[] {
  const { groups, main } = groupOrders(evidence.filter(counted));
  if (!main) return [...evidence];
  const reference = agreedOrder(main, n);
  const marked = new Map<NodeEvidence, string>();
  for (const e of groups.filter((g) => g !== main).flat()) {
    const why = notForkEvidence(reference, e);
    if (why) marked.set(e, why);
  }
  return evidence.map((e) => (marked.has(e) ? { ...e, orderDamaged: marked.get(e) } : e));
}

/**
 * As collected: the orders of nodes whose gomel says it dropped log entries marked damaged (no evidence
 * of consensus) unless one contradicts an order that lost nothing (dropped-lines.ts): then it is
 * compared as any order, a fork. The orders that lost nothing are those of the other nodes, and the
 * intact part of a damaged one (before its first damaged line). `skip`: the twins' units.
 */
function markDroppedLines(
  evidence: readonly NodeEvidence[],
  counted: (e: NodeEvidence) => boolean,
  skip: (unit: number) => boolean,
): NodeEvidence[] {
  const withOrder = (e: NodeEvidence) => counted(e) && (e.stats?.order.length ?? 0) > 0;
  const dropping = evidence.filter((e) => withOrder(e) && !e.orderDamaged && droppedLogEntries(e.stderr) > 0);
  if (!dropping.length) return [...evidence];
  const wholeNodes = evidence.filter((e) => withOrder(e) && droppedLogEntries(e.stderr) === 0);
  // The longest order of each group holds its shorter ones (prefixes), which ask no more of a lossy one.
  const whole = [
    ...groupOrders(wholeNodes.filter((e) => !e.orderDamaged)).groups.map((g) => g[0]!.stats!.order),
    ...wholeNodes.filter((e) => e.orderDamaged && e.intactOrder).map((e) => e.stats!.order.slice(0, e.intactOrder)),
  ].map((order) => wholeOrder(order, skip));
  const marked = new Map(
    dropping
      .filter((e) => !whole.some((w) => contradicts(w, e.stats!.order, skip)))
      .map((e) => [e, droppedLinesReason(droppedLogEntries(e.stderr))]),
  );
  return evidence.map((e) => (marked.has(e) ? { ...e, orderDamaged: marked.get(e) } : e));
}

const inPidOrder = (nodes: readonly NodeEvidence[]) => [...nodes].sort((a, b) => a.pid - b.pid).map((x) => x.label);

function divergencesOf(
  groups: NodeEvidence[][],
  main: NodeEvidence[] | undefined,
  damagedForks: readonly { e: NodeEvidence; at: number }[],
): Divergence[] {
  if (!main) return [];
  const reference = main[0]!.stats!.order;
  const divergence = (nodes: readonly NodeEvidence[], order: readonly number[], at: number): Divergence => ({
    position: at + 1,
    majority: { nodes: inPidOrder(main), unit: unitText(reference[at]!) },
    minority: { nodes: inPidOrder(nodes), unit: unitText(order[at]!) },
  });
  return [
    ...groups
      .filter((g) => g !== main)
      .map((g) => divergence(g, g[0]!.stats!.order, firstDifference(reference, g[0]!.stats!.order))),
    ...damagedForks.map(({ e, at }) => divergence([e], e.stats!.order, at)),
  ];
}

/**
 * Where the intact part of a damaged order (before its first damaged line, issue 30 B8) differs from
 * the committee's, if it does: a fork, which no later damage undoes. A contiguous run of units missing
 * there is lost lines, as for a whole order (notForkEvidence), not a fork, in a folder not as collected.
 */
function damagedPrefixFork(
  reference: readonly number[],
  e: NodeEvidence,
  asCollected: boolean,
  skip: (unit: number) => boolean,
): number | undefined {
  if (!e.orderDamaged || !e.intactOrder || e.task?.incomplete?.length) return undefined;
  const prefix = e.stats!.order.slice(0, e.intactOrder);
  const at = firstDifference(reference, prefix);
  if (at < 0) return undefined;
  // As collected, a gap is a fork there too (gomel never skips a unit; hostile pass 17) unless its gomel
  // says it dropped log entries.
  const lost = asCollected
    ? droppedLogEntries(e.stderr) > 0 && !contradicts(wholeOrder(reference, skip), prefix, skip)
    : notForkEvidence(reference, { ...e, stats: { ...e.stats!, order: prefix } });
  return lost ? undefined : at;
}

/**
 * Why a node's ordered units are not evidence of gomel's ordering, if they are not. gomel
 * orders units only when it decides a timing round, and the timing unit of round R is a
 * prime unit at level R: below it lie at least 2f+1 units of each level 0..R-1 (no unit
 * reaches a level without 2f+1 of the one before), all ordered by the end of round R. So a
 * node that ordered units decided a round, and by round R it ordered at least
 * (2f+1)·(R-1)+1 units (one round's units may be cut from the end of its log). Real
 * gomel: one-bad-key-4 ordered 22 by round 7 with 3 live nodes, exactly (2f+1)·7+1.
 */
function orderUnsupported(s: LogStats, n: number): string | undefined {
  if (s.order.length === 0) return undefined;
  if (s.maxRound === undefined)
    return `ordered ${s.order.length} units but decided no timing round; gomel orders units only by timing rounds`;
  const f = tolerated(n);
  const least = (2 * f + 1) * Math.max(0, s.maxRound - 1) + 1;
  if (s.order.length < least)
    return `ordered ${s.order.length} units by timing round ${s.maxRound}, which needs at least ${least} (2f+1 = ${2 * f + 1} a level below it)`;
  return undefined;
}

/**
 * "stopped by the swarm: host gl-h3 declared down (missed heartbeats) at 54.8 s": when the manager
 * declared its host down, else when its task shut down, on the node's own clock (started_at) when known.
 */
function swarmStopReason(e: NodeEvidence, runStart: number | undefined): string {
  const down = e.task?.hostDeclaredDownAt;
  const shut = e.task?.since ? Date.parse(e.task.since) / 1000 : NaN;
  // On the run's clock (its first started_at), so that the nodes of one host say the same.
  const at = (t: number) => (runStart !== undefined ? ` at ${(t - runStart).toFixed(1)} s` : '');
  const host = e.task?.swarmNode ?? '?';
  return down !== undefined
    ? `stopped by the swarm: host ${host} declared down (missed heartbeats)${at(down)}`
    : `stopped by the swarm on host ${host}${Number.isFinite(shut) ? at(shut) : ''} (its task shut down, its host declared down)`;
}

/** Swarm's task states a task reaches only by ending (its process exited, or Swarm ended it). */
export const ENDED = new Set(['complete', 'failed', 'shutdown', 'rejected', 'remove']);

/**
 * Lost with its host: the engine reports the host down, and the task had not ended before: the
 * manager last heard it running, and the node left no exit status. A task that ended by itself
 * (complete or failed, or an exit status in its folder) ended as it did, whatever its host did later.
 */
const lostWithHost = (e: NodeEvidence): boolean =>
  Boolean(e.task?.hostDown) && e.exitStatus === undefined && !ENDED.has(e.task?.state ?? '');

/** Exit statuses of a gomel ended from outside (run.sh: timeout 124, SIGKILL 137, SIGTERM 143). */
const ENDED_FROM_OUTSIDE = new Set([124, 137, 143]);

/**
 * gomel's own end: an exit status not from a kill or term, or, with no exit status, a panic on its
 * stderr. A kill's 137 or a term's 143 is the end, whatever stderr says (a payload may have left a
 * panic there before).
 */
const endedByItself = (e: NodeEvidence): boolean =>
  e.exitStatus !== undefined ? !ENDED_FROM_OUTSIDE.has(e.exitStatus) : parseGoPanic(e.stderr) !== undefined;

/**
 * Died or refused on its own: a panic, a non-zero exit not from a kill, or exit 0 after an error on
 * stderr. gomel's shutdown race (a panic as it stops, after finishing or when told to) is not.
 */
const failedByItself = (e: NodeEvidence): boolean => {
  const panic = parseGoPanic(e.stderr);
  return endedByItself(e) && !finishedByItself(e) && !(panic && isShutdownRace(panic));
};

/**
 * Stopped by the swarm only when it had not ended by itself: a task that panicked or exited first
 * ended as it did, whatever the swarm did later (as for lostWithHost).
 */
const swarmStopped = (e: NodeEvidence): boolean =>
  stoppedBySwarm(e.task, e.task?.hostDeclaredDownAt !== undefined) && !endedByItself(e);

const atLimit = (e: NodeEvidence, limit: number) => (e.stats?.maxLevel ?? -1) >= limit;
// gomel exits 0 without an error only after reaching LevelLimit, even when its log lost the last lines.
const finishedByItself = (e: NodeEvidence) => e.exitStatus === 0 && !stderrBesideDrops(e.stderr);

/**
 * Consensus, per node: its (C, H) order agrees with the committee's on the common
 * prefix, it created prime units itself, and it ordered as far as the committee:
 * its order is at most 4N units short of the agreed order f + 1 of the nodes that
 * finished reached — a node that stopped a level short with the full order, or whose last
 * log lines were lost, agrees too; a node at LevelLimit that ordered little does not.
 */
export function judge(
  given: readonly NodeEvidence[],
  n: number,
  levelLimit: number,
  faults: FaultFindings = { applied: [], notApplied: [], inconsistent: [] },
  twins: readonly TwinRun[] = [],
  asCollected = false,
): Verdict {
  // A twin that ran lied (it signed two units for one slot): faulty, whatever its own order says, and
  // left out of agreement, which is a promise to the nodes that did not lie. Its units, ordered in
  // two versions, are no fault of the nodes that ordered them.
  const { ran, notRun } = twinsThatRan(twins);
  const liars = new Map(ran.map((t) => [t.pid, `Byzantine: equivocated as ${t.label} and ${t.twinLabel}, one key`]));
  // Lines lost (a run of units missing from an order) excuse a difference in a folder not as collected,
  // where they are a copy's damage (hostile pass B2), and as collected only in the log of a node whose
  // gomel says it dropped log entries (hostile pass 20: a correct node's dropped lines were a FORK).
  // Otherwise every log is its node's own output, gomel never skips a unit, and a node missing units
  // others ordered is a fork: excusing it let one liar's vote hide a 3-against-3 fork (hostile pass 16).
  const notLiar = (e: NodeEvidence) => !liars.has(e.pid);
  // A twin's units: both versions of one (C, H), ordered by every node; they prove no order (dropped-lines.ts).
  const twinUnit = (unit: number) => liars.has(Math.floor(unit / 2 ** 32));
  const evidence = asCollected ? markDroppedLines(given, notLiar, twinUnit) : markLostLines(given, notLiar, n);
  const { groups, main } = groupOrders(evidence.filter((e) => !liars.has(e.pid)));
  // Some node's own log must show LevelLimit: an exit status alone (exit 0 beside logs cut short) shows no
  // end. And f + 1 nodes must have finished, one correct at least: one log at LevelLimit among nodes all
  // killed short of it by a timeout made a committee that never finished exit 0 (hostile pass 15).
  const finished = (main ?? []).filter((e) => atLimit(e, levelLimit) || finishedByItself(e));
  // 2f + 1 of them: with at most f faulty the correct nodes are that many, and f liars claiming to have
  // finished (exit 0, or a line at LevelLimit) with short orders then cannot make the committee's order
  // theirs (hostile pass 16: 5 liars' exit 0 beside one node that finished passed 15 killed at level 30).
  const someAtLimit = finished.some((e) => atLimit(e, levelLimit));
  const logAtLimit = someAtLimit && finished.length > 2 * tolerated(n);
  const finishers = logAtLimit ? finished : [];
  // "only 1 node finished; f + 1 = 2 must": why no node reached consensus although a log is at LevelLimit.
  // Nodes that finished but whose order is no evidence (lines lost) are named apart: they finished, but
  // their orders cannot make the committee's (hostile pass 22: "only 2 nodes finished" of 4 that did).
  const finishedUnproven = evidence.filter(
    (e) => !liars.has(e.pid) && e.orderDamaged && (atLimit(e, levelLimit) || finishedByItself(e)),
  ).length;
  const fewFinished =
    someAtLimit && !logAtLimit
      ? `only ${finished.length} node${finished.length === 1 ? '' : 's'} finished (at LevelLimit ${levelLimit}, or gomel's own exit 0)${finishedUnproven ? ` with an order that is evidence (${finishedUnproven} more whose order is not)` : ''}; 2f + 1 = ${2 * tolerated(n) + 1} must (the correct nodes, with f faulty)`
      : undefined;
  const damagedForks = main
    ? evidence.flatMap((e) => {
        const at = liars.has(e.pid) ? undefined : damagedPrefixFork(main[0]!.stats!.order, e, asCollected, twinUnit);
        return at === undefined ? [] : [{ e, at }];
      })
    : [];
  const forkedBeforeDamage = new Map(damagedForks.map(({ e, at }) => [e, at]));
  // How far the committee ordered: as far as f + 1 of the nodes that finished, one correct among them
  // at least: a node that logs a longer order than any other (hostile pass 14: 1,200 units made up after
  // its real 309) cannot hold every correct node short of it.
  const lengths = finishers.map((e) => e.stats!.order.length).sort((a, b) => b - a);
  const reach = lengths.length ? lengths[Math.min(tolerated(n), lengths.length - 1)] : undefined;
  // Who ordered that far, named beside a node's shortfall: the units the consensus line counts are
  // those every node that reached it ordered alike (swarm-8: 344; node4, the furthest, 347).
  const furthest = inPidOrder(finishers.filter((e) => e.stats!.order.length === reach))[0];

  const nodes = evidence.map((e): NodeVerdict => {
    const reasons: string[] = [];
    const notes: string[] = [];
    const s = e.stats;
    const lie = liars.get(e.pid);
    const forkedAt = forkedBeforeDamage.get(e);
    const agrees =
      forkedAt !== undefined
        ? false
        : s && s.order.length > 0 && !e.orderDamaged && !lie
          ? Boolean(main?.includes(e))
          : undefined;
    if (lie) reasons.push(lie);
    else if (!s) reasons.push(e.logProblem ?? 'no log');
    else {
      if (e.logProblem) notes.push(e.logProblem);
      if (s.maxLevel === undefined) reasons.push('never created a prime unit');
      const twice = orderedTwice(s.order, liars);
      const unsupported = orderUnsupported(s, n);
      if (forkedAt !== undefined)
        reasons.push(
          `its order diverges from the committee's at #${forkedAt + 1}, before its first damaged line (after it: ${e.orderDamaged})`,
        );
      else if (e.orderDamaged) reasons.push(`its order is no evidence: ${e.orderDamaged}`);
      else if (s.order.length === 0) reasons.push('ordered no units');
      else if (twice)
        reasons.push(`ordered unit ${twice.unit} twice (#${twice.first} and #${twice.second}): not a linear order`);
      else if (agrees === false) reasons.push("its order diverges from the committee's");
      else if (reach === undefined)
        reasons.push(
          fewFinished ?? `highest level ${s.maxLevel ?? '-'} < LevelLimit ${levelLimit}, and no node finished`,
        );
      // Reaching LevelLimit is not enough: the units it ordered are the evidence (agreedShortBy).
      else if (s.order.length < reach - agreedShortBy(n))
        reasons.push(
          `ordered ${s.order.length} unit${s.order.length === 1 ? '' : 's'} at highest level ${s.maxLevel ?? '-'}/${levelLimit}, where ${furthest} ordered ${reach}`,
        );
      else if (unsupported) reasons.push(unsupported);
      if (reasons.length && s.errors.size) reasons.push(`errors: ${clip(redactKeyMaterial(topError(s) ?? ''), 200)}`);
    }
    for (const x of faults.applied.filter((a) => a.label === e.label)) notes.push(`fault applied: ${x.why}`);
    for (const x of (faults.undone ?? []).filter((a) => a.label === e.label))
      notes.push(`fault applied and undone: ${x.why}`);
    for (const x of faults.notApplied.filter((a) => a.label === e.label)) notes.push(`planned, not applied: ${x.why}`);
    // The first few, then how many more: a node's line stays short whatever its faults.log holds.
    const refused = faults.inconsistent.filter((a) => a.label === e.label);
    for (const x of refused.slice(0, 3)) notes.push(`faults.log not of this run, not counted: ${x.why}`);
    if (refused.length > 3) notes.push(`and ${refused.length - 3} more faults.log line(s) not counted`);
    if (e.task?.incomplete?.length) notes.push(`evidence incomplete: ${e.task.incomplete.join('; ')}`);
    if (e.task?.error && e.task.state !== 'complete') {
      const error = redactKeyMaterial(e.task.error);
      notes.push(error.startsWith('task:') ? error : `task: ${error}`);
    }
    return {
      pid: e.pid,
      label: e.label,
      ...(lie ? { byzantine: lie } : {}),
      reached: reasons.length === 0,
      reasons,
      notes,
      maxLevel: s?.maxLevel,
      timingRounds: s?.timingRounds ?? 0,
      ordered: s?.order.length ?? 0,
      agrees,
      shutdown: judgeShutdown({
        stats: s,
        exitStatus: e.exitStatus,
        exitStatusProblem: e.exitStatusProblem,
        stderr: e.stderr,
        taskState: e.task?.state,
        taskExitCode: e.task?.exitCode,
        hostDown: lostWithHost(e) ? { host: e.task?.swarmNode } : undefined,
        swarmStopped: swarmStopped(e) ? { host: e.task?.swarmNode } : undefined,
      }),
      exitStatus: e.exitStatus,
      swarmNode: e.task?.swarmNode,
      startedAt: e.startedAt,
    };
  });

  const reached = nodes.filter((v) => v.reached);
  const all = reached.length === n && nodes.length === n;
  const starts = nodes.map((v) => v.startedAt).filter((t): t is number => t !== undefined);
  const f = tolerated(n);
  // Faulty for a reason outside gomel, by evidence only: its host lost (the engine's task record), or a
  // fault its faults.log says was applied. A node that reached consensus did its part before it.
  const reachedLabels = new Set(reached.map((v) => v.label));
  const runStart = starts.length ? Math.min(...starts) : undefined;
  const faulty = evidence.flatMap((e): NodeFault[] => {
    const lie = liars.get(e.pid);
    if (lie) return [{ label: e.label, why: lie.replace(/^Byzantine: /, 'Byzantine (') + ')' }];
    if (reachedLabels.has(e.label)) return [];
    const whys = [
      ...(lostWithHost(e) ? [`lost with host ${e.task?.swarmNode ?? '?'}`] : []),
      ...(swarmStopped(e) ? [swarmStopReason(e, runStart)] : []),
      // A node that crashed or refused on its own failed, whatever fault it was in (a kill leaves 137, no panic).
      ...(failedByItself(e) ? [] : faults.applied.filter((x) => x.label === e.label).map((x) => x.why)),
    ];
    return whys.length ? [{ label: e.label, why: whys.join(', ') }] : [];
  });
  const faultyLabels = new Set(faulty.map((x) => x.label));
  const correct = nodes.filter((v) => !faultyLabels.has(v.label));
  const divergences = divergencesOf(groups, main, damagedForks);
  // A stall is allowed only of correct nodes that agree and did not fail on their own: a node that
  // crashed or refused its input is a failure whatever else happened (a planned crash covers no other).
  // And each correct node's order must have been read: a node that left no log shows no agreement.
  const orderRead = new Set(
    evidence.filter((e) => e.stats && !e.orderDamaged && !e.stats.overflow).map((e) => e.label),
  );
  const stalledCleanly = (v: NodeVerdict) =>
    orderRead.has(v.label) &&
    v.agrees !== false &&
    v.reasons.every((r) => !/twice/.test(r)) &&
    v.shutdown.kind !== 'crashed' &&
    v.shutdown.kind !== 'refused';
  const outcome: Verdict['outcome'] = divergences.length
    ? 'fork'
    : all
      ? 'consensus'
      : nodes.length === n && faulty.length > 0 && faulty.length <= f && correct.every((v) => v.reached)
        ? 'tolerated'
        : nodes.length === n && faulty.length > f && correct.length > 0 && correct.every(stalledCleanly)
          ? 'stalled'
          : 'failed';
  // The units every node that counts ordered alike: those that reached consensus, or in a stall the correct ones.
  const counted = outcome === 'stalled' ? correct : reached;
  const agreedUnits = counted.length ? Math.min(...counted.map((v) => v.ordered)) : 0;
  const notApplied = [...faults.notApplied, ...notRun];
  const byzantine = twins.length
    ? judgeTwins(
        ran,
        evidence
          .filter((e) => correct.some((v) => v.label === e.label))
          .map((e) => ({ label: e.label, stats: e.stats })),
      )
    : undefined;
  const labels = evidence.map((e) => e.label);
  return {
    n,
    levelLimit,
    nodes,
    reachedBy: reached.map((v) => v.label),
    agreedUnits,
    divergences,
    ...(byzantine ? { byzantine } : {}),
    byzantineLines: (byzantine?.liars ?? []).flatMap((l) => [liarLine(l, labels), ...gomelLines(l)]),
    byzantineNodeLines: [
      ...twins.map(
        (t) =>
          `${t.twinLabel}: the twin of ${t.label} — ${t.twin ? `level ${t.twin.maxLevel ?? '-'}/${levelLimit}, created ${t.twin.created} units, ordered ${t.twin.order.length}` : 'no log'}`,
      ),
      ...(byzantine?.liars ?? []).flatMap((l) => l.seenBy.map((x) => sightingLine(l, x))),
    ],
    all,
    f,
    faulty,
    notApplied,
    inconsistent: faults.inconsistent,
    outcome,
    clean: nodes.length === n && nodes.every((v) => v.shutdown.kind === 'clean'),
    startSkew: starts.length >= 2 ? Math.max(...starts) - Math.min(...starts) : undefined,
    consensusLine: consensusLine({
      nodes,
      n,
      levelLimit,
      units: agreedUnits,
      outcome,
      f,
      faulty,
      notApplied,
      correct,
      caughtUp: (faults.undone ?? []).filter((x) => reachedLabels.has(x.label) && !faultyLabels.has(x.label)),
      divergences,
      liars: liars.size,
      fewFinished,
    }),
    shutdownLine: shutdownLine(nodes),
  };
}

interface Tally {
  nodes: readonly NodeVerdict[];
  n: number;
  levelLimit: number;
  units: number;
  outcome: Verdict['outcome'];
  f: number;
  faulty: readonly NodeFault[];
  notApplied: readonly NodeFault[];
  correct: readonly NodeVerdict[];
  /** Correct nodes that reached consensus after a fault was applied and undone (a pause resumed, a cut healed). */
  caughtUp: readonly NodeFault[];
  divergences: readonly Divergence[];
  /** How many nodes lied: with any, safety and liveness are said apart. */
  liars: number;
  /** Why a log at LevelLimit is no finished run: fewer than f + 1 nodes finished. */
  fewFinished: string | undefined;
}

/** A list of node names that stays short at any N: the first few, and how many more (the JSON has all). */
export function fewNames(labels: readonly string[], shown = 6): string {
  return labels.length <= shown + 1
    ? labels.join(', ')
    : `${labels.slice(0, shown).join(', ')} and ${labels.length - shown} more`;
}

/** "node7, node8 crashed at 3 s as planned; node2 paused …": nodes grouped by what was done to them, at most three groups. */
function faultList(faulty: readonly NodeFault[]): string {
  const byWhy = new Map<string, string[]>();
  for (const x of faulty) byWhy.set(x.why, [...(byWhy.get(x.why) ?? []), x.label]);
  const groups = [...byWhy].map(([why, labels]) => `${fewNames(labels, 3)} ${why}`);
  return groups.length > 3
    ? `${groups.slice(0, 2).join('; ')}; and ${groups.length - 2} other faults`
    : groups.join('; ');
}

function consensusLine(t: Tally): string {
  const caughtUp =
    t.caughtUp.length && (t.outcome === 'consensus' || t.outcome === 'tolerated')
      ? `; ${faultList(t.caughtUp)}, and caught up`
      : '';
  const notApplied = t.notApplied.length ? `; planned, not applied: ${faultList(t.notApplied)}` : '';
  return mainLine(t) + caughtUp + notApplied;
}

/**
 * With a node that lied, safety and liveness are judged apart, and the line says both: safety is the
 * promise that no two nodes that did not lie ordered different units (compared by creator:height: gomel
 * logs no unit hash), liveness that every correct node reached consensus while at most f were faulty.
 */
function mainLine(t: Tally): string {
  const safety = t.liars
    ? t.outcome === 'fork'
      ? ''
      : `safety held: no two nodes that did not lie ordered different units (by creator:height); liveness: `
    : '';
  return safety + livenessLine(t);
}

function livenessLine(t: Tally): string {
  const reached = t.nodes.filter((v) => v.reached);
  const lastOrdered = (vs: readonly NodeVerdict[]) => Math.max(0, ...vs.map((v) => v.ordered));
  switch (t.outcome) {
    case 'consensus':
      return `consensus reached by all ${t.n} nodes (${t.units} units in the same order)`;
    case 'tolerated':
      return `consensus reached by all ${t.correct.length} correct nodes (${t.units} units in the same order); ${faultList(t.faulty)}; f = ${t.f} tolerated`;
    case 'stalled':
      return `stalled as expected: ${t.faulty.length} faulty > f = ${t.f} (${faultList(t.faulty)}); the ${t.correct.length} correct nodes agree on ${t.units} units (the most any ordered: ${lastOrdered(t.correct)})`;
    case 'fork': {
      const d = t.divergences[0]!;
      const liars = t.liars ? ` (${faultList(t.faulty.filter((x) => x.why.startsWith('Byzantine')))})` : '';
      return `FORK: safety is broken — ${fewNames(d.majority.nodes, 3)} ordered ${d.majority.unit} and ${fewNames(d.minority.nodes, 3)} ordered ${d.minority.unit} at position #${d.position}, the first where they differ${t.divergences.length > 1 ? ` (${t.divergences.length} groups differ)` : ''}${liars}`;
    }
    default:
      break;
  }
  const faults = t.faulty.length ? `; ${faultList(t.faulty)} (f = ${t.f})` : '';
  if (t.faulty.length > t.f && t.correct.length === 0)
    return `consensus not reached: all ${t.n} nodes faulty, no correct node left to judge${faults}`;
  if (reached.length === 0 && t.fewFinished) return `consensus not reached: ${t.fewFinished}${faults}`;
  if (reached.length === 0)
    return `consensus not reached: no node reached LevelLimit ${t.levelLimit} with an agreed order${faults}`;
  // Nodes grouped by why they did not reach it, a few names each.
  const byReason = new Map<string, string[]>();
  for (const v of t.nodes.filter((x) => !x.reached)) {
    const why = v.reasons[0] ?? (t.faulty.some((x) => x.label === v.label) ? 'faulty' : 'unknown');
    byReason.set(why, [...(byReason.get(why) ?? []), v.label]);
  }
  const groups = [...byReason];
  const failed = groups.slice(0, 2).map(([why, labels]) => `${fewNames(labels, 3)} (${why})`);
  // The groups past the first two: how many nodes, and for how many reasons (it said "and 1 more reasons").
  const more = groups.slice(2).reduce((k, [, labels]) => k + labels.length, 0);
  const others = groups.length - 2;
  const notBy = more
    ? `${failed.join(', ')} and ${more} more node${more === 1 ? '' : 's'} for ${others === 1 ? 'another reason' : `${others} other reasons`}`
    : failed.join(', ');
  return `consensus reached by ${reached.length} of ${t.n} nodes (${fewNames(
    reached.map((v) => v.label),
    3,
  )}; ${t.units} units in the same order); not by ${notBy}${faults}`;
}

/**
 * The first unit a node ordered twice, with both 1-based positions. A liar's (creator in `liars`) is
 * left out: two versions of its unit at one (C, H) are both ordered, as gomel orders units by hash.
 */
function orderedTwice(
  order: readonly number[],
  liars: ReadonlyMap<number, unknown>,
): { unit: string; first: number; second: number } | undefined {
  const seen = new Map<number, number>();
  for (const [i, unit] of order.entries()) {
    if (liars.has(Math.floor(unit / 2 ** 32))) continue;
    const at = seen.get(unit);
    if (at !== undefined) return { unit: unitText(unit), first: at + 1, second: i + 1 };
    seen.set(unit, i);
  }
  return undefined;
}

const KIND_TEXT: Record<Exclude<ShutdownKind, 'clean'>, [one: string, many: string]> = {
  crashed: ['crashed', 'crashed'],
  'lost-last-lines': [
    'lost the last lines of its log (exit 0, no stop lines)',
    'lost the last lines of their logs (exit 0, no stop lines)',
  ],
  refused: ['exited 0 after an error', 'exited 0 after an error'],
  killed: ['was killed', 'were killed'],
  running: ['is still running', 'are still running'],
  lost: ['was lost with its host', 'were lost with their hosts'],
  'swarm-stopped': ['was stopped by the swarm', 'were stopped by the swarm'],
  'not-stopped': [
    'did not stop by itself (killed or still running)',
    'did not stop by themselves (killed or still running)',
  ],
  unknown: ['left no log or exit status', 'left no log or exit status'],
  unreadable: ['left no readable exit status', 'left no readable exit status'],
};

function shutdownLine(nodes: readonly NodeVerdict[]): string {
  const clean = nodes.filter((v) => v.shutdown.kind === 'clean');
  if (clean.length === nodes.length) return `shutdown: clean on all ${nodes.length} nodes`;
  const parts: string[] = clean.length ? [`clean on ${clean.length} of ${nodes.length}`] : [];
  const kinds = [...new Set(nodes.map((v) => v.shutdown.kind))].filter(
    (k): k is Exclude<ShutdownKind, 'clean'> => k !== 'clean',
  );
  for (const kind of kinds) {
    for (const afterFinishing of kind === 'crashed' ? [true, false] : [false]) {
      const group = nodes.filter(
        (v) => v.shutdown.kind === kind && (kind !== 'crashed' || v.reached === afterFinishing),
      );
      if (group.length === 0) continue;
      const [one, many] = KIND_TEXT[kind];
      const details = [...new Set(group.map((v) => v.shutdown.detail))];
      const race = kind === 'crashed' && group.every((v) => v.shutdown.race) ? " — gomel's own shutdown race" : '';
      const detail =
        kind === 'crashed' || kind === 'killed' || kind === 'lost' || kind === 'swarm-stopped' || kind === 'unreadable'
          ? `: ${details.length === 1 ? details[0] : details.slice(0, 3).join('; ')}${race}`
          : '';
      parts.push(
        `${group.length} ${group.length === 1 ? one : many}${afterFinishing ? ' after finishing' : ''} (${fewNames(group.map((v) => v.label))}${detail})`,
      );
    }
  }
  return `shutdown: ${parts.join('; ')}`;
}
