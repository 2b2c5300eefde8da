// A committee's progress while it runs, from what each node prints every few
// seconds (templates/gomel/run.sh, report_progress):
//   gomelctl-progress <wall s> <highest prime level> <units ordered> <fault actions applied>
// or, for the connectivity probe, which is not gomel (templates/probe/run.sh and gomel-probe, probe/main.go):
//   gomelctl-probe-progress <phase> <addresses reached> <addresses asked> <addresses>
// The service log stream reaches the manager from every host, so `up` reads the
// last of these lines per node (a log tail) wherever the node runs.
import { NODE_LINES } from '../deploy/node-contract.js';
import { minOf, maxOf } from '../bounded.js';

const PROGRESS_PREFIX = NODE_LINES.progress;

interface NodeProgress {
  wall: number;
  level: number | undefined;
  ordered: number;
  faults: number;
}

const PROGRESS_LINE = new RegExp(`^${PROGRESS_PREFIX} (\\d+(?:\\.\\d+)?) (-|\\d+) (\\d+) (\\d+)\\s*$`);

/** What `read` makes of the last line of a node's output tail that `pattern` matches, if any. */
function lastLine<T>(output: string, pattern: RegExp, read: (m: RegExpExecArray) => T): T | undefined {
  let last: RegExpExecArray | undefined;
  for (const line of output.split('\n')) last = pattern.exec(line.trim()) ?? last;
  return last && read(last);
}

/** The last progress line in a node's output tail, if any. */
export function lastProgress(output: string): NodeProgress | undefined {
  return lastLine(output, PROGRESS_LINE, (m) => ({
    wall: Number(m[1]),
    level: m[2] === '-' ? undefined : Number(m[2]),
    ordered: Number(m[3]),
    faults: Number(m[4]),
  }));
}

/** The midpoint for an even count. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface CommitteeProgress {
  /** Prime level over the nodes that reported one. */
  level: { min: number; median: number; max: number } | undefined;
  /** The most units any node ordered. */
  ordered: number;
  alive: number;
  total: number;
  faults: number;
}

export function committeeProgress(nodes: readonly (NodeProgress | undefined)[], alive: number): CommitteeProgress {
  const levels = nodes.flatMap((p) => (p?.level === undefined ? [] : [p.level]));
  return {
    level: levels.length ? { min: minOf(levels)!, median: median(levels), max: maxOf(levels)! } : undefined,
    ordered: Math.max(0, maxOf(nodes.map((p) => p?.ordered ?? 0)) ?? 0),
    alive,
    total: nodes.length,
    faults: nodes.reduce((sum, p) => sum + (p?.faults ?? 0), 0),
  };
}

export function describeProgress(p: CommitteeProgress, elapsedS: number): string {
  const level = p.level
    ? `level ${p.level.min}/${p.level.median}/${p.level.max} (min/median/max)`
    : 'no prime unit yet';
  return `up: ${Math.round(elapsedS)} s — ${level}, ${p.ordered} units ordered, ${p.alive}/${p.total} nodes alive${p.faults ? `, ${p.faults} fault action(s) applied` : ''}`;
}

const PROBE_PHASES = {
  start: 'waiting for the common start',
  checking: 'asking every address',
  retrying: 'asking again those that did not answer',
  waiting: 'done, answering the others',
} as const;

interface ProbeProgress {
  phase: keyof typeof PROBE_PHASES;
  reached: number;
  asked: number;
  addresses: number;
}

const PROBE_LINE = new RegExp(
  `^${NODE_LINES.probeProgress} (${Object.keys(PROBE_PHASES).join('|')}) (\\d+) (\\d+) (\\d+)\\s*$`,
);

/** The last probe progress line in a node's output tail, if any. */
export function lastProbeProgress(output: string): ProbeProgress | undefined {
  return lastLine(output, PROBE_LINE, (m) => ({
    phase: m[1] as ProbeProgress['phase'],
    reached: Number(m[2]),
    asked: Number(m[3]),
    addresses: Number(m[4]),
  }));
}

