// `report`: what a run measured — figures and charts in one HTML file — and runs compared.
import path from 'node:path';
import { evidenceLine } from '../core/logs/seal.js';
import { addRunLine, headline, newRunStats, runFigures, type RunNode } from '../core/logs/run-stats.js';
import {
  addProtocolLine,
  mergeProtocolStats,
  newProtocolStats,
  protocolValueBudget,
} from '../core/logs/protocol-stats.js';
import { comparisonCharts, runCharts, type ChartSpec, type ReportNode } from '../core/logs/report-charts.js';
import { NODE_FILES } from '../core/deploy/node-contract.js';
import { InputError } from '../core/errors.js';
import { readHead, readOptional, type NodeFiles } from '../fs/node-logs.js';
import { clip } from '../core/summary.js';
import { runFaults } from '../core/report/run-faults.js';
import { parseCpuUsage } from '../core/logs/host-load.js';
import { byzantineReport } from '../core/report/byzantine.js';
import { networkLine, runSetup } from '../core/report/run-setup.js';
import { checkReportOut, reportPage, writeReport, type PageRun } from '../report/html.js';
import { renderSvg } from '../report/render.js';
import { printJson, writtenText, type Output } from './output.js';
import type { ReportFlags } from './report.flags.js';
import { checkLogsFolderExists, judgeRun, loadRun, type VerdictOptions } from '../fs/run-folder.js';
import { withLogsFolderLock } from '../fs/logs-folder.js';
import { isExperimentFolder } from '../fs/experiment-dir.js';

type ReportOptions = ReportFlags;

/**
 * What of a node's network.txt is read, and kept as its line: run.sh writes a line per group of
 * peers (a few hundred bytes); a forged one of 16 MiB a node was kept whole, per node (hostile pass B8).
 */
const NETWORK_HEAD = 64 * 1024;
const NETWORK_LINE = 1000;

/** One run as the page and the JSON show it. */
export interface ReportedRun extends PageRun {
  nodes: ReportNode[];
}

/** A node's own folder (as deploy logs writes), or undefined for <pid>.log files side by side. */
function nodeFolder(dir: string, files: NodeFiles | undefined): string | undefined {
  const file = files && (files.log ?? files.exitStatus ?? files.startedAt ?? files.task);
  return file && path.resolve(path.dirname(file)) !== path.resolve(dir) ? path.dirname(file) : undefined;
}

