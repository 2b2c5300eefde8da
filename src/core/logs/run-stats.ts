// What one node's gomel log says about how the protocol ran: the figures of
// `gomelctl report`. Events (consensus-go 2019-09, pkg/logging/constants.go;
// test/vectors/gomel-2019-09/logs/README.md): "genesis" (wall-clock start, to the
// second), C/D own unit created (D: prime, Q level), E timing unit, Z unit ordered
// (C creator, H height), W own unit ordered (H), Y memory (M bytes). T is ms since
// the node's start. Traffic (X, connection closed) is protocol-stats.ts's: it puts
// each sync session's bytes on its service, which these lines do not name.
import { MAX_LINE } from './log-stats.js';
import { hostLoad, hostLoadText, type CpuUsage, type HostLoad } from './host-load.js';
import { throughput, throughputText } from '../report/throughput.js';
import { minOf, maxOf } from '../bounded.js';

export interface NodeRunStats {
  genesisMs: number | undefined; // wall clock, from the genesis line (1 s resolution)
  /** T of each own unit created, by height (C and D events in order). */
  created: number[];
  /** [T, level] of each prime unit created. */
  levels: [number, number][];
  /** T of each unit ordered (Z), in order. */
  ordered: number[];
  /** Latency of each own unit ordered: T(W) − T(created at that height), ms. */
  latencies: number[];
  /** T of the W event of each latency (same index): when the node ordered that own unit. */
  latencyAt: number[];
  /** T of each timing unit (E). */
  timing: number[];
  peakMemory: number | undefined;
  firstDialFailure: number | undefined;
}

export function newRunStats(): NodeRunStats {
  return {
    genesisMs: undefined,
    created: [],
    levels: [],
    ordered: [],
    latencies: [],
    latencyAt: [],
    timing: [],
    peakMemory: undefined,
    firstDialFailure: undefined,
  };
}

const EVENT = /"E":"([^"]*)"/;
const num = (v: unknown) => (typeof v === 'number' ? v : undefined);

export function addRunLine(s: NodeRunStats, line: string): void {
  if (line.length > MAX_LINE) return;
  const event = EVENT.exec(line)?.[1];
  if (event === undefined) return;
  const interesting = 'CDEZWY'.includes(event) && event.length === 1;
  const dialError = event.startsWith('dial tcp') && s.firstDialFailure === undefined;
  if (!interesting && event !== 'genesis' && !dialError) return;
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const t = num(r.T);
  if (t === undefined) return;
  switch (event) {
    case 'genesis': {
      const ms = typeof r.genesis === 'string' ? Date.parse(r.genesis) : NaN;
      if (Number.isFinite(ms)) s.genesisMs = ms;
      break;
    }
    case 'C':
      s.created.push(t);
      break;
    case 'D':
      s.created.push(t);
      if (num(r.Q) !== undefined) s.levels.push([t, r.Q as number]);
      break;
    case 'E':
      s.timing.push(t);
      break;
    case 'Z':
      s.ordered.push(t);
      break;
    case 'W': {
      const made = num(r.H) !== undefined ? s.created[r.H as number] : undefined;
      if (made !== undefined) {
        s.latencies.push(t - made);
        s.latencyAt.push(t);
      }
      break;
    }
    case 'Y':
      if (num(r.M) !== undefined) s.peakMemory = Math.max(s.peakMemory ?? 0, r.M as number);
      break;
    default:
      if (dialError) s.firstDialFailure = t;
  }
}

/** Nearest-rank quantile of sorted values (p90, p99: always a value that occurred). */
export function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** The median: for an even count the midpoint of the two middle values, as everyone else computes it (issue 21). */
export function median(xs: readonly number[]): number | undefined {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? undefined : s.length % 2 ? s[mid] : (s[mid - 1]! + s[mid]!) / 2;
}

export interface RunNode {
  label: string;
  stats: NodeRunStats | undefined;
  reached: boolean;
  shutdown: string; // "clean", "crashed", …
  startedAt: number | undefined; // run.sh's record, seconds
  /** run.sh's start_plan: the common start every node computed, and when this node knew it (wall seconds). */
  startPlan?: { commonStart: number; knownAt: number };
  /** The network conditions applied to it, as run.sh recorded them. */
  network?: string;
  /** Its container's CPU time over gomel's run (cpu_usage), and the swarm node it ran on. */
  cpu?: CpuUsage;
  host?: string;
}

