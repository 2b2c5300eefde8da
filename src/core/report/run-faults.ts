// The faults of a run in its report (issue 24 item 6): each planned event placed on
// the run's common clock, when the nodes actually applied it (their faults.log),
// and how the committee fared before, during and after it. Pure.
//
// Sources: the logs folder's run record (run.json's fault plan, or an older folder's faults.json: whom it asks to be
// faulty or delayed), each node's faults.log (templates/faults.sh), and the verdict,
// which names the faulty by that evidence and the planned faults never applied. The plan's
// times count from each node's started_at (faults.sh is timed from it); a log line's
// wall time is placed on the common clock directly.
import type { FaultEvent, FaultKind, FaultLogEvent, PlannedFault } from '../faults/plan.js';
import { formatFaultEvent } from '../faults/plan.js';
import { median, type NodeRunStats, type RunFigures } from '../logs/run-stats.js';
import type { NodeFault } from '../faults/evidence.js';
import type { FaultRecordFile } from '../faults/plan.js';
import type { Verdict } from '../logs/verdict.js';
import { minOf, maxOf } from '../bounded.js';

/** What faults.sh logs to start and to end each kind of event (faultSchedules). */
const ACTIONS: Record<FaultKind, [start: string, end?: string]> = {
  crash: ['kill'],
  stop: ['term'],
  restart: ['restart'],
  pause: ['stop', 'cont'],
  partition: ['drop', 'undrop'],
  isolate: ['drop', 'undrop'],
  slow: ['slow', 'unslow'],
  mute: ['mute', 'unmute'],
  selective: ['mute', 'unmute'],
  // Its halves are set before gomel starts (faults.sh apply_twin: "twin drop …", "twin alias …").
  twin: ['twin'],
};

/** How far apart the nodes apply one live fault at most (they are asked at once, each within 10 s). */
const LIVE_SPREAD_MS = 10_000;

/** An instant (crash, stop, restart) is compared with this many seconds either side of it. */
export const NEAR_INSTANT_SECONDS = 5;

export interface Period {
  fromSeconds: number;
  toSeconds: number;
  /** Units the committee ordered in the period, per second (see committeeOrder). */
  unitsPerSecond: number;
  /** Own-unit latency of the units nodes ordered in the period: median, and how many. */
  latencyP50Ms: number | undefined;
  latencyCount: number;
}

interface FaultWindow {
  /** The event in the plan's short form, e.g. "pause:3@3s-5s". */
  event: string;
  kind: FaultKind;
  nodes: string[];
  /** On the common clock; no until for an instant or a fault "for good". */
  plannedFromSeconds: number;
  plannedUntilSeconds?: number;
  /** When its nodes applied it (the first start action, the last end action), from their faults.log. */
  appliedFromSeconds?: number;
  appliedUntilSeconds?: number;
  /** How many of its nodes logged applying its start, of how many. */
  appliedBy: number;
  /** "node5: drop node1 node2 failed: <reason>" for each action a node could not apply. */
  failed: string[];
  before?: Period;
  during?: Period;
  after?: Period;
  /** After a heal or resume: from its end to the committee's first newly ordered unit. */
  recoverySeconds?: number;
  /** After a heal or resume: each delayed node's first ordered unit after the end (undefined: it never ordered again). */
  nodesRecoverySeconds?: Record<string, number | undefined>;
}

export interface RunFaults {
  /** The plan's lines, one per event ("pause:3@3s-5s  node3 paused (SIGSTOP) at 3 s, until 5 s"). */
  events: string[];
  /** Faulty by evidence (the verdict's): a fault applied, or the host lost. */
  faulty: NodeFault[];
  /** Planned faulty, never applied (the verdict's). */
  notApplied: NodeFault[];
  /** What the plan asked to be only delayed (a window that ends). */
  delayed: PlannedFault[];
  windows: FaultWindow[];
  /** faults.log lines that did not parse, "node3 line 4: <reason>". */
  malformed: string[];
}

export interface FaultInputs {
  record: FaultRecordFile;
  /** Per node, in the run's node order: its faults.log, parsed. */
  logs: (FaultLogEvent[] | undefined)[];
  malformed: string[];
}

/**
 * When the committee ordered each unit of its order, on the common clock: position k
 * is ordered when the first node orders its k-th unit (the order is one, so the first
 * node to reach position k fixes it). Ascending, since each node's times are.
 */
function committeeOrder(stats: readonly (NodeRunStats | undefined)[], figures: RunFigures): number[] {
  const out: number[] = [];
  stats.forEach((s, i) => {
    const offset = figures.perNode[i]?.startOffsetSeconds ?? 0;
    s?.ordered.forEach((t, k) => (out[k] = Math.min(out[k] ?? Infinity, offset + t / 1000)));
  });
  return out;
}

/**
 * The committee's throughput and latency over any period of the common clock (from, to]: and
 * the committee's order, ordered units' times ascending (committeeOrder).
 */
