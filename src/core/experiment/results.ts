// An experiment's results (issue 33): one record per run, in DIR/results.json (what a
// program reads, and what makes the experiment resumable) and DIR/results.csv (what a
// person opens), both rewritten whole after each run. A run is known by its id (the hash
// of its point's plan and its repeat: grid.ts): a finished run is kept, never run again.
import { z } from 'zod';
import { median, type RunFigures } from '../logs/run-stats.js';
import type { PlannedRun } from './grid.js';

export const RESULTS_FORMAT = 'gomelctl-experiment-results/1';

const LATENCY = z.object({ p50: z.number(), p90: z.number(), p99: z.number() });

const RUN_RESULT = z.object({
  id: z.string(),
  /** The point's folder, and the run's under it (DIR/<point>/<repeat>/). */
  point: z.string(),
  repeat: z.number(),
  /** The point in words. */
  label: z.string(),
  n: z.number(),
  knobs: z.record(z.string(), z.unknown()),
  net: z.string(),
  faults: z.string(),
  /**
   * finished: it ran to a verdict (whatever it was) or its logs were collected and measured;
   * unfinished: interrupted, or stopped before any log (the engine, the registry, the image):
   * not a measurement of gomel, so run again next time.
   */
  status: z.enum(['finished', 'unfinished']),
  /** consensus, failed, stalled, fork, refused, error, interrupted (from the exit code `up` would give). */
  verdict: z.string(),
  exitCode: z.number(),
  /** The verdict's consensus line, or the error's line when up stopped before a verdict. */
  message: z.string(),
  startedAt: z.string(),
  wallSeconds: z.number(),
  unitsOrdered: z.number().optional(),
  unitsPerSecond: z.number().optional(),
  txpu: z.number().optional(),
  transactionsPerSecond: z.number().optional(),
  payloadBytesPerSecond: z.number().optional(),
  latencySeconds: LATENCY.optional(),
  levelLimitSeconds: z.number().optional(),
  startSkewSeconds: z.number().optional(),
  /** The busiest host's share of its CPUs the nodes used over the run (host-load.ts). */
  hostBusy: z.number().optional(),
  hostCpus: z.number().optional(),
  hostBound: z.boolean().optional(),
  /**
   * The run's own report, relative to DIR: never a URL or an absolute path (the page links it; a forged
   * results.json's "javascript:alert(1)" made a live link in the page, hostile pass POOR 155).
   */
  report: z
    .string()
    .refine((v) => !/^[a-z][a-z0-9+.-]*:/i.test(v) && !v.startsWith('/'), 'a path relative to the experiment folder')
    .optional(),
});

export type RunResult = z.infer<typeof RUN_RESULT>;

export const RESULTS_FILE = z.object({ format: z.literal(RESULTS_FORMAT), runs: z.array(RUN_RESULT) });
export type ResultsFile = z.infer<typeof RESULTS_FILE>;

/** The exit codes of src/cli.ts in words: what a run's verdict was. */
export function verdictWord(exitCode: number): string {
  return (
    { 0: 'consensus', 1: 'failed', 2: 'refused', 3: 'stalled', 4: 'fork', 130: 'interrupted' }[exitCode] ?? 'error'
  );
}

/** A run's record from its plan, how it ended, and what its report measured (when its logs were collected). */
export function runResult(
  run: PlannedRun,
  ended: { exitCode: number; message: string; startedAt: Date; wallSeconds: number; report?: string },
  figures: RunFigures | undefined,
): RunResult {
  const f = figures;
  const busiest = f?.hostLoad?.hosts.find((h) => h.busy === f.hostLoad!.busiest);
  return {
    id: run.id,
    point: run.point.name,
    repeat: run.repeat,
    label: run.point.label,
    n: run.point.n,
    knobs: run.point.knobs,
    net: run.point.zones ?? run.point.net,
    faults: run.point.faults,
    status: figures !== undefined || [0, 3, 4].includes(ended.exitCode) ? 'finished' : 'unfinished',
    verdict: verdictWord(ended.exitCode),
    exitCode: ended.exitCode,
    message: ended.message,
    startedAt: ended.startedAt.toISOString(),
    wallSeconds: ended.wallSeconds,
    ...(f
      ? {
          unitsOrdered: f.agreedUnits,
          ...(f.unitsPerSecond !== undefined ? { unitsPerSecond: f.unitsPerSecond } : {}),
          ...(f.txpu !== undefined ? { txpu: f.txpu } : {}),
          ...(f.transactionsPerSecond !== undefined
            ? { transactionsPerSecond: f.transactionsPerSecond, payloadBytesPerSecond: f.payloadBytesPerSecond }
            : {}),
          ...(f.latencyMs
            ? {
                latencySeconds: {
                  p50: f.latencyMs.p50 / 1000,
                  p90: f.latencyMs.p90 / 1000,
                  p99: f.latencyMs.p99 / 1000,
                },
              }
            : {}),
          ...(f.levelLimitSeconds ? { levelLimitSeconds: f.levelLimitSeconds.median } : {}),
          ...(f.startSkewSeconds !== undefined ? { startSkewSeconds: f.startSkewSeconds } : {}),
          ...(f.hostLoad && busiest
            ? { hostBusy: f.hostLoad.busiest, hostCpus: busiest.cpus, hostBound: f.hostLoad.hostBound }
            : {}),
        }
      : {}),
    ...(ended.report ? { report: ended.report } : {}),
  };
}

