// An experiment's folder (`experiment run --out DIR`): DIR/results.json and results.csv,
// rewritten whole after each run (atomically: a run killed mid-write leaves the last
// version), the keys, and each run's logs under DIR/<point>/<repeat>/ as `up --logs` writes
// them. A folder that holds anything but an experiment's is refused before anything runs.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../core/errors.js';
import { readJsonAs } from '../core/json-input.js';
import { RESULTS_FILE, RESULTS_FORMAT, resultsCsv, type RunResult } from '../core/experiment/results.js';
import { writeFileAtomic } from './atomic.js';
import { fsProblem, isFsError, readOptionalInput } from './input.js';

export const RESULTS_JSON = 'results.json';
export const RESULTS_CSV = 'results.csv';

/** Whether `dir` holds an experiment (its results.json), without judging anything else. */
export async function isExperimentFolder(dir: string): Promise<boolean> {
  return (await readOptionalInput(path.join(dir, RESULTS_JSON), 'results file').catch(() => undefined)) !== undefined;
}

/**
 * The runs an experiment folder holds (none for a new or empty folder); one line when it
 * is not an experiment's: a file, or a folder with things in it but no results.json.
 */
export async function readResults(dir: string): Promise<RunResult[]> {
  const entries = await fs.readdir(dir).catch((e: unknown) => {
    if (isFsError(e) && e.code === 'ENOENT') return [];
    throw isFsError(e) ? fsProblem(e, dir) : e;
  });
  const file = path.join(dir, RESULTS_JSON);
  const text = await readOptionalInput(file, 'results file');
  if (text === undefined) {
    // A new experiment's folder may hold the committee its runs use (DIR/keys, as `keys gen` made it).
    if (entries.length === 0 || (entries.length === 1 && entries[0] === 'keys')) return [];
    throw new InputError(
      dir,
      undefined,
      'holds files but no results.json: not an experiment folder gomelctl wrote',
      'pass another --out folder; gomelctl writes only into its own',
    );
  }
  const results = readJsonAs(text, RESULTS_FILE);
  if (!results)
    throw new InputError(
      file,
      undefined,
      `not the results of an experiment (${RESULTS_FORMAT})`,
      'pass another --out folder, or move the file away',
    );
  return results.runs;
}

/** results.json and results.csv, each replaced whole. */
export async function writeResults(dir: string, runs: readonly RunResult[]): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, RESULTS_JSON), `${JSON.stringify({ format: RESULTS_FORMAT, runs }, null, 2)}\n`);
  await writeFileAtomic(path.join(dir, RESULTS_CSV), resultsCsv(runs));
}