/** Reads one run folder: the verdict, the figures, gomel's own figures, the setup and the faults, in one pass over each log. */
export async function readRun(dir: string, options: ReportOptions): Promise<ReportedRun> {
  const verdictOptions: VerdictOptions = {
    logs: dir,
    config: options.config,
    configs: options.configs,
    keys: options.keys,
    trustLogs: options.trustLogs,
  };
  const run = await loadRun(verdictOptions);
  if (run.probe)
    throw new InputError(
      dir,
      undefined,
      'holds probe reports, not gomel logs: the probe measures no protocol',
      'deploy gomel (up --binary or --code) and report on its logs',
    );
  // One pass over each log: the verdict's statistics and the report's together.
  const stats = run.nodes.map((node) => (node.files?.log ? newRunStats() : undefined));
  // Per-peer counts for the committee's pids only, and each log its share of distinct values (hostile pass B8).
  const n = run.members.length;
  const protocol = run.nodes.map((node) => (node.files?.log ? newProtocolStats(n, protocolValueBudget(n)) : undefined));
  const {
    verdict,
    evidence,
    config,
    faults: faultFiles,
  } = await judgeRun(run, verdictOptions, (pid) => (line) => {
    addRunLine(stats[pid]!, line);
    addProtocolLine(protocol[pid]!, line);
  });
  const nodes: RunNode[] = [];
  const folders = run.nodes.map((node) => nodeFolder(dir, node.files));
  for (const [pid, node] of run.nodes.entries()) {
    const networkText = await readHead(node.files?.network, NETWORK_HEAD);
    const network = networkText === undefined ? undefined : clip(networkLine(networkText), NETWORK_LINE);
    const cpuText = await readOptional(node.files?.cpuUsage);
    const cpu = cpuText === undefined ? undefined : parseCpuUsage(cpuText);
    const host = evidence[pid]!.task?.swarmNode;
    const v = verdict.nodes[pid]!;
    // A log the verdict could not use (too large, unreadable) gives no figures either.
    const entry: RunNode = {
      label: node.label,
      stats: evidence[pid]!.stats ? stats[pid] : undefined,
      reached: v.reached,
      shutdown: v.shutdown.kind,
      startedAt: evidence[pid]!.startedAt,
      network: network || undefined,
      ...(cpu ? { cpu } : {}),
      ...(host ? { host } : {}),
    };
    const folder = folders[pid];
    // start_plan: "<common start> <when the node knew it>", then (since the coordinator fallback) the
    // node that fixed the start (templates/node-lib.sh start_together).
    const plan = folder
      ? (await readOptional(path.join(folder, NODE_FILES.startPlan)))?.trim().split(/\s+/).slice(0, 2).map(Number)
      : undefined;
    if (plan?.length === 2 && plan.every(Number.isFinite))
      entry.startPlan = { commonStart: plan[0]!, knownAt: plan[1]! };
    nodes.push(entry);
  }
  const setup = runSetup(
    config.config,
    config.file,
    nodes.map((n, pid) => ({ ...n, image: evidence[pid]!.task?.image })),
  );
  const figures = runFigures(nodes, verdict.agreedUnits, config.config.LevelLimit, setup.txpu);
  const faults =
    faultFiles.record &&
    runFaults(
      // Fault evidence the verdict did not use (not as sealed) times no window either (hostile pass 26).
      verdict.evidenceNotUsed
        ? { record: faultFiles.record, logs: faultFiles.logs.map(() => undefined), malformed: [] }
        : { record: faultFiles.record, logs: faultFiles.logs, malformed: faultFiles.malformed },
      nodes.map((n) => n.stats),
      figures,
      verdict,
    );
  // node<k> is pid k − 1: the pid matches what one node sent with what the others read.
  const protocolFigures = mergeProtocolStats(
    nodes.map((n, pid) => ({ label: n.label, pid, stats: evidence[pid]!.stats ? protocol[pid] : undefined })),
  );
  return {
    name: path.basename(path.resolve(dir)),
    consensusLine: verdict.evidenceNotUsed
      ? `${verdict.consensusLine}; ${evidenceLine(verdict.evidenceNotUsed)}`
      : verdict.consensusLine,
    shutdownLine: verdict.shutdownLine,
    setup,
    faults,
    ...(verdict.byzantine ? { byzantine: byzantineReport(verdict, stats, figures) } : {}),
    protocol: protocolFigures,
    figures,
    nodes,
  };
}

/**
 * Each run's name on the page: its folder's name, and where two runs share it (every
 * `up --logs logs` run's folder is "logs"), as much of the path as tells them apart
 * ("lab12/logs", "kill16/logs"), the whole path as given when nothing shorter does.
 */
export function runNames(folders: readonly string[]): string[] {
  const parts = folders.map((f) => path.resolve(f).split(path.sep).filter(Boolean));
  const tail = (i: number, k: number) => parts[i]!.slice(-k).join('/');
  return folders.map((folder, i) => {
    const clash = (k: number) => folders.some((_, j) => j !== i && tail(j, k) === tail(i, k));
    for (let k = 1; k <= parts[i]!.length; k++) if (!clash(k)) return tail(i, k) || folder;
    return folder; // the same folder twice: its path names it
  });
}

/** The page's charts: one run's, or several runs compared. */
export function reportCharts(runs: readonly ReportedRun[]): ChartSpec[] {
  return runs.length === 1
    ? runCharts(runs[0]!.nodes, runs[0]!.figures, runs[0]!.faults, runs[0]!.protocol)
    : comparisonCharts(
        runs.map((r) => ({ ...r, network: r.setup?.network.map((g) => g.conditions).join(' | ') || 'none' })),
      );
}

/**
 * `report --json` prints one JSON array on stdout and nothing else, one object per run:
 *   { name, consensus, shutdown, setup, faults?, byzantine?, figures, protocol }
 * consensus and shutdown are the verdict's lines; setup is what was run (RunSetup,
 * src/core/report/run-setup.ts: the config's knobs, the network conditions per group
 * of nodes, the images the nodes ran); faults, only for a run with a fault plan, is RunFaults (src/core/report/run-faults.ts:
 * each event's window as planned and as applied, the committee's units/s and own-unit latency
 * before, during and after it, the recovery after its end); byzantine, only for a run where a node lied (a twin),
 * is ByzantineReport (src/core/report/byzantine.ts: who lied, the heights in two versions, when each correct
 * node saw the fork, the committee before and after the first saw it); figures is RunFigures (src/core/logs/run-stats.ts),
 * whose fields are named for what they hold, with their unit last (…Seconds, …Ms, bytes…).
 * Times in seconds are on the run's common clock (figures.clock: t = 0 is the first node's start;
 * perNode[].startOffsetSeconds moves a node's own times onto it); …Ms durations are clock-free.
 * protocol is RunProtocolFigures (src/core/logs/protocol-stats.ts): gomel's own figures (parents per
 * unit, creation interval, failed creation attempts, decision depth; per sync service sessions
 * completed and failed, durations, duplicates, missing parents) and traffic as sent against as
 * delivered, with what stands out in words (flags).
 * A median of an even count is the midpoint of the two middle values; p90/p99 are nearest-rank.
 * A figure over some of the nodes gives their count beside it (orderingNodes, levelLimitSeconds.nodes).
 */
