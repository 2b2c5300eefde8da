// `experiment plan | run` (issue 33): a grid of runs from one file, each run through
// `up` itself, one after the other, its logs under DIR/<point>/<repeat>/. Resumable: a
// run finished (whatever its verdict) is in DIR/results.json by its id and is not run
// again; Ctrl-C stops the current run, removes what it deployed, records it unfinished.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { EnvironmentError, InputError, Interrupted } from '../core/errors.js';
import { exitCodeOf } from '../cli.js';
import type { ExperimentPlan, PlannedRun } from '../core/experiment/grid.js';
import {
  addResult,
  duration,
  estimate,
  guessSeconds,
  runResult,
  selectRuns,
  type ResumeSelection,
  type RunResult,
} from '../core/experiment/results.js';
import type { RunFigures } from '../core/logs/run-stats.js';
import { clip } from '../core/summary.js';
import { DEFAULT_NETWORK, DEFAULT_REGISTRY } from './defaults.js';
import { createFileStream, exists, writeFileAtomic } from '../fs/atomic.js';
import { readExperiment } from '../fs/experiment-file.js';
import { readResults, writeResults } from '../fs/experiment-dir.js';
import { writeSyncRecord } from '../fs/configs-dir.js';
import { withLock } from '../fs/lock.js';
import type { ExperimentFlags } from './experiment.flags.js';
import { printJson, writtenText, type Output } from './output.js';
import type { UpFlags } from './up.flags.js';
import { maxOf } from '../core/bounded.js';

/** What an experiment does to the world, apart: the tests give stand-ins (test/experiment-run.test.ts). */
export interface ExperimentDeps {
  /** One run: `up` with these flags, its output, and the signal that stops it (Ctrl-C). */
  up(options: UpFlags, out: Output, stop: AbortSignal): Promise<void>;
  /** Removes the deployment of `network` (deploy clean): what an interrupted run left. */
  clean(network: string): Promise<void>;
  /** Calls `interrupt` at the user's Ctrl-C; returns what stops listening. */
  onInterrupt(interrupt: () => void): () => void;
  /** What a finished run measured: its report's figures and verdict line (report.ts readRun). */
  measure(logs: string, keys: string, configs: string): Promise<{ figures: RunFigures; consensusLine: string }>;
}

const quiet: Output = { line: () => {}, warn: () => {}, tty: false };

const processDeps: ExperimentDeps = {
  up: async (options, out, stop) => (await import('./up.js')).up(options, out, undefined, stop),
  clean: async (network) => (await import('./deploy-clean.js')).deployClean({ network }, quiet),
  onInterrupt: (interrupt) => {
    // Once: a second Ctrl-C is Node's own, and ends gomelctl at once (its nodes may stay).
    process.once('SIGINT', interrupt);
    return () => process.off('SIGINT', interrupt);
  },
  measure: async (logs, keys, configs) => {
    // What up's own report step read, else the logs read again (a run that failed before its report).
    const { readRun, takeReportedRun } = await import('./report.js');
    const run = takeReportedRun(logs) ?? (await readRun(logs, { logs, keys, configs }));
    return { figures: run.figures, consensusLine: run.consensusLine };
  },
};

/** The experiment's folder: --out, else experiments/<the file's name without its extension>. */
const outDir = (file: string, flags: ExperimentFlags) =>
  flags.out ?? path.join('experiments', path.basename(file).replace(/\.(ya?ml|json)$/i, ''));

const UP_DEFAULTS = { registry: DEFAULT_REGISTRY, network: DEFAULT_NETWORK, timeout: 300 };

async function load(file: string, flags: ExperimentFlags) {
  const plan = await readExperiment(file, flags, UP_DEFAULTS);
  const dir = outDir(file, flags);
  return { plan, dir, results: await readResults(dir) };
}

