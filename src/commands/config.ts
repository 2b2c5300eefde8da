// `config check | sync`.
import { checkConfigText, hasErrors, type CommitteeShape, type Problem } from '../core/config-check.js';
import { planConfigSync } from '../core/config-plan.js';
import { CheckFailed } from '../core/errors.js';
import type { Member } from '../core/committee.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { withLock } from '../fs/lock.js';
import { readConfigs, readSyncRecord, writeSyncRecord } from '../fs/configs-dir.js';
import { requireCommitteeFile } from '../fs/keys-dir.js';
import type { Output } from './output.js';

export interface ConfigOptions {
  configs: string;
  keys: string;
}

export function committeeShape(members: readonly Member[]): CommitteeShape {
  const first = members[0]!;
  return { size: members.length, addressColumns: first.addresses.length, setupColumns: first.setupAddresses.length };
}

async function readShape(keysDir: string): Promise<CommitteeShape> {
  return committeeShape((await requireCommitteeFile(keysDir)).members);
}

const renderProblem = (file: string, p: Problem) => `  ${p.severity}: ${file} ${p.path}: ${p.message} — ${p.fix}`;

export async function configCheck(options: ConfigOptions, names: string[], out: Output): Promise<void> {
  const shape = await readShape(options.keys);
  const configs = await readConfigs(options.configs, names);
  const failed: string[] = [];
  for (const c of configs) {
    const { problems } = checkConfigText(c.text, shape, c.name);
    const errors = problems.filter((p) => p.severity === 'error').length;
    const warnings = problems.length - errors;
    out.line(`${c.file}: ${errors ? `FAIL (${errors} error${errors > 1 ? 's' : ''})` : 'OK'}${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}`);
    for (const p of problems) out.line(renderProblem(c.file, p));
    if (hasErrors(problems)) failed.push(c.name);
  }
  if (failed.length > 0) {
    throw new CheckFailed(`config check: ${failed.length} of ${configs.length} configs cannot run with the ${shape.size}-node committee in ${options.keys}: ${failed.join(', ')}`);
  }
}

export interface ConfigSyncOptions extends ConfigOptions {
  check?: boolean;
  dryRun?: boolean;
}

export async function configSync(options: ConfigSyncOptions, names: string[], out: Output): Promise<void> {
  if (options.check || options.dryRun) return syncConfigs(options, names, out);
  await withLock(options.configs, () => syncConfigs(options, names, out));
}

async function syncConfigs(options: ConfigSyncOptions, names: string[], out: Output): Promise<void> {
  const shape = await readShape(options.keys);
  const configs = await readConfigs(options.configs, names);
  const record = await readSyncRecord(options.configs);
  const writing = !options.check && !options.dryRun;
  let pending = 0;
  const blocked: string[] = [];
  for (const c of configs) {
    const plan = planConfigSync(c.text, shape, record[c.name], c.name);
    const unfixable = plan.blocking.length ? ` (${plan.blocking.length} problem${plan.blocking.length > 1 ? 's' : ''} sync cannot fix)` : '';
    if (plan.changes.length === 0) {
      out.line(`${c.file}: ${plan.readable ? 'up to date' : 'unreadable'}${unfixable}`);
    } else {
      pending++;
      out.line(`${c.file}: ${writing ? 'updated' : 'would update'}${unfixable}`);
      for (const ch of plan.changes) out.line(`  - "${ch.field}": ${ch.from}\n  + "${ch.field}": ${ch.to}`);
      if (writing) await writeFileAtomic(c.file, plan.text);
    }
    for (const p of plan.blocking) out.line(renderProblem(c.file, p));
    if (plan.blocking.length > 0) blocked.push(c.name);
    // Remember the committee size this config now follows (the next resize needs it).
    if (writing && plan.readable) record[c.name] = shape.size;
  }
  if (writing) await writeSyncRecord(options.configs, record);
  if (options.check && pending > 0) throw new CheckFailed(`config sync --check: ${pending} config${pending > 1 ? 's' : ''} out of date with the ${shape.size}-node committee; run \`gomelctl config sync\``);
  if (blocked.length > 0) {
    out.warn(`config sync: ${blocked.length} config${blocked.length > 1 ? 's' : ''} still cannot run with this committee (${blocked.join(', ')}); see the fixes above`);
  }
}