/** The probe's progress in the words of the probe: how many nodes in each phase, and the addresses reached of all. */
export function describeProbeProgress(
  nodes: readonly (ProbeProgress | undefined)[],
  alive: number,
  elapsedS: number,
): string {
  const phases = (Object.keys(PROBE_PHASES) as ProbeProgress['phase'][]).flatMap((phase) => {
    const count = nodes.filter((p) => p?.phase === phase).length;
    return count ? [`${count} ${PROBE_PHASES[phase]}`] : [];
  });
  // up reads a few nodes' last lines a round (up.ts PROGRESS_SAMPLE): the others count as last read,
  // and one never read yet is said so, not taken for silent (256 nodes: "214 not reporting yet", all
  // of them asking).
  const silent = nodes.filter((p) => !p).length;
  if (silent) phases.push(`${silent} not read yet`);
  const reached = nodes.reduce((sum, p) => sum + (p?.reached ?? 0), 0);
  // Every node asks the same addresses, all of the committee's: a node not read yet has as many.
  const addresses = Math.max(0, ...nodes.map((p) => p?.addresses ?? 0)) * nodes.length;
  return `up: ${Math.round(elapsedS)} s — probe, as each node was last read: ${phases.join(', ')}; ${reached} of ${addresses} addresses reached; ${alive}/${nodes.length} nodes alive`;
}

/**
 * A stall: no node ordered a new unit for the stall time, once gomel runs (a prime
 * unit seen). BFT allows one with more than f faulty nodes; `up` then judges at
 * once instead of waiting out --timeout. The stall time is the one given, else
 * max(20 s, 10 timing rounds), a round taken as the time so far over the highest
 * level (about one level a round).
 */
export class StallWatch {
  /** Units each node had ordered when last seen: a node that finished drops out, and the others still count. */
  private ordered = new Map<string, number>();
  private since: number | undefined;
  private firstLevelAt: number | undefined;
  /** A timing round's length as of the last new unit: while stalled, the levels stop and the estimate must too. */
  private roundS = 0;
  private level = -1;
  private lastOrderedAt: number | undefined;

  constructor(readonly stallS?: number) {}

  threshold(): number {
    return this.stallS ?? Math.max(20, 10 * this.roundS);
  }

  /** Feeds the committee's progress and each node's ordered units at `now` (seconds); true when it has stalled. */
  update(p: CommitteeProgress, perNode: ReadonlyMap<string, number>, now: number): boolean {
    if (p.level === undefined) return false; // gomel not started yet: nothing to stall
    this.firstLevelAt ??= now;
    // A rising level is progress too: a new prime level needs units of 2f+1 creators, so with more than f
    // nodes gone the levels stop with the order. Ordering lags the levels, most on few cores: 32 real nodes
    // on 2 cores climbed from level 14 to 35 over 32 s without ordering a unit, and went on to consensus.
    // But not for ever: levels that climb three stall times on without a new unit ordered are a stall of
    // the ordering itself.
    const climbed = p.level.max > this.level;
    this.level = Math.max(this.level, p.level.max);
    const ordered = [...perNode].some(([node, count]) => count > (this.ordered.get(node) ?? -1));
    if (ordered || this.lastOrderedAt === undefined) this.lastOrderedAt = now;
    const moved = ordered || (climbed && (p.ordered === 0 || now - this.lastOrderedAt < 3 * this.threshold()));
    for (const [node, ordered] of perNode) this.ordered.set(node, Math.max(ordered, this.ordered.get(node) ?? -1));
    if (moved || this.since === undefined) {
      this.since = now;
      // About one level a round: the time so far over the highest level.
      if (p.level.max > 0) this.roundS = (now - this.firstLevelAt) / p.level.max;
      return false;
    }
    return now - this.since >= this.threshold();
  }

  /** Seconds since the last new unit, once gomel runs. */
  idleFor(now: number): number | undefined {
    return this.since === undefined ? undefined : now - this.since;
  }
}
