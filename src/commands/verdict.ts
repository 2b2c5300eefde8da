// `verdict`: reads what the nodes left and says whether the committee reached consensus.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseCommittee } from '../core/committee.js';
import { checkConfigText } from '../core/config-check.js';
import { CheckFailed, InputError } from '../core/errors.js';
import { judge, judgeProbes, parseProbeReport, type NodeEvidence } from '../core/verdict.js';
import { exists } from '../fs/atomic.js';
import { COMMITTEE_FILE } from '../fs/keys-dir.js';
import { discoverNodes, readLogStats, readOptional } from '../fs/node-logs.js';
import type { Output } from './output.js';

export interface VerdictOptions {
  logs: string;
  config?: string;
  configs: string;
  keys: string;
  json?: boolean;
}

/** The committee size: the logs folder's committee.ka, else the keys folder's, else the nodes found. */
async function committeeSize(options: VerdictOptions, found: number): Promise<number> {
  for (const file of [path.join(options.logs, COMMITTEE_FILE), path.join(options.keys, COMMITTEE_FILE)]) {
    if (await exists(file)) return parseCommittee(await fs.readFile(file, 'utf8'), file).length;
  }
  return found;
}

/** LevelLimit: --config from the configs folder, else the logs folder's conf.json, else configs/config.json. */
async function levelLimit(options: VerdictOptions): Promise<number> {
  const candidates = options.config ? [path.join(options.configs, `${options.config}.json`)] : [path.join(options.logs, 'conf.json'), path.join(options.configs, 'config.json')];
  for (const file of candidates) {
    if (!(await exists(file))) continue;
    const { config, problems } = checkConfigText(await fs.readFile(file, 'utf8'), undefined);
    if (!config) throw new InputError(file, problems[0]?.path, `cannot read LevelLimit: ${problems[0]?.message}`, 'fix the config or pass --config');
    return config.LevelLimit;
  }
  throw new InputError(candidates[0]!, undefined, 'no config to read LevelLimit from', 'pass --config NAME (from --configs)');
}

/** Prints the verdict; throws CheckFailed unless every node reached consensus. */
export async function verdict(options: VerdictOptions, out: Output): Promise<void> {
  if (!(await exists(options.logs))) throw new InputError(options.logs, undefined, 'no such logs folder', 'collect logs with `gomelctl deploy logs` or pass --logs DIR');
  const files = await discoverNodes(options.logs);
  if (files.length === 0) throw new InputError(options.logs, undefined, 'holds no node logs (<pid>.log[.gz] files, or one folder per node)', 'collect them with `gomelctl deploy logs`');
  const n = await committeeSize(options, files.length);

  if (files.some((f) => f.probe)) {
    const reports = await Promise.all(files.map(async (f) => ({ label: f.label, report: f.probe ? parseProbeReport((await readOptional(f.probe))!) : undefined })));
    const result = judgeProbes(reports, n);
    if (options.json) out.line(JSON.stringify(result, null, 2));
    else {
      for (const v of result.nodes) out.line(`${v.label}: ${v.ok ? 'ok' : 'FAIL'} — ${v.reached} address(es) reached${v.reasons.length ? `; ${v.reasons.join('; ')}` : ''}`);
      out.line(result.summary);
    }
    if (!result.all) throw new CheckFailed(`verdict: ${result.summary}`);
    return;
  }

  const limit = await levelLimit(options);
  const evidence: NodeEvidence[] = [];
  for (const f of files) {
    const read = f.log ? await readLogStats(f.log) : undefined;
    const status = await readOptional(f.exitStatus);
    evidence.push({ pid: f.pid ?? evidence.length, label: f.label, stats: read?.stats, logProblem: read ? read.problem : 'no gomel log', exitStatus: status?.trim() ? Number(status.trim()) : undefined, stderr: await readOptional(f.stderr) });
  }
  const result = judge(evidence, n, limit);
  if (options.json) out.line(JSON.stringify(result, null, 2));
  else {
    for (const v of result.nodes) {
      const facts = `level ${v.maxLevel ?? '-'}/${limit}, ${v.timingRounds} rounds, ${v.ordered} ordered, order ${v.agrees === undefined ? 'empty' : v.agrees ? 'agrees' : 'DIVERGES'}${v.exitStatus !== undefined ? `, exit ${v.exitStatus}` : ''}`;
      out.line(`${v.label}: ${v.reached ? 'reached' : 'NOT reached'} — ${facts}${v.reasons.length ? `; ${v.reasons.join('; ')}` : ''}`);
    }
    for (const d of result.divergences) {
      out.line(`divergence at ordered unit #${d.position}: ${d.majority.nodes.join(', ')} ordered (creator:height) ${d.majority.unit}; ${d.minority.nodes.join(', ')} ordered ${d.minority.unit ?? 'nothing'}`);
    }
    out.line(result.summary);
  }
  if (!result.all) throw new CheckFailed(`verdict: ${result.summary}`);
}
