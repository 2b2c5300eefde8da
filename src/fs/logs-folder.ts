// The folder a run's logs are collected into (`deploy logs --out`, `up --logs`):
// read and judged before anything is written, so that `up` can refuse it before
// it changes keys, configs or the engine (issue 25, mechanism 1), and deploy
// logs empties it of exactly what the plan allows (N89).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../core/errors.js';
import { LOGS_MARKER, planLogsFolder } from '../core/logs/logs-folder.js';
import { fsProblem, isFsError, readInput } from './input.js';

export interface LogsFolderCheck {
  /** Top-level names the folder holds now, its marker left out. */
  present: string[];
  /** What a fresh run removes first: only entries deploy logs recorded writing. */
  remove: string[];
}

const stat = (p: string) =>
  fs.stat(p).catch((e: unknown) => {
    if (isFsError(e) && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return undefined;
    throw isFsError(e) ? fsProblem(e, p) : e;
  });

/**
 * Whether `dir` may receive a run's logs, and what a fresh run removes first; one
 * line naming the folder when it may not: a file, under a file, or holding
 * anything gomelctl did not write there. Reads only.
 */
export async function checkLogsFolder(dir: string, fresh: boolean, option = '--out'): Promise<LogsFolderCheck> {
  const found = await stat(dir);
  if (!found) {
    // A new folder: its nearest existing parent must be a folder.
    for (let p = path.dirname(path.resolve(dir)); ; p = path.dirname(p)) {
      const parent = await stat(p);
      if (parent?.isDirectory()) return { present: [], remove: [] };
      if (parent) throw new InputError(dir, undefined, `${p} is a file, not a folder`, `pass another ${option} folder`);
      if (p === path.dirname(p)) return { present: [], remove: [] };
    }
  }
  if (!found.isDirectory())
    throw new InputError(dir, undefined, 'is a file, not a folder', `pass another ${option} folder`);
  const names = await fs.readdir(dir).catch((e: unknown) => Promise.reject(isFsError(e) ? fsProblem(e, dir) : e));
  const marker = names.includes(LOGS_MARKER)
    ? await readInput(path.join(dir, LOGS_MARKER), 'logs folder marker')
    : undefined;
  const plan = planLogsFolder(names, marker, fresh);
  if (!plan.ok) {
    const shown =
      plan.foreign.slice(0, 3).join(', ') + (plan.foreign.length > 3 ? ` and ${plan.foreign.length - 3} more` : '');
    throw new InputError(
      dir,
      undefined,
      `${plan.why} (${shown})`,
      'move them away or pass another --out / --logs folder; gomelctl deletes only what it wrote',
    );
  }
  return { present: names.filter((n) => n !== LOGS_MARKER), remove: plan.remove };
}