/**
 * The run's one clock (issue 21): gomel's T counts from each node's own start, so
 * on their own clocks a node that started late looks slow. t = 0 is the earliest
 * start; a node's times move by its offset from it. The starts come from run.sh's
 * started_at when every node with a log has one, else from gomel's genesis lines
 * (to the second), else there is no common clock and each node keeps its own.
 */
interface RunClock {
  source: 'started_at' | 'genesis' | 'own';
  /** Wall-clock seconds (epoch) of t = 0. */
  startWallSeconds: number | undefined;
}

/** Rounded to the microsecond run.sh records: no float noise in offsets (0.75, not 0.7500002). */
const micros = (s: number) => Math.round(s * 1e6) / 1e6;

function runClock(nodes: readonly RunNode[]): RunClock & { offsets: (number | undefined)[] } {
  const logged = nodes.filter((n) => n.stats);
  const pick = (source: 'started_at' | 'genesis', start: (n: RunNode) => number | undefined) => {
    if (!logged.length || !logged.every((n) => start(n) !== undefined)) return undefined;
    const t0 = minOf(nodes.map(start).filter((t): t is number => t !== undefined))!;
    return {
      source,
      startWallSeconds: t0,
      offsets: nodes.map((n) => ((t) => (t === undefined ? undefined : micros(t - t0)))(start(n))),
    };
  };
  const genesis = (n: RunNode) => (n.stats?.genesisMs === undefined ? undefined : n.stats.genesisMs / 1000);
  return (
    pick('started_at', (n) => n.startedAt) ??
    pick('genesis', genesis) ?? { source: 'own', startWallSeconds: undefined, offsets: nodes.map(() => 0) }
  );
}

interface NodeFigures {
  label: string;
  /** Seconds from t = 0 to this node's start (its times on the common clock are its own plus this). */
  startOffsetSeconds: number | undefined;
  /** How long after the common start this node learned it (start_plan), when it did so late. */
  startLateSeconds?: number;
  /** When it created its first prime unit at LevelLimit, on the common clock. */
  levelLimitSeconds: number | undefined;
  reached: boolean;
  shutdown: string;
  network: string | undefined;
  peakMemory: number | undefined;
  firstDialFailureMs: number | undefined;
}

export interface RunFigures {
  nodes: number;
  agreedUnits: number;
  clock: RunClock;
  /** Seconds from t = 0 until a node had ordered the agreed units (median over nodes). */
  orderingSeconds: number | undefined;
  /** How many nodes orderingSeconds is the median of (those that reached consensus). */
  orderingNodes: number;
  unitsPerSecond: number | undefined;
  /** The config's transactions per unit, when the config was found (src/core/report/throughput.ts). */
  txpu?: number;
  /** unitsPerSecond × Txpu: each unit carries Txpu transactions of gomel's generator. */
  transactionsPerSecond?: number;
  /** transactionsPerSecond × 100 bytes (gomel's generator's transaction size). */
  payloadBytesPerSecond?: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; count: number } | undefined;
  timingIntervalMs: { median: number; p90: number } | undefined;
  /** From t = 0, over the `nodes` that reached LevelLimit. */
  levelLimitSeconds: { median: number; max: number; nodes: number } | undefined;
  /** Between the first and last node's start, by the clock's source. */
  startSkewSeconds: number | undefined;
  startSkewSource: 'started_at' | 'genesis' | undefined;
  /** The hosts' CPUs the nodes kept busy over the run, when they recorded their CPU time (host-load.ts). */
  hostLoad?: HostLoad;
  perNode: NodeFigures[];
}

