// The folder a run's logs are collected into (`deploy logs --out`, `up --logs`):
// read and judged before anything is written, so that `up` can refuse it before
// it changes keys, configs or the engine (issue 25, mechanism 1), and deploy
// logs empties it of exactly what the plan allows (N89), inside each node's
// folder too. Its manifest is rewritten whole, atomically, and always lists at
// least what of gomelctl's is on disk: a run killed at any point leaves nothing
// of its own that the next run would take for the user's.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../core/errors.js';
import {
  formatManifest,
  LOGS_MARKER,
  planLogsFolder,
  planNodeFolder,
  recordedFiles,
  REPORT_FILE,
  someNames,
  type LogsManifest,
} from '../core/logs/logs-folder.js';
import { SEAL_FILE } from '../core/logs/seal.js';
import { isTempOf, writeFileAtomic, writeNewFile } from './atomic.js';
import { fsProblem, isFsError, readInput } from './input.js';
import { withLock } from './lock.js';
import { appendAll } from '../core/bounded.js';

export interface NodeFolderCheck {
  /** What of the node's folder gomelctl wrote: removed before the folder is written again or emptied. */
  remove: string[];
  /** What it did not: kept, and named to the user. */
  keep: string[];
  /** False for a folder whose manifest records no files (an older gomelctl's). */
  recorded: boolean;
}

export interface LogsFolderCheck {
  /** Top-level names the folder holds now, its marker (and a leftover of its rewrite) left out. */
  present: string[];
  /** What a fresh run removes first: only entries deploy logs recorded writing (and a marker's leftover, always). */
  remove: string[];
  /** What the manifest records writing inside each folder. */
  files: Record<string, string[]>;
  /** Each node folder a fresh run empties, or this run writes again (`rewrite`), planned. */
  folders: Map<string, NodeFolderCheck>;
}

const stat = (p: string) =>
  fs.stat(p).catch((e: unknown) => {
    if (isFsError(e) && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return undefined;
    throw isFsError(e) ? fsProblem(e, p) : e;
  });

const readdir = (dir: string) =>
  fs.readdir(dir, { withFileTypes: true }).catch((e: unknown) => Promise.reject(isFsError(e) ? fsProblem(e, dir) : e));

/** Every path inside `dir` that is not a folder, and every empty folder ('sub/'), relative; links are not followed. */
async function leavesOf(dir: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix))) {
    const rel = `${prefix}${entry.name}`;
    if (!entry.isDirectory()) found.push(rel);
    else {
      const inside = await leavesOf(dir, `${rel}/`);
      appendAll(found, inside.length ? inside : [`${rel}/`]);
    }
  }
  return found.sort();
}

/**
 * Whether `dir` may receive a run's logs, and what a fresh run removes first; one
 * line naming the folder when it may not: a file, under a file, or holding
 * anything gomelctl did not write there, or, inside a node's folder to be emptied
 * or written again (`rewrite`: the nodes of this run), a file the verdict would
 * read as the node's (planNodeFolder). Reads only.
 */
export async function checkLogsFolder(
  dir: string,
  fresh: boolean,
  option = '--out',
  rewrite: readonly string[] = [],
): Promise<LogsFolderCheck> {
  const found = await stat(dir);
  const empty = (): LogsFolderCheck => ({ present: [], remove: [], files: {}, folders: new Map() });
  if (!found) {
    // A new folder: its nearest existing parent must be a folder.
    for (let p = path.dirname(path.resolve(dir)); ; p = path.dirname(p)) {
      const parent = await stat(p);
      if (parent?.isDirectory()) return empty();
      if (parent) throw new InputError(dir, undefined, `${p} is a file, not a folder`, `pass another ${option} folder`);
      if (p === path.dirname(p)) return empty();
    }
  }
  if (!found.isDirectory())
    throw new InputError(dir, undefined, 'is a file, not a folder', `pass another ${option} folder`);
  const entries = await readdir(dir);
  // A manifest's (or report's) rewrite killed before its rename leaves its temporary file: ours, and garbage.
  const leftovers = entries
    .map((e) => e.name)
    .filter((n) => [LOGS_MARKER, REPORT_FILE, SEAL_FILE].some((name) => isTempOf(n, name)));
  const names = entries.map((e) => e.name).filter((n) => !leftovers.includes(n));
  const marker = names.includes(LOGS_MARKER)
    ? await readInput(path.join(dir, LOGS_MARKER), 'logs folder marker')
    : undefined;
  const plan = planLogsFolder(names, marker, fresh);
  if (!plan.ok) {
    throw new InputError(
      dir,
      undefined,
      `${plan.why} (${someNames(plan.foreign)})`,
      'move them away or pass another --out / --logs folder; gomelctl deletes only what it wrote',
    );
  }
  const present = names.filter((n) => n !== LOGS_MARKER);
  const files = recordedFiles(marker);
  const folders = new Map<string, NodeFolderCheck>();
  const touched = new Set([...plan.remove, ...rewrite.filter((n) => present.includes(n))]);
  for (const entry of entries) {
    if (!touched.has(entry.name) || !entry.isDirectory()) continue;
    const folder = path.join(dir, entry.name);
    const node = planNodeFolder(await leavesOf(folder), files[entry.name]);
    if (!node.ok)
      throw new InputError(
        path.join(folder, node.file),
        undefined,
        `gomelctl did not write it, and the verdict or the report would read it as ${entry.name}'s evidence`,
        `move it out of ${folder} (or pass another ${option} folder); gomelctl deletes only what it wrote`,
      );
    folders.set(entry.name, node);
  }
  return { present, remove: [...plan.remove, ...leftovers], files, folders };
}

