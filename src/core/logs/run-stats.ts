// What one node's gomel log says about how the protocol ran: the figures of
// `gomelctl report`. Events (consensus-go 2019-09, pkg/logging/constants.go;
// test/vectors/gomel-2019-09/logs/README.md): "genesis" (wall-clock start, to the
// second), C/D own unit created (D: prime, Q level), E timing unit, Z unit ordered
// (C creator, H height), W own unit ordered (H), X connection closed (U bytes
// sent, V received, S service), Y memory (M bytes). T is ms since the node's start.
import { MAX_LINE } from './log-stats.js';

/** gomel's service numbers (pkg/logging/constants.go, "Service types"). */
export const SERVICE_NAMES = ['create', 'order', 'sync', 'validate', 'generate', 'memlog', 'gossip', 'fetch', 'multicast', 'retrying', 'rmc'];

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
  /** T of each timing unit (E). */
  timing: number[];
  /** Bytes sent and received per service, from connection-closed lines. */
  traffic: Map<string, { sent: number; received: number }>;
  peakMemory: number | undefined;
  firstDialFailure: number | undefined;
}

export function newRunStats(): NodeRunStats {
  return { genesisMs: undefined, created: [], levels: [], ordered: [], latencies: [], timing: [], traffic: new Map(), peakMemory: undefined, firstDialFailure: undefined };
}

const EVENT = /"E":"([^"]*)"/;
const num = (v: unknown) => (typeof v === 'number' ? v : undefined);

export function addRunLine(s: NodeRunStats, line: string): void {
  if (line.length > MAX_LINE) return;
  const event = EVENT.exec(line)?.[1];
  if (event === undefined) return;
  const interesting = 'CDEZWXY'.includes(event) && event.length === 1;
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
      const ms = Date.parse(String(r.genesis));
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
      if (made !== undefined) s.latencies.push(t - made);
      break;
    }
    case 'X': {
      // Lines of a sync session name no service but the session's direction: I (incoming) or O (outgoing).
      const name = r.S === undefined ? (r.O !== undefined ? 'sync sessions out' : 'sync sessions in') : (SERVICE_NAMES[num(r.S) ?? -1] ?? `service ${String(r.S)}`);
      const entry = s.traffic.get(name) ?? { sent: 0, received: 0 };
      entry.sent += num(r.U) ?? 0;
      entry.received += num(r.V) ?? 0;
      s.traffic.set(name, entry);
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
  /** The network conditions applied to it, as run.sh recorded them. */
  network?: string;
}

export interface RunFigures {
  nodes: number;
  agreedUnits: number;
  /** Seconds from a node's start until it had ordered the agreed units (median over nodes). */
  orderingSeconds: number | undefined;
  /** How many nodes orderingSeconds is the median of (those that reached consensus). */
  orderingNodes: number;
  unitsPerSecond: number | undefined;
  latencyMs: { p50: number; p90: number; p99: number; max: number; count: number } | undefined;
  timingIntervalMs: { median: number; p90: number } | undefined;
  /** Over the `nodes` that reached LevelLimit. */
  levelLimitSeconds: { median: number; max: number; nodes: number } | undefined;
  /** Between the first and last node's start: run.sh's record when present, else the genesis lines (1 s resolution). */
  startSkewSeconds: number | undefined;
  startSkewSource: 'started_at' | 'genesis' | undefined;
  perNode: { label: string; reached: boolean; shutdown: string; network: string | undefined; bytesSent: number; bytesReceived: number; peakMemory: number | undefined; traffic: Record<string, { sent: number; received: number }>; firstDialFailureMs: number | undefined }[];
}

export function runFigures(nodes: readonly RunNode[], agreedUnits: number, levelLimit: number): RunFigures {
  const withStats = nodes.filter((n) => n.stats) as (RunNode & { stats: NodeRunStats })[];
  const orderedAt = withStats.filter((n) => n.reached && n.stats.ordered.length >= agreedUnits && agreedUnits > 0).map((n) => n.stats.ordered[agreedUnits - 1]! / 1000);
  const orderingSeconds = median(orderedAt);
  const latencies = withStats.flatMap((n) => n.stats.latencies).sort((a, b) => a - b);
  const intervals = withStats.flatMap((n) => n.stats.timing.slice(1).map((t, i) => t - n.stats.timing[i]!)).sort((a, b) => a - b);
  const atLimit = withStats.map((n) => n.stats.levels.find(([, q]) => q >= levelLimit)?.[0]).filter((t): t is number => t !== undefined).map((t) => t / 1000);
  const started = nodes.map((n) => n.startedAt).filter((t): t is number => t !== undefined);
  const genesis = withStats.map((n) => n.stats.genesisMs).filter((t): t is number => t !== undefined);
  const skew = started.length >= 2 ? { s: Math.max(...started) - Math.min(...started), source: 'started_at' as const } : genesis.length >= 2 ? { s: (Math.max(...genesis) - Math.min(...genesis)) / 1000, source: 'genesis' as const } : undefined;
  return {
    nodes: nodes.length,
    agreedUnits,
    orderingSeconds,
    orderingNodes: orderedAt.length,
    unitsPerSecond: orderingSeconds ? agreedUnits / orderingSeconds : undefined,
    latencyMs: latencies.length ? { p50: median(latencies)!, p90: quantile(latencies, 0.9)!, p99: quantile(latencies, 0.99)!, max: latencies[latencies.length - 1]!, count: latencies.length } : undefined,
    timingIntervalMs: intervals.length ? { median: median(intervals)!, p90: quantile(intervals, 0.9)! } : undefined,
    levelLimitSeconds: atLimit.length ? { median: median(atLimit)!, max: Math.max(...atLimit), nodes: atLimit.length } : undefined,
    startSkewSeconds: skew?.s,
    startSkewSource: skew?.source,
    perNode: nodes.map((n) => {
      const traffic = Object.fromEntries(n.stats?.traffic ?? []);
      const values = Object.values(traffic);
      return {
        label: n.label,
        reached: n.reached,
        shutdown: n.shutdown,
        network: n.network,
        bytesSent: values.reduce((a, v) => a + v.sent, 0),
        bytesReceived: values.reduce((a, v) => a + v.received, 0),
        peakMemory: n.stats?.peakMemory,
        traffic,
        firstDialFailureMs: n.stats?.firstDialFailure,
      };
    }),
  };
}

/** The handful of figures the terminal gets, e.g. "344 units in 9.8 s, 35 units/s, latency p50 0.8 s". */
export function headline(f: RunFigures): string {
  const parts = [f.orderingSeconds !== undefined ? `${f.agreedUnits} units in ${f.orderingSeconds.toFixed(1)} s` : `${f.agreedUnits} units`];
  if (f.unitsPerSecond !== undefined) parts.push(`${f.unitsPerSecond.toFixed(0)} units/s`);
  if (f.latencyMs) parts.push(`latency p50 ${(f.latencyMs.p50 / 1000).toFixed(2)} s`);
  if (f.startSkewSeconds !== undefined) parts.push(`start skew ${f.startSkewSeconds.toFixed(2)} s`);
  return parts.join(', ');
}