export function runFigures(
  nodes: readonly RunNode[],
  agreedUnits: number,
  levelLimit: number,
  txpu?: number,
): RunFigures {
  const { offsets, ...clock } = runClock(nodes);
  // A node's time T (ms, its own clock) on the common clock, in seconds.
  const at = (i: number, t: number) => (offsets[i] ?? 0) + t / 1000;
  const withStats = nodes.map((n, i) => ({ ...n, i })).filter((n) => n.stats) as (RunNode & {
    i: number;
    stats: NodeRunStats;
  })[];
  const orderedAt = withStats
    .filter((n) => n.reached && n.stats.ordered.length >= agreedUnits && agreedUnits > 0)
    .map((n) => at(n.i, n.stats.ordered[agreedUnits - 1]!));
  const orderingSeconds = median(orderedAt);
  const latencies = withStats.flatMap((n) => n.stats.latencies).sort((a, b) => a - b);
  const intervals = withStats
    .flatMap((n) => n.stats.timing.slice(1).map((t, i) => t - n.stats.timing[i]!))
    .sort((a, b) => a - b);
  const nodeAtLimit = nodes.map((n, i) =>
    ((t) => (t === undefined ? undefined : at(i, t)))(n.stats?.levels.find(([, q]) => q >= levelLimit)?.[0]),
  );
  const atLimit = nodeAtLimit.filter((t): t is number => t !== undefined);
  const known = offsets.filter((t): t is number => t !== undefined);
  const skew = clock.source !== 'own' && known.length >= 2 ? maxOf(known)! - minOf(known)! : undefined;
  const unitsPerSecond = orderingSeconds ? agreedUnits / orderingSeconds : undefined;
  const load = hostLoad(nodes.map((n) => ({ cpu: n.cpu, host: n.host, logged: n.stats !== undefined })));
  return {
    nodes: nodes.length,
    agreedUnits,
    clock,
    orderingSeconds,
    orderingNodes: orderedAt.length,
    unitsPerSecond,
    ...(txpu === undefined ? {} : { txpu }),
    ...throughputFields(unitsPerSecond, txpu),
    latencyMs: latencies.length
      ? {
          p50: median(latencies)!,
          p90: quantile(latencies, 0.9)!,
          p99: quantile(latencies, 0.99)!,
          max: latencies[latencies.length - 1]!,
          count: latencies.length,
        }
      : undefined,
    timingIntervalMs: intervals.length ? { median: median(intervals)!, p90: quantile(intervals, 0.9)! } : undefined,
    levelLimitSeconds: atLimit.length
      ? { median: median(atLimit)!, max: maxOf(atLimit)!, nodes: atLimit.length }
      : undefined,
    startSkewSeconds: skew,
    startSkewSource: skew === undefined ? undefined : (clock.source as 'started_at' | 'genesis'),
    ...(load ? { hostLoad: load } : {}),
    perNode: nodes.map((n, i) => {
      const late = n.startPlan ? n.startPlan.knownAt - n.startPlan.commonStart : 0;
      return {
        label: n.label,
        startOffsetSeconds: offsets[i],
        ...(late > 0 ? { startLateSeconds: micros(late) } : {}),
        levelLimitSeconds: nodeAtLimit[i],
        reached: n.reached,
        shutdown: n.shutdown,
        network: n.network,
        peakMemory: n.stats?.peakMemory,
        firstDialFailureMs: n.stats?.firstDialFailure,
      };
    }),
  };
}

function throughputFields(unitsPerSecond: number | undefined, txpu: number | undefined) {
  const t = throughput(unitsPerSecond, txpu);
  return t ? { transactionsPerSecond: t.transactionsPerSecond, payloadBytesPerSecond: t.payloadBytesPerSecond } : {};
}

/**
 * The handful of figures the terminal gets, e.g. "344 units in 9.8 s, 35 units/s, 3500 tx/s
 * (350 KB/s payload), latency p50 0.8 s", and the host-bound mark when the host's CPUs were the limit.
 */
export function headline(f: RunFigures): string {
  const parts = [
    f.orderingSeconds !== undefined
      ? `${f.agreedUnits} units in ${f.orderingSeconds.toFixed(1)} s`
      : `${f.agreedUnits} units`,
  ];
  if (f.unitsPerSecond !== undefined) parts.push(`${f.unitsPerSecond.toFixed(0)} units/s`);
  const t = throughput(f.unitsPerSecond, f.txpu);
  if (t) parts.push(throughputText(t));
  if (f.latencyMs) parts.push(`latency p50 ${(f.latencyMs.p50 / 1000).toFixed(2)} s`);
  if (f.startSkewSeconds !== undefined) parts.push(`start skew ${f.startSkewSeconds.toFixed(2)} s`);
  if (f.hostLoad?.hostBound) parts.push(hostLoadText(f.hostLoad));
  return parts.join(', ');
}