/**
 * Runs `fn` holding the logs folder's lock (fs/lock.ts: `.<name>.lock` beside it),
 * so that two `deploy logs` / `up --logs` / `report` into one folder take turns:
 * each plans from the manifest the one before left, and none orphans the other's
 * files. The folder's parent is made first, for the lock to go into.
 */
export async function withLogsFolderLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const folder = path.resolve(dir);
  await fs.mkdir(path.dirname(folder), { recursive: true }).catch((e: unknown) => {
    throw isFsError(e) ? fsProblem(e, path.dirname(folder)) : e;
  });
  return withLock(folder, fn);
}

/** Removes a folder that is empty; one holding anything (a user's file) stays. True when it is gone. */
export async function removeIfEmpty(dir: string): Promise<boolean> {
  try {
    await fs.rmdir(dir);
    return true;
  } catch (e) {
    if (isFsError(e) && e.code === 'ENOENT') return true;
    if (isFsError(e) && (e.code === 'ENOTEMPTY' || e.code === 'EEXIST')) return false;
    throw isFsError(e) ? fsProblem(e, dir) : e;
  }
}

/**
 * Removes what planNodeFolder() found gomelctl wrote in a node's folder, and the
 * folders that leaves empty (not the node's folder itself). A file is unlinked
 * and a folder removed only when empty: nothing else, and nothing through a link.
 */
export async function removeWritten(folder: string, leaves: readonly string[]): Promise<void> {
  const parents = new Set<string>();
  for (const leaf of leaves) {
    const rel = leaf.replace(/\/$/, '');
    const target = path.join(folder, rel);
    if (leaf.endsWith('/')) await removeIfEmpty(target);
    else
      await fs.unlink(target).catch((e: unknown) => {
        if (!isFsError(e) || e.code !== 'ENOENT') throw isFsError(e) ? fsProblem(e, target) : e;
      });
    for (let d = path.posix.dirname(rel); d !== '.'; d = path.posix.dirname(d)) parents.add(d);
  }
  const deepestFirst = [...parents].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const d of deepestFirst) await removeIfEmpty(path.join(folder, d));
}

/**
 * The folder's manifest while a run writes it: rewritten whole through
 * writeFileAtomic (killed mid-write, the old manifest or the new is there, never
 * half of one), one write at a time, and a file is recorded before it is written.
 * Records made while a write is under way go together in the next one: eight
 * nodes collected at once wait for two writes, not eight.
 */
export class LogsManifestFile {
  private writes: Promise<void> = Promise.resolve();
  private next: Promise<void> | undefined;
  private readonly files: Record<string, string[]>;

  constructor(
    private readonly dir: string,
    private readonly manifest: LogsManifest,
  ) {
    this.files = manifest.files ?? {};
    manifest.files = this.files;
  }

  /** Records `paths` inside `folder`, beside what it records there already; resolves once that is on disk. */
  record(folder: string, paths: readonly string[]): Promise<void> {
    this.files[folder] = [...(this.files[folder] ?? []), ...paths];
    return this.save();
  }

  /** The folder holds exactly `paths` of gomelctl's now: recorded so at the next save(). */
  settle(folder: string, paths: readonly string[]): void {
    this.files[folder] = [...paths];
  }

  /** Writes the manifest as it is when the write starts; resolves once it is on disk. */
  save(): Promise<void> {
    this.next ??= this.writes
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return writeFileAtomic(path.join(this.dir, LOGS_MARKER), formatManifest(this.manifest));
      });
    this.writes = this.next;
    return this.next;
  }
}

/**
 * Every node's line, into a file of the run's folder (VERDICT_FILE, DEPLOY_LOGS_FILE): what a
 * command prints about many nodes is a summary that names this file (issue 35). Its path.
 * Written in place, not through a temporary file: a run killed meanwhile leaves part of a file
 * whose name is gomelctl's, rewritten by the next, rather than a temporary name nobody owns.
 */
export async function writeNodeLines(dir: string, name: string, lines: readonly string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeNewFile(file, lines.map((l) => `${l}\n`).join('')).catch((e: unknown) => {
    throw isFsError(e) ? fsProblem(e, file) : e;
  });
  return file;
}
