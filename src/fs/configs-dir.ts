// The configs folder: gomel's <name>.json files, plus our record of the committee
// size each was last synced to (config sync needs the previous size, and a
// config file has no room for it: gomel rejects unknown fields). The size before
// a resize is the committee's own history, kept in the keys folder (keys-dir.ts).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError, UsageError } from '../core/errors.js';
import { exists, writeFileAtomic } from './atomic.js';
import { readInput } from './input.js';
import { z } from 'zod';
import { readJsonAs } from '../core/json-input.js';

const SYNC_RECORD = '.gomelctl-sync.json';

interface ConfigFile {
  name: string;
  file: string;
  text: string;
}

/**
 * The file of the config a command was told to use (--config, --configs): a UsageError (exit 2,
 * nothing changed) when it is not there. A name not there must never fall back to defaults:
 * `keys gen --config g_mm` (a typo of g_m) resized the committee with the default columns (hostile pass B5).
 */
export async function requireConfig(configs: string, name: string): Promise<string> {
  const file = path.join(configs, `${name}.json`);
  if (await exists(file)) return file;
  throw new UsageError(
    (await exists(configs))
      ? `--config ${name}: there is no ${file} — choose one of the .json files in ${configs}`
      : `--configs ${configs}: there is no such folder, so no ${name}.json — pass the folder that holds the configs`,
  );
}

export async function readConfigs(dir: string, names: readonly string[] = []): Promise<ConfigFile[]> {
  if (!(await exists(dir))) throw new InputError(dir, undefined, 'no such configs folder', 'pass --configs DIR');
  if (!(await fs.stat(dir)).isDirectory())
    throw new InputError(dir, undefined, 'is a file, not a configs folder', 'pass --configs DIR');
  const wanted =
    names.length > 0
      ? names.map((n) => n.replace(/\.json$/, ''))
      : (await fs.readdir(dir))
          .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
          .map((f) => f.slice(0, -5))
          .sort();
  if (wanted.length === 0)
    throw new InputError(
      dir,
      undefined,
      'holds no gomel configs (<name>.json)',
      'pass the --configs folder that holds them',
    );
  return Promise.all(
    wanted.map(async (name) => {
      const file = path.join(dir, `${name}.json`);
      if (!(await exists(file)))
        throw new InputError(file, undefined, 'no such config', `choose one of the .json files in ${dir}`);
      return { name, file, text: await readInput(file, 'config file') }; // a folder named config.json is named (A8)
    }),
  );
}

export async function readSyncRecord(dir: string): Promise<Record<string, number>> {
  const file = path.join(dir, SYNC_RECORD);
  if (!(await exists(file))) return {};
  const record = readJsonAs(await readInput(file, 'sync record'), z.record(z.string(), z.number().int()));
  if (record) return record;
  throw new InputError(
    file,
    undefined,
    'not a JSON object of committee sizes',
    'delete it; the next `config sync` only caps NParents',
  );
}

export async function writeSyncRecord(dir: string, record: Record<string, number>): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
  await writeFileAtomic(path.join(dir, SYNC_RECORD), `${JSON.stringify(sorted, null, 2)}\n`);
}