/** What is done and what is left, in a line or two. */
function summary(plan: ExperimentPlan, s: ResumeSelection, results: readonly RunResult[]): string[] {
  const left = [
    s.changed ? `${s.changed} of points whose plan changed` : '',
    s.unfinished ? `${s.unfinished} left unfinished before` : '',
  ].filter(Boolean);
  const lines = [
    `experiment: ${plan.points.length} points × ${plan.repeats} repeat(s) = ${plan.runs.length} runs: ${s.done.length} done (kept), ${s.todo.length} to run${left.length ? ` (${left.join(', ')})` : ''}`,
  ];
  if (s.elsewhere)
    lines.push(`experiment: ${s.elsewhere} finished run(s) of points no longer in the file stay in the results`);
  if (s.todo.length) {
    const e = estimate(
      s.todo.map((r) => r.point),
      results,
    );
    const from = [
      e.measured.length ? `measured at N ${e.measured.join(', ')}` : '',
      e.guessed.length ? `guessed at N ${e.guessed.join(', ')}: ${guessSeconds(0)} s + 2 s a node` : '',
    ].filter(Boolean);
    lines.push(`experiment: about ${duration(e.seconds)} for the ${s.todo.length} runs to run (${from.join('; ')})`);
  }
  return lines;
}

export async function experimentPlan(file: string, flags: ExperimentFlags, out: Output): Promise<void> {
  const { plan, dir, results } = await load(file, flags);
  const selection = selectRuns(plan.runs, results);
  const done = new Set(selection.done.map((r) => r.id));
  const width = maxOf(plan.points.map((p) => p.name.length)) ?? 0;
  for (const point of plan.points) {
    const runs = plan.runs.filter((r) => r.point === point);
    const finished = runs.filter((r) => done.has(r.id)).length;
    out.line(`${point.name.padEnd(width)}  ${point.label}  (${finished}/${runs.length} done)`);
  }
  for (const line of summary(plan, selection, results)) out.line(line);
  out.line(`experiment: results in ${dir}`);
}

/** The flags `up` gets for one run: the point's values, and the experiment's folders. */
function upFlags(plan: ExperimentPlan, run: PlannedRun, dir: string): UpFlags {
  const s = plan.setting;
  const p = run.point;
  const pointDir = path.join(dir, p.name);
  return {
    n: p.n,
    ...(s.binary !== undefined ? { binary: s.binary } : {}),
    ...(s.code !== undefined ? { code: s.code } : {}),
    ...(s.bn256 !== undefined ? { bn256: s.bn256 } : {}),
    config: 'config',
    keys: path.join(dir, 'keys'),
    configs: path.join(pointDir, 'configs'),
    registry: s.registry,
    network: s.network,
    logs: path.join(pointDir, String(run.repeat)),
    timeout: s.timeout,
    parallel: 8,
    ...(s.strict ? { strict: true as const } : {}),
    ...(s.tag !== undefined ? { tag: s.tag } : {}),
    ...(s.spread ? { spread: true as const } : {}),
    ...(p.net !== 'none' ? { net: p.net } : {}),
    netImpl: s.netImpl,
    ...(p.zones !== undefined ? { zones: p.zones } : {}),
    ...(p.faults !== 'none' ? { faults: p.faults } : {}),
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
    ...(s.stall !== undefined ? { stall: s.stall } : {}),
    capAdd: [],
  };
}

/**
 * up's output of one run, into DIR/<point>/up-<repeat>.txt: the experiment's terminal gets one line a run.
 * The file is redacted as the terminal is (`out`'s redact), and the committee up makes on its way is told to it.
 */
async function runOutput(file: string, out: Output): Promise<{ out: Output; close: () => Promise<void> }> {
  const stream = await createFileStream(file);
  const redact = writtenText(out);
  const write = (text: string) => void stream.write(`${redact(text)}\n`);
  return {
    out: {
      line: write,
      warn: write,
      tty: false,
      ...(out.keysFolder ? { keysFolder: out.keysFolder } : {}),
      ...(out.redact ? { redact: out.redact } : {}),
    },
    close: () => new Promise((resolve) => stream.end(resolve)),
  };
}

/** The first line of what stopped a run, clipped: the results' message. */
const firstLine = (error: unknown) =>
  clip((error instanceof Error ? error.message : String(error)).split('\n')[0]!, 300);