/** A run's record replaces the earlier one of the same run (an unfinished one); the others stay in their order. */
export function addResult(results: readonly RunResult[], result: RunResult): RunResult[] {
  return [...results.filter((r) => r.id !== result.id), result];
}

export interface ResumeSelection {
  /** Planned runs already finished: kept, not run again. */
  done: PlannedRun[];
  /** Planned runs still to run, in the plan's order. */
  todo: PlannedRun[];
  /** Of todo: runs of a point whose values the results know under another hash (the file changed it). */
  changed: number;
  /** Of todo: runs that were left unfinished (interrupted, or stopped before any log) and run again. */
  unfinished: number;
  /** Finished runs of points the file no longer has: kept in the results. */
  elsewhere: number;
}

/** Which planned runs are done and which to run, from the results of earlier invocations. */
export function selectRuns(runs: readonly PlannedRun[], results: readonly RunResult[]): ResumeSelection {
  const byId = new Map(results.map((r) => [r.id, r]));
  const finished = (run: PlannedRun) => byId.get(run.id)?.status === 'finished';
  const done = runs.filter(finished);
  const todo = runs.filter((r) => !finished(r));
  // A point's name is its values and its hash: the same values under another hash is the same point, changed.
  const values = (name: string) => name.replace(/_[0-9a-f]{8}$/, '');
  const knownValues = new Set(results.map((r) => `${values(r.point)}#${r.repeat}`));
  const planned = new Set(runs.map((r) => r.id));
  return {
    done,
    todo,
    changed: todo.filter((r) => !byId.has(r.id) && knownValues.has(`${values(r.point.name)}#${r.repeat}`)).length,
    unfinished: todo.filter((r) => byId.get(r.id)?.status === 'unfinished').length,
    elsewhere: results.filter((r) => r.status === 'finished' && !planned.has(r.id)).length,
  };
}

/** A guess of one run's seconds where none at this N was measured: image, N services, start, a short run, logs. */
export const guessSeconds = (n: number): number => 60 + 2 * n;

export interface Estimate {
  seconds: number;
  /** Committee sizes whose time comes from finished runs (their median), and those guessed. */
  measured: number[];
  guessed: number[];
}

/** The time the runs still to run take: each N's median wall time over its finished runs, else guessSeconds. */
export function estimate(todo: readonly { n: number }[], results: readonly RunResult[]): Estimate {
  const byN = new Map<number, number[]>();
  for (const r of results) if (r.status === 'finished') byN.set(r.n, [...(byN.get(r.n) ?? []), r.wallSeconds]);
  const ns = [...new Set(todo.map((r) => r.n))].sort((a, b) => a - b);
  return {
    seconds: todo.reduce((sum, r) => sum + (byN.has(r.n) ? median(byN.get(r.n)!)! : guessSeconds(r.n)), 0),
    measured: ns.filter((n) => byN.has(n)),
    guessed: ns.filter((n) => !byN.has(n)),
  };
}

/** Seconds as a person reads a duration: "45 s", "12 min", "3 h 20 min". */
export function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 120 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
const field = (v: unknown): string => {
  const text = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/**
 * results.csv: a header and one row per run, every knob of any run a column of its own (empty
 * where a run's point did not set it), figures in plain units (seconds, per second, bytes).
 */
export function resultsCsv(results: readonly RunResult[]): string {
  const knobs = [...new Set(results.flatMap((r) => Object.keys(r.knobs)))];
  const columns: [string, (r: RunResult) => unknown][] = [
    ['point', (r) => r.point],
    ['repeat', (r) => r.repeat],
    ['id', (r) => r.id],
    ['n', (r) => r.n],
    ...knobs.map((k): [string, (r: RunResult) => unknown] => [k, (r) => r.knobs[k]]),
    ['net', (r) => r.net],
    ['faults', (r) => r.faults],
    ['status', (r) => r.status],
    ['verdict', (r) => r.verdict],
    ['exit_code', (r) => r.exitCode],
    ['units_ordered', (r) => r.unitsOrdered],
    ['units_per_s', (r) => r.unitsPerSecond],
    ['txpu', (r) => r.txpu],
    ['tx_per_s', (r) => r.transactionsPerSecond],
    ['payload_bytes_per_s', (r) => r.payloadBytesPerSecond],
    ['latency_p50_s', (r) => r.latencySeconds?.p50],
    ['latency_p90_s', (r) => r.latencySeconds?.p90],
    ['latency_p99_s', (r) => r.latencySeconds?.p99],
    ['level_limit_s', (r) => r.levelLimitSeconds],
    ['start_skew_s', (r) => r.startSkewSeconds],
    ['host_busy', (r) => r.hostBusy],
    ['host_cpus', (r) => r.hostCpus],
    ['host_bound', (r) => r.hostBound],
    ['wall_s', (r) => r.wallSeconds],
    ['started_at', (r) => r.startedAt],
    ['message', (r) => r.message],
    ['report', (r) => r.report],
  ];
  const lines = [columns.map(([name]) => field(name)).join(',')];
  for (const r of results) lines.push(columns.map(([, get]) => field(get(r))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