export function committeePeriods(
  stats: readonly (NodeRunStats | undefined)[],
  figures: RunFigures,
): { order: number[]; period: (from: number, to: number) => Period | undefined } {
  const offset = (i: number) => figures.perNode[i]?.startOffsetSeconds ?? 0;
  const order = committeeOrder(stats, figures);
  // Own-unit latencies with when they were ordered, on the common clock.
  const latencies = stats.flatMap((s, i) =>
    (s?.latencies ?? []).map((ms, j) => ({ at: offset(i) + s!.latencyAt[j]! / 1000, ms })),
  );
  const period = (from: number, to: number): Period | undefined => {
    if (!(to > from)) return undefined;
    const units = order.filter((t) => t > from && t <= to).length;
    const lat = latencies.filter((l) => l.at > from && l.at <= to).map((l) => l.ms);
    return {
      fromSeconds: from,
      toSeconds: to,
      unitsPerSecond: units / (to - from),
      latencyP50Ms: median(lat),
      latencyCount: lat.length,
    };
  };
  return { order, period };
}

export function runFaults(
  input: FaultInputs,
  stats: readonly (NodeRunStats | undefined)[],
  figures: RunFigures,
  verdict: Pick<Verdict, 'faulty' | 'notApplied'>,
): RunFaults {
  const { plan } = input.record;
  const labels = figures.perNode.map((n) => n.label);
  const offset = (i: number) => figures.perNode[i]?.startOffsetSeconds ?? 0;
  const t0 = figures.clock.startWallSeconds;
  const { order, period } = committeePeriods(stats, figures);
  const end = order[order.length - 1] ?? 0;
  const windows = plan.events.map((e) => {
    // Nodes are plan numbers (node k is the k-th of the run's nodes); an event's clock starts with its earliest node.
    const idx = e.nodes.map((k) => k - 1).filter((i) => i < labels.length);
    const base = minOf(idx.map(offset)) ?? Infinity;
    const w: FaultWindow = {
      event: formatFaultEvent(e),
      kind: e.kind,
      nodes: idx.map((i) => labels[i]!),
      plannedFromSeconds: (Number.isFinite(base) ? base : 0) + e.atMs / 1000,
      appliedBy: 0,
      failed: [],
    };
    if (e.untilMs !== undefined) w.plannedUntilSeconds = (Number.isFinite(base) ? base : 0) + e.untilMs / 1000;
    applied(w, e, idx, input.logs, labels, t0);
    const from = w.appliedFromSeconds ?? w.plannedFromSeconds;
    const until = e.untilMs === undefined ? undefined : (w.appliedUntilSeconds ?? w.plannedUntilSeconds!);
    // Neighbours as long as the window (an instant: NEAR_INSTANT_SECONDS), cut where the run begins or ends.
    const instant = e.kind === 'crash' || e.kind === 'stop' || e.kind === 'restart';
    const span = instant ? NEAR_INSTANT_SECONDS : (until ?? end) - from;
    const set = (key: 'before' | 'during' | 'after', p: Period | undefined) => p && (w[key] = p);
    set('before', period(Math.max(0, from - span), from));
    if (!instant) set('during', period(from, Math.min(until ?? end, end)));
    if (instant || until !== undefined)
      set('after', period(instant ? from : until!, Math.min(end, (instant ? from : until!) + span)));
    if (until !== undefined) {
      const next = order.find((t) => t > until);
      if (next !== undefined) w.recoverySeconds = next - until;
      w.nodesRecoverySeconds = Object.fromEntries(
        idx.map((i) => {
          const first = stats[i]?.ordered.map((t) => offset(i) + t / 1000).find((t) => t > until);
          return [labels[i]!, first === undefined ? undefined : first - until];
        }),
      );
    }
    return w;
  });
  return {
    events: input.record.events,
    faulty: verdict.faulty,
    notApplied: verdict.notApplied,
    delayed: input.record.delayed,
    windows,
    malformed: input.malformed,
  };
}

/** Fills in when the event's nodes logged its start and end actions (matched by planned ms and action), and what failed. */
function applied(
  w: FaultWindow,
  e: FaultEvent,
  idx: readonly number[],
  logs: FaultInputs['logs'],
  labels: readonly string[],
  t0: number | undefined,
): void {
  const [start, stop] = ACTIONS[e.kind];
  // A live fault (gomelctl fault) is recorded at the first node's moment; the others applied it
  // within the messenger's few ms, and it ends with resume or heal.
  const live = e.source.startsWith('live:');
  const ending = live ? [stop, e.kind === 'pause' || e.kind === 'slow' ? 'resume' : 'heal'] : [stop];
  const near = (ms: number, at: number | undefined) =>
    at !== undefined && (live ? ms >= at && ms - at <= LIVE_SPREAD_MS : ms === at);
  const starts: number[] = [];
  const ends: number[] = [];
  for (const i of idx) {
    for (const line of logs[i] ?? []) {
      const isStart = line.action === start && near(line.atMs, e.atMs);
      const isEnd = stop !== undefined && ending.includes(line.action) && near(line.atMs, e.untilMs);
      if (!isStart && !isEnd) continue;
      if (!line.ok)
        w.failed.push(`${labels[i]}: ${[line.action, ...line.args].join(' ')} failed: ${line.reason ?? ''}`);
      else if (t0 !== undefined) (isStart ? starts : ends).push(line.wall - t0);
      if (isStart && line.ok) w.appliedBy++;
    }
  }
  if (starts.length) w.appliedFromSeconds = minOf(starts);
  if (ends.length) w.appliedUntilSeconds = maxOf(ends);
}