export async function experimentRun(
  file: string,
  flags: ExperimentFlags,
  out: Output,
  stand: Partial<ExperimentDeps> = {},
): Promise<void> {
  // Every point checked, and the folder judged, before anything changes.
  const { plan, dir } = await load(file, flags);
  await fs.mkdir(dir, { recursive: true });
  // One experiment in a folder at a time: a second is refused at once, naming the first.
  await withLock(dir, () => runGrid(plan, dir, out, { ...processDeps, ...stand }), 0);
}

async function runGrid(plan: ExperimentPlan, dir: string, out: Output, deps: ExperimentDeps): Promise<void> {
  let results = await readResults(dir); // again, under the lock
  const selection = selectRuns(plan.runs, results);
  for (const line of summary(plan, selection, results)) out.line(line);
  if (!(await exists(path.join(dir, 'results.json')))) await writeResults(dir, results);
  const controller = new AbortController();
  let stopped: unknown;
  const stopListening = deps.onInterrupt(() => {
    out.warn('experiment: stopping the current run and removing its nodes (Ctrl-C again leaves at once)');
    controller.abort(new Interrupted('interrupted'));
  });
  // A committee an earlier invocation made: its secrets are kept out of what this one prints and writes.
  await out.keysFolder?.(path.join(dir, 'keys'));
  try {
    for (const [i, run] of selection.todo.entries()) {
      if (controller.signal.aborted) break;
      const { result, error } = await runOne(plan, run, dir, deps, controller.signal, out);
      // The experiment's committee, as the run's keys gen left it: nothing of it is printed (src/cli.ts).
      await out.keysFolder?.(path.join(dir, 'keys'));
      results = addResult(results, result);
      await writeResults(dir, results);
      // A run that stopped before any log measured nothing of gomel: the engine, the registry or the
      // image failed, and every run after it would the same way. Stop; the next invocation retries it.
      if (result.status === 'unfinished' && !controller.signal.aborted) {
        stopped = error;
        out.line(`[${i + 1}/${selection.todo.length}] ${run.point.name} #${run.repeat}: ${progressText(result)}`);
        break;
      }
      const rest = selection.todo.slice(i + 1).map((r) => r.point);
      const eta =
        rest.length && !controller.signal.aborted
          ? ` · ${rest.length} left, about ${duration(estimate(rest, results).seconds)}`
          : '';
      out.line(`[${i + 1}/${selection.todo.length}] ${run.point.name} #${run.repeat}: ${progressText(result)}${eta}`);
    }
  } finally {
    stopListening();
  }
  await experimentReport(dir, path.join(dir, 'report.html'), out, false, true).catch((error: unknown) => {
    // The page is a view of results.json, which is written: a page that fails is said, not the experiment's end.
    if (!(error instanceof InputError || error instanceof EnvironmentError)) throw error;
    out.warn(`experiment: no report: ${error.message}`);
  });
  const done = selectRuns(plan.runs, results).done.length;
  if (stopped !== undefined) {
    out.warn(
      `experiment: stopped: a run ended before any log; ${done} of ${plan.runs.length} runs done — once the cause below is mended, the same command runs the rest`,
    );
    throw stopped;
  }
  if (controller.signal.aborted)
    throw new Interrupted(
      `experiment: interrupted; ${done} of ${plan.runs.length} runs done — the same command runs the rest`,
    );
  const failed = results.filter((r) => plan.runs.some((p) => p.id === r.id) && r.exitCode !== 0).length;
  out.line(
    `experiment: ${done} of ${plan.runs.length} runs done${failed ? `, ${failed} without consensus (a result too: see their verdicts)` : ''}; ${path.join(dir, 'results.csv')}`,
  );
}

/**
 * The experiment's page, `file` (DIR/report.html by default): its charts and every run, from
 * DIR/results.json; `json` prints those results on stdout as well; `own`: `file` is the page's own
 * place in DIR, not a path the user named (checkReportOut: links). Returns a line saying where.
 */