/** Writes the report of one run (or compares several) and prints the headline figures; returns the headline of the first run. */
export async function report(dirs: string[], options: ReportOptions, out: Output): Promise<string> {
  const folders = dirs.length ? dirs : [options.logs];
  // An experiment's folder (experiment run --out): its page drawn again from its results.
  if (folders.length === 1 && (await isExperimentFolder(folders[0]!)))
    return (await import('./experiment.js')).experimentReport(
      folders[0]!,
      options.out ?? path.join(folders[0]!, 'report.html'),
      out,
      options.json,
      options.out === undefined,
    );
  const file = options.out ?? (folders.length === 1 ? path.join(folders[0]!, 'report.html') : 'report.html');
  // The page's own place in the run's folder, not a path the user named (checkReportOut: links).
  const own = options.out === undefined && folders.length === 1;
  // Checked before the lock, whose place withLogsFolderLock makes (`report --logs x/y/z` made x/y, then
  // refused): the page's own folder, a run's, is named when missing; a --out the page cannot go to is
  // said before the runs are read and drawn.
  if (own) await checkLogsFolderExists(folders[0]!);
  await checkReportOut(file, own);
  // A page written into a run's folder is written under its lock, as deploy logs writes there:
  // the run is read whole, and a `deploy logs` into it waits.
  const into = folders.find((f) => path.resolve(f) === path.resolve(path.dirname(file)));
  return into === undefined
    ? writeRunsReport(folders, { file, own }, options, out)
    : withLogsFolderLock(into, () => writeRunsReport(folders, { file, own }, options, out));
}

/**
 * The run `report` last read alone, by its folder. `experiment run` runs up in this process and
 * takes what up's report step read, rather than read the run's logs a second time (its report
 * took 4.5 s of CPU at N = 64: bench/README.md). Taken once: nothing stale outlives the next run.
 */
let lastRun: { dir: string; run: ReportedRun } | undefined;
export function takeReportedRun(dir: string): ReportedRun | undefined {
  const taken = lastRun?.dir === path.resolve(dir) ? lastRun.run : undefined;
  lastRun = undefined;
  return taken;
}

async function writeRunsReport(
  folders: string[],
  { file, own }: { file: string; own: boolean },
  options: ReportOptions,
  out: Output,
): Promise<string> {
  const runs: ReportedRun[] = [];
  for (const dir of folders) runs.push(await readRun(dir, options));
  lastRun = runs.length === 1 ? { dir: path.resolve(folders[0]!), run: runs[0]! } : undefined;
  runNames(folders).forEach((name, i) => (runs[i]!.name = name));
  const charts = [];
  for (const c of reportCharts(runs)) charts.push({ title: c.title, svg: await renderSvg(c) });
  const title =
    runs.length === 1 ? `gomel run ${runs[0]!.name}` : `gomel runs compared: ${runs.map((r) => r.name).join(', ')}`;
  // The page quotes the nodes (a stderr's panic line, a faults.log line): redacted whole, as HTML's
  // escapes (&lt;) end a run of key characters and the redaction's own words need none.
  await writeReport(file, writtenText(out)(reportPage(title, runs, charts)), own);
  if (options.json) {
    // stdout carries the JSON alone, so `report --json | jq` works; the file's name goes to stderr.
    printJson(
      out,
      runs.map((r) => ({
        name: r.name,
        consensus: r.consensusLine,
        shutdown: r.shutdownLine,
        setup: r.setup,
        faults: r.faults,
        byzantine: r.byzantine,
        figures: r.figures,
        protocol: r.protocol,
      })),
    );
    out.warn(`report: ${file}`);
    return headline(runs[0]!.figures);
  }
  for (const r of runs) out.line(`report: ${r.name}: ${headline(r.figures)}`);
  out.line(`report: ${file}`);
  return headline(runs[0]!.figures);
}
