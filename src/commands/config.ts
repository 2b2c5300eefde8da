// `config check | sync`.
import { promises as fs, constants as fsConstants } from 'node:fs';
import { checkConfigText, hasErrors, type CommitteeShape, type Problem } from '../core/config/check.js';
import { planConfigSync, type ConfigSyncPlan } from '../core/config/plan.js';
import { CheckFailed, InputError } from '../core/errors.js';
import type { Member } from '../core/keys/committee.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { withLock } from '../fs/lock.js';
import { readConfigs, readSyncRecord, writeSyncRecord } from '../fs/configs-dir.js';
import { readResizeHistory, requireCommitteeFile, resolveFolder } from '../fs/keys-dir.js';
import type { Output } from './output.js';

import type { ConfigCheckFlags, ConfigSyncFlags } from './config.flags.js';
import { redactKeyMaterial } from '../core/keys/secrets.js';

type ConfigOptions = ConfigCheckFlags;

function committeeShape(members: readonly Member[]): CommitteeShape {
  const first = members[0]!;
  return { size: members.length, addressColumns: first.addresses.length, setupColumns: first.setupAddresses.length };
}

async function readShape(keysDir: string): Promise<CommitteeShape> {
  return committeeShape((await requireCommitteeFile(keysDir)).members);
}

// A problem quotes the config's values: a key or seed pasted into one is not printed back (issue 30, B2).
const renderProblem = (file: string, p: Problem) =>
  redactKeyMaterial(`  ${p.severity}: ${file} ${p.path}: ${p.message} — ${p.fix}`);

// A config with 50,000 ignored Params keys printed 7.4 MB of warnings: show the errors first, then this many.
export const SHOWN_PROBLEMS = 20;

/** At most `shown` problems, errors first, then "and K more" counting what was left out. */
function renderProblems(file: string, problems: readonly Problem[], out: Output, shown = SHOWN_PROBLEMS): void {
  const ordered = [
    ...problems.filter((p) => p.severity === 'error'),
    ...problems.filter((p) => p.severity !== 'error'),
  ];
  for (const p of ordered.slice(0, shown)) out.line(renderProblem(file, p));
  if (ordered.length > shown) out.line(`  … and ${ordered.length - shown} more in ${file}`);
}

export async function configCheck(options: ConfigOptions, names: string[], out: Output): Promise<void> {
  const shape = await readShape(options.keys);
  const configs = await readConfigs(options.configs, names);
  const failed: string[] = [];
  for (const c of configs) {
    const { problems } = checkConfigText(c.text, shape, c.name);
    const errors = problems.filter((p) => p.severity === 'error').length;
    const warnings = problems.length - errors;
    out.line(
      `${c.file}: ${errors ? `FAIL (${errors} error${errors > 1 ? 's' : ''})` : 'OK'}${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}`,
    );
    renderProblems(c.file, problems, out);
    if (hasErrors(problems)) failed.push(c.name);
  }
  if (failed.length > 0) {
    throw new CheckFailed(
      `config check: ${failed.length} of ${configs.length} configs cannot run with the ${shape.size}-node committee in ${options.keys}: ${failed.join(', ')}`,
    );
  }
}

type ConfigSyncOptions = ConfigSyncFlags;

export async function configSync(options: ConfigSyncOptions, names: string[], out: Output): Promise<void> {
  const sync = await planSync(options, names);
  if (options.check || options.dryRun || !sync.needsWrite) return report(sync, options, out, false);
  // Only a sync that writes takes the lock (a no-op in a read-only place needs none: N13),
  // and plans again under it: another writer may have moved the configs meanwhile.
  const dir = await resolveFolder(options.configs);
  await withLock(dir, async () => {
    const again = await planSync(options, names);
    // Refused before anything is written or said (N12); root may write anywhere.
    await fs.access(dir, fsConstants.W_OK).catch(() => {
      throw new InputError(
        dir,
        undefined,
        'permission denied: config sync writes each config anew beside it',
        'run as a user who may write to this folder, or use `config sync --dry-run`',
      );
    });
    await report(again, options, out, again.needsWrite);
  });
}

interface SyncPlan {
  shape: CommitteeShape;
  configs: { file: string; name: string; plan: ConfigSyncPlan }[];
  record: Record<string, number>;
  needsWrite: boolean;
}

async function planSync(options: ConfigSyncOptions, names: string[]): Promise<SyncPlan> {
  const shape = await readShape(options.keys);
  const configs = await readConfigs(options.configs, names);
  const record = await readSyncRecord(options.configs);
  // The size a config followed: its own record, else the committee's size before its latest resize (kept with the keys).
  const beforeResize = await readResizeHistory(options.keys, shape.size);
  const planned = configs.map((c) => ({
    file: c.file,
    name: c.name,
    plan: planConfigSync(c.text, shape, record[c.name] ?? beforeResize, c.name),
  }));
  // A record that names another size would mislead the next sync; a missing one is the history's to fill.
  const stale = planned.some((c) => c.plan.readable && record[c.name] !== undefined && record[c.name] !== shape.size);
  return { shape, configs: planned, record, needsWrite: stale || planned.some((c) => c.plan.changes.length > 0) };
}

async function report(sync: SyncPlan, options: ConfigSyncOptions, out: Output, writing: boolean): Promise<void> {
  const { shape, record } = sync;
  let pending = 0;
  const blocked: string[] = [];
  for (const { file, name, plan } of sync.configs) {
    const unfixable = plan.blocking.length
      ? ` (${plan.blocking.length} problem${plan.blocking.length > 1 ? 's' : ''} sync cannot fix)`
      : '';
    if (plan.changes.length === 0) {
      out.line(`${file}: ${plan.readable ? 'up to date' : 'unreadable'}${unfixable}`);
    } else {
      pending++;
      if (writing) await writeFileAtomic(file, plan.text, undefined, { throughLink: true }); // written, then said (N12); the user's own file: through their link, keeping mode and owner (A13, A14)
      out.line(`${file}: ${writing ? 'updated' : 'would update'}${unfixable}`);
      for (const ch of plan.changes) {
        out.line(`  - "${ch.field}": ${ch.from}`);
        out.line(`  + "${ch.field}": ${ch.to}`);
      }
    }
    renderProblems(file, plan.blocking, out);
    if (plan.blocking.length > 0) blocked.push(name);
    // Remember the committee size this config now follows (the next resize needs it).
    if (writing && plan.readable) record[name] = shape.size;
  }
  if (writing) await writeSyncRecord(options.configs, record);
  if (options.check && pending > 0)
    throw new CheckFailed(
      `config sync --check: ${pending} config${pending > 1 ? 's' : ''} out of date with the ${shape.size}-node committee; run \`gomelctl config sync\``,
    );
  if (blocked.length > 0) {
    out.warn(
      `config sync: ${blocked.length} config${blocked.length > 1 ? 's' : ''} still cannot run with this committee (${blocked.join(', ')}); see the fixes above`,
    );
  }
}