export async function experimentReport(
  dir: string,
  file: string,
  out: Output,
  json = false,
  own = false,
): Promise<string> {
  const results = await readResults(dir);
  // Loaded here, as report loads them: vega takes 0.4 s, which a refused flag need not pay.
  const [{ experimentCharts }, { renderSvg }, { experimentPage }, { checkReportOut, writeReport }] = await Promise.all([
    import('../core/experiment/charts.js'),
    import('../report/render.js'),
    import('../report/experiment-html.js'),
    import('../report/html.js'),
  ]);
  await checkReportOut(file, own); // before the charts are drawn
  const charts = [];
  for (const c of experimentCharts(results)) charts.push({ title: c.title, svg: await renderSvg(c) });
  // A run's report, linked from wherever the page is.
  const link = (report: string) => path.relative(path.dirname(path.resolve(file)), path.resolve(dir, report));
  const title = `gomel experiment ${path.basename(path.resolve(dir))}`;
  // Its runs' messages quote nodes and the engine (results.json of an older gomelctl unredacted): as report's page.
  await writeReport(file, writtenText(out)(experimentPage(title, results, charts, link)), own);
  if (json) printJson(out, results);
  const said = `experiment: ${file} (${results.length} runs)`;
  (json ? out.warn : out.line)(said);
  return said;
}

/** A run's line: its verdict and headline figures, and its time. */
function progressText(r: RunResult): string {
  const figures = [
    r.unitsPerSecond !== undefined ? `${r.unitsPerSecond.toFixed(0)} units/s` : '',
    r.transactionsPerSecond !== undefined ? `${Math.round(r.transactionsPerSecond)} tx/s` : '',
    r.latencySeconds ? `latency p50 ${r.latencySeconds.p50.toFixed(2)} s` : '',
    r.hostBound ? `HOST-BOUND (${Math.round(r.hostBusy! * 100)}% of ${r.hostCpus} CPUs)` : '',
  ].filter(Boolean);
  if (r.exitCode === 130) return 'interrupted — its nodes removed; it runs again next time';
  if (r.status === 'unfinished') return `${r.verdict} (exit ${r.exitCode}) before any log — ${clip(r.message, 160)}`;
  const said = r.exitCode === 0 ? figures.join(', ') : clip(r.message, 160);
  return `${r.verdict} (exit ${r.exitCode})${said ? ` — ${said}` : ''} [${duration(r.wallSeconds)}]`;
}

/** One run through up: its config written, up run, its figures read; whatever up's end, a result. */
async function runOne(
  plan: ExperimentPlan,
  run: PlannedRun,
  dir: string,
  deps: ExperimentDeps,
  stop: AbortSignal,
  out: Output,
): Promise<{ result: RunResult; error?: unknown }> {
  const options = upFlags(plan, run, dir);
  // The point's own configs folder: the config its nodes run, and the size config sync is to keep it at.
  await fs.mkdir(options.configs, { recursive: true });
  await writeFileAtomic(path.join(options.configs, 'config.json'), run.point.configText);
  await writeSyncRecord(options.configs, { config: run.point.n });
  const log = await runOutput(path.join(dir, run.point.name, `up-${run.repeat}.txt`), out);
  const startedAt = new Date();
  let exitCode = 0;
  let message = '';
  let failure: unknown;
  try {
    await deps.up(options, log.out, stop);
  } catch (error) {
    failure = error;
    exitCode = exitCodeOf(error);
    message = firstLine(error);
    log.out.warn(`gomelctl: ${message}`);
  } finally {
    await log.close();
  }
  const wallSeconds = (Date.now() - startedAt.getTime()) / 1000;
  if (stop.aborted) await deps.clean(plan.setting.network).catch(() => undefined);
  if (exitCode === 130)
    return { result: runResult(run, { exitCode, message: 'interrupted (Ctrl-C)', startedAt, wallSeconds }, undefined) };
  // What the run measured, read as `report` reads it; a run that never collected logs has none.
  const measured = await deps.measure(options.logs, options.keys, options.configs).catch(() => undefined);
  const report = path.join(options.logs, 'report.html');
  const result = runResult(
    run,
    {
      exitCode,
      // Into results.json and .csv: it may quote a node or the engine (a task error).
      message: writtenText(out)(measured && (exitCode === 0 || !message) ? measured.consensusLine : message),
      startedAt,
      wallSeconds,
      ...((await exists(report)) ? { report: path.relative(dir, report) } : {}),
    },
    measured?.figures,
  );
  return { result, error: failure };
}
