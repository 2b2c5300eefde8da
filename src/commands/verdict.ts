// `verdict`: reads what the nodes left and says whether the committee reached
// consensus, and apart from that, how its nodes shut down.
import { CheckFailed, ExpectedStall, ForkFound, InputError } from '../core/errors.js';
import { judgeProbes, parseProbeReport, probeCommittee, type ProbeVerdict } from '../core/logs/probe.js';
import { LOGS_MARKER, VERDICT_FILE, VERDICT_HEADER } from '../core/logs/logs-folder.js';
import { readHead } from '../fs/node-logs.js';
import { mapLimit } from '../core/limit.js';

/** How much of a node's probe report is read: 64 times a 256-node committee's. */
const PROBE_REPORT_HEAD = 2 * 1024 * 1024;
import path from 'node:path';
import { exists } from '../fs/atomic.js';
import { clip, groupLines, PER_NODE_LINES_UP_TO } from '../core/summary.js';
import { writeNodeLines } from '../fs/logs-folder.js';
import { fewNames, type Verdict } from '../core/logs/verdict.js';
import { judgeRun, loadRun } from '../fs/run-folder.js';
import { evidenceLine } from '../core/logs/seal.js';
import type { VerdictFlags } from './report.flags.js';
import { printJson, writtenText, type Output } from './output.js';

function renderNode(v: Verdict['nodes'][number], limit: number): string {
  const facts = `level ${v.maxLevel ?? '-'}/${limit}, ${v.timingRounds} rounds, ${v.ordered} ordered, order ${v.byzantine ? 'not judged (it lied)' : v.agrees === undefined ? 'empty' : v.agrees ? 'agrees' : 'DIVERGES'}`;
  const why = v.reasons.length ? `; ${v.reasons.join('; ')}` : '';
  const notes = v.notes.length ? `; ${v.notes.join('; ')}` : '';
  return `${v.label}: ${v.byzantine ? 'BYZANTINE' : v.reached ? 'consensus' : 'NO consensus'} — ${facts}${why}; shutdown: ${v.shutdown.kind} (${v.shutdown.detail})${v.swarmNode ? `; on ${v.swarmNode}` : ''}${notes}`;
}

const probeNodeLine = (v: ProbeVerdict['nodes'][number]) =>
  `${v.label}: ${v.ok ? 'ok' : 'FAIL'} — ${v.reached} address(es) reached${v.reasons.length ? `; ${v.reasons.join('; ')}` : ''}`;

/**
 * The probe's verdict: a line per node up to PER_NODE_LINES_UP_TO nodes, then the failed
 * ones by problem and the peers not reached, each a few names; every node's line is in
 * VERDICT_FILE. The headline is said once: on stdout when every node passed, else as the error.
 */
async function renderProbes(result: ProbeVerdict, options: VerdictFlags, out: Output): Promise<void> {
  const peers = result.unreachedPeers;
  const summary = [
    ...groupLines(result.failures).map((line) => `probe: ${line}`),
    ...(peers.length
      ? [
          `probe: peers not reached: ${peers
            .slice(0, 3)
            .map((g) => `${clip(g.key, 60)} (by ${g.names.length} node(s))`)
            .join(', ')}${peers.length > 3 ? ` and ${peers.length - 3} more` : ''}`,
        ]
      : []),
  ];
  const nodeLines = result.nodes.map(probeNodeLine);
  let where = '`gomelctl verdict --json`';
  try {
    // Only into a folder `deploy logs` wrote (its manifest): elsewhere a verdict.txt may be the user's;
    // and there, only over a verdict.txt gomelctl wrote (its first line), never over a user's notes.
    const file = path.join(options.logs, VERDICT_FILE);
    const before = await readHead(file, VERDICT_HEADER.length);
    if (before !== undefined && before !== VERDICT_HEADER)
      out.warn(`verdict: ${file} is not one gomelctl wrote (its first line): kept as it is`);
    else if (await exists(path.join(options.logs, LOGS_MARKER)))
      where = await writeNodeLines(options.logs, VERDICT_FILE, [
        VERDICT_HEADER,
        ...[...nodeLines, ...summary, result.summary].map(writtenText(out)),
      ]);
  } catch (error) {
    // A folder the verdict may only read (someone else's, read-only) is still judged.
    if (!(error instanceof InputError)) throw error;
    out.warn(`verdict: ${error.message}`);
    where = '`gomelctl verdict --json` (it could not be written beside the logs)';
  }
  if (options.json) printJson(out, result);
  else {
    if (result.nodes.length <= PER_NODE_LINES_UP_TO) for (const line of nodeLines) out.line(line);
    for (const line of summary) out.line(line);
    out.line(`probe: every node's verdict: ${where}`);
    if (result.all) out.line(result.summary);
  }
  if (!result.all) throw new CheckFailed(`verdict: ${result.summary}`);
}

