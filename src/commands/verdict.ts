// `verdict`: reads what the nodes left and says whether the committee reached
// consensus, and apart from that, how its nodes shut down.
import { CheckFailed, ExpectedStall, ForkFound } from '../core/errors.js';
import { judgeProbes, parseProbeReport } from '../core/logs/probe.js';
import type { Verdict } from '../core/logs/verdict.js';
import { readOptional } from '../fs/node-logs.js';
import { judgeRun, loadRun } from '../fs/run-folder.js';
import type { VerdictFlags } from './report.flags.js';
import { printJson, type Output } from './output.js';

function renderNode(v: Verdict['nodes'][number], limit: number): string {
  const facts = `level ${v.maxLevel ?? '-'}/${limit}, ${v.timingRounds} rounds, ${v.ordered} ordered, order ${v.agrees === undefined ? 'empty' : v.agrees ? 'agrees' : 'DIVERGES'}`;
  const why = v.reasons.length ? `; ${v.reasons.join('; ')}` : '';
  const notes = v.notes.length ? `; ${v.notes.join('; ')}` : '';
  return `${v.label}: ${v.reached ? 'consensus' : 'NO consensus'} — ${facts}${why}; shutdown: ${v.shutdown.kind} (${v.shutdown.detail})${v.swarmNode ? `; on ${v.swarmNode}` : ''}${notes}`;
}

/** Prints the verdict; throws CheckFailed unless every node reached consensus (and, with strict, shut down cleanly). */
export async function verdict(options: VerdictFlags, out: Output): Promise<Verdict | undefined> {
  const run = await loadRun(options);
  const n = run.members.length;
  if (run.probe) {
    const reports = await Promise.all(
      run.nodes.map(async (node) => ({
        label: node.label,
        report: node.files?.probe ? parseProbeReport((await readOptional(node.files.probe))!) : undefined,
      })),
    );
    const result = judgeProbes(reports, n);
    if (options.json) printJson(out, result);
    else {
      for (const v of result.nodes)
        out.line(
          `${v.label}: ${v.ok ? 'ok' : 'FAIL'} — ${v.reached} address(es) reached${v.reasons.length ? `; ${v.reasons.join('; ')}` : ''}`,
        );
      out.line(result.summary);
    }
    if (!result.all) throw new CheckFailed(`verdict: ${result.summary}`);
    return undefined;
  }
  const { verdict: result, levelLimit: limit } = await judgeRun(run, options);
  if (options.json) printJson(out, result);
  else {
    for (const v of result.nodes) out.line(renderNode(v, limit));
    for (const d of result.divergences) {
      out.line(
        `divergence at ordered unit #${d.position}: ${d.majority.nodes.join(', ')} ordered (creator:height) ${d.majority.unit}; ${d.minority.nodes.join(', ')} ordered ${d.minority.unit ?? 'nothing'}`,
      );
    }
    if (result.startSkew !== undefined)
      out.line(`start: the nodes started gomel within ${result.startSkew.toFixed(2)} s of each other`);
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