/** Prints the verdict; throws CheckFailed unless every node reached consensus (and, with strict, shut down cleanly). */
export async function verdict(options: VerdictFlags, out: Output): Promise<Verdict | undefined> {
  const run = await loadRun(options);
  const n = run.members.length;
  if (run.probe) {
    // Each report in its head, a few at a time: a real one is a line per address (about 30 KB at 256
    // nodes); 128 forged 15.5 MiB reports read at once took 4.2 GB (hostile pass B8).
    // Of each, what a real one can hold: an unreached line per address, an error or so (probe.ts).
    const committee = probeCommittee(run.members);
    const reports = await mapLimit(run.nodes, 4, async (node) => ({
      label: node.label,
      pid: node.pid,
      report: node.files?.probe
        ? parseProbeReport((await readHead(node.files.probe, PROBE_REPORT_HEAD))!, committee, node.files.probe)
        : undefined,
    }));
    await renderProbes(judgeProbes(reports, committee, n), options, out);
    return undefined;
  }
  const { verdict: result, config } = await judgeRun(run, options);
  const limit = config.config.LevelLimit;
  if (options.json) printJson(out, result);
  else {
    // What "level 50/50" is out of: the run's own conf.json, or the --config that matched it.
    out.line(`config: LevelLimit ${limit}, from ${config.file}`);
    for (const v of result.nodes) out.line(renderNode(v, limit));
    // Each correct node's sight of a liar, a line each while they stay few (the JSON has all).
    const sights = result.byzantineNodeLines;
    for (const line of sights.length <= PER_NODE_LINES_UP_TO
      ? sights
      : sights.filter((l) => !l.startsWith('byzantine: ')))
      out.line(line);
    for (const line of result.byzantineLines) out.line(line);
    for (const d of result.divergences) {
      out.line(
        `divergence at ordered unit #${d.position}: ${fewNames(d.majority.nodes)} ordered (creator:height) ${d.majority.unit}; ${fewNames(d.minority.nodes)} ordered ${d.minority.unit ?? 'nothing'}`,
      );
    }
    if (result.startSkew !== undefined)
      out.line(`start: the nodes started gomel within ${result.startSkew.toFixed(2)} s of each other`);
    if (result.evidenceNotUsed) out.line(evidenceLine(result.evidenceNotUsed));
    out.line(result.consensusLine);
    out.line(result.shutdownLine);
  }
  if (result.outcome === 'fork') throw new ForkFound(`verdict: ${result.consensusLine}`);
  if (result.outcome === 'stalled') throw new ExpectedStall(`verdict: ${result.consensusLine}`);
  if (result.outcome === 'failed') throw new CheckFailed(`verdict: ${result.consensusLine}`);
  if (options.strict && !result.clean)
    throw new CheckFailed(
      `verdict --strict: consensus reached, but not every node shut down cleanly (${result.shutdownLine})`,
    );
  return result;
}
