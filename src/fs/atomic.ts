// Crash-safe writes: a file or a whole folder is written beside its target and
// renamed into place, so an interrupted run leaves the previous version intact.
import { promises as fs, constants, closeSync, fchmodSync, openSync, writeFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mapLimit } from '../core/limit.js';
import { lockHolder, waitForWriter, withLock } from './lock.js';
import { fsProblem, isFsError } from './input.js';
import { z } from 'zod';
import { InputError } from '../core/errors.js';
import { PLAIN_NAME_JSON, readJsonAs } from '../core/json-input.js';

export interface FileToWrite {
  name: string;
  content: string | Uint8Array;
  mode: number;
}

/**
 * A file-system error as one line naming `shown` — the real path the user knows —
 * instead of a temporary name, or nothing at all: a write's ENOSPC carries no
 * path (issue 25, N10).
 */
function named(error: unknown, shown: string): unknown {
  if (!isFsError(error)) return error;
  return fsProblem(Object.assign(error, { path: shown }), shown);
}

/**
 * Writes `content` with exactly `mode` into `file`: a new file, or one that
 * stageFolder() created empty; durable only after flushFiles().
 */
function writeUnsynced(file: string, content: string | Uint8Array, mode: number, staged: boolean): void {
  const fd = openSync(
    file,
    staged ? constants.O_WRONLY | constants.O_TRUNC : constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
    mode,
  );
  try {
    writeFileSync(fd, content);
    fchmodSync(fd, mode); // the umask may have narrowed the mode
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes files written by writeUnsynced durable, all at once: syncfs(2) of their
 * file system, through `sync -f` (coreutils, busybox; Node has no binding). One
 * journal commit: ~50 ms for 1000 files, where one fsync per file costs 0.1–0.5 s
 * even 32 at a time (issue 14). Where `sync -f` fails, every file is fsynced.
 */
async function flushFiles(dir: string, names: readonly string[]): Promise<void> {
  const synced = await new Promise<boolean>((resolve) => execFile('sync', ['-f', dir], (error) => resolve(!error)));
  if (synced) return; // the folder's entries are the file system's too
  await mapLimit(names, 32, async (name) => {
    const handle = await fs.open(path.join(dir, name), 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** lstat, or undefined when nothing is there; any other failure is one line naming the path. */
export async function lstatIfAny(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (e) {
    if (isFsError(e) && e.code === 'ENOENT') return undefined;
    throw named(e, p);
  }
}

// Every write of gomelctl goes to a file it creates, never through a link: a link left
// in a folder it writes (logs/node1.log → ~/.bashrc) is replaced, and its target keeps
// its bytes (issue 30, class 3). The writes below are the only ones into a folder the
// user chose (test/write-paths.test.ts keeps it so): writeFileAtomic (replace durably),
// writeNewFile/createFileStream (a new file, not synced), writeCharDevice (--out /dev/null).

/**
 * Replaces the entry `file` atomically (temp file in the same folder + rename), so
 * that a symbolic link there is itself replaced and its target left as it was.
 * An existing regular file keeps its mode and, where we may, its owner (A14);
 * `mode` is for a new file. `throughLink`: the file is the user's own and a link
 * to it is how they keep it (config sync, A13): the real file is replaced and
 * the link stays.
 */
export async function writeFileAtomic(
  file: string,
  content: string | Uint8Array,
  mode = 0o644,
  { throughLink = false } = {},
): Promise<void> {
  const real = throughLink
    ? await fs.realpath(file).catch((e: unknown) => {
        if (isFsError(e) && e.code === 'ENOENT') return path.resolve(file); // new file (a dangling link fails below, named)
        throw named(e, file);
      })
    : path.resolve(file);
  const entry = await lstatIfAny(real);
  if (throughLink && entry?.isSymbolicLink())
    throw new InputError(real, undefined, 'is a symbolic link to a file that does not exist', 'fix or remove the link');
  const old = entry?.isFile() ? entry : undefined; // a link's own mode and owner are nobody's wish
  const folder = path.dirname(real);
  const tmp = path.join(folder, `.${path.basename(real)}.${randomBytes(6).toString('hex')}.tmp`); // isTempOf
  try {
    const handle = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(content);
      if (old && (old.uid !== process.getuid?.() || old.gid !== process.getgid?.())) {
        await handle.chown(old.uid, old.gid).catch(() => undefined); // only root may give a file away; then it stays ours
      }
      await handle.chmod(old ? old.mode & 0o7777 : mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, real);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    // Creating the temporary file is the first write: a refusal there is the folder's (N12).
    const code = isFsError(e) ? e.code : undefined;
    throw named(e, code === 'EACCES' || code === 'EROFS' || code === 'EPERM' ? folder : real);
  }
  await syncDir(folder);
}

/**
 * A new file at `file`, open for writing: whatever entry is there (a file of a last
 * run, or a link put in its place) is unlinked, never followed, and O_EXCL creates
 * the file or fails — a link made in between is not written through either. Not
 * synced: logs are collected again if lost. The caller closes the handle. A file-system
 * error is passed on as it is (deploy logs records an /extract name it cannot write).
 */
async function createFile(file: string, mode = 0o644): Promise<FileHandle> {
  await fs.unlink(file).catch((e: unknown) => {
    if (!isFsError(e) || e.code !== 'ENOENT') throw e;
  });
  return fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
}

/** createFile() as a stream (deploy logs --follow); ending it closes the file. */
export async function createFileStream(file: string, mode = 0o644): Promise<WriteStream> {
  return (await createFile(file, mode)).createWriteStream();
}

/** createFile() with its whole content. */
export async function writeNewFile(file: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const handle = await createFile(file, mode);
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

/**
 * Writes to `file` only if it is a character device (/dev/null, /dev/stdout's
 * terminal): nothing is created or truncated, and a device has no bytes to lose.
 * False, with nothing written, when it is anything else.
 */
export async function writeCharDevice(file: string, content: string | Uint8Array): Promise<boolean> {
  // stat first: opening a FIFO or a tape device has effects; fstat again, in case it was swapped since.
  if (!(await fs.stat(file).catch(() => undefined))?.isCharacterDevice()) return false;
  const handle = await fs.open(file, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isCharacterDevice()) return false;
    await handle.writeFile(content);
    return true;
  } finally {
    await handle.close();
  }
}

/** Whether `entry` is a temporary file writeFileAtomic() left beside `name` when killed before its rename. */
export const isTempOf = (entry: string, name: string): boolean =>
  entry.startsWith(`.${name}.`) && /^[0-9a-f]{12}\.tmp$/.test(entry.slice(name.length + 2));

export interface FolderSwapHooks {
  /** Called when the new folder is complete and before it replaces the old one (tests inject crashes here). */
  beforeSwap?: () => void | Promise<void>;
}

// Leftovers carry a generation: `.<name>.new-<gen>-<hex>` (being written),
// `.<name>.old-<gen>-<hex>` (the folder moved aside between the two renames);
// inside a folder updated in place, `.gomelctl-new-<gen>` and
// `.gomelctl-commit-<gen>` (complete: rolled forward). Recovery goes by the
// number, never by the directory's order (issue 25, N7).
const OLD = 'old';
const NEW = 'new';
const INSIDE_NEW = '.gomelctl-new-';
const INSIDE_COMMIT = '.gomelctl-commit-';
/** The list of names an in-place commit deletes, inside its commit folder. */
const REMOVE_LIST = '.remove';

/** The generation of a leftover of folder `base` of `kind`, or undefined if `entry` is none; an older gomelctl's `.<name>.old-XXXXXX` is 0. */
function generation(entry: string, base: string, kind: string): number | undefined {
  const prefix = `.${base}.${kind}-`;
  if (!entry.startsWith(prefix)) return undefined;
  const m = /^(\d+)-[0-9a-f]+$/.exec(entry.slice(prefix.length));
  return m ? Number(m[1]) : 0;
}

const insideGeneration = (entry: string, prefix: string) =>
  entry.startsWith(prefix) && /^\d+$/.test(entry.slice(prefix.length)) ? Number(entry.slice(prefix.length)) : undefined;

interface Leftovers {
  olds: { name: string; gen: number }[];
  news: string[];
  /** In-place leftovers inside the folder. */
  insideNew: string[];
  insideCommit: { name: string; gen: number }[];
  next: number;
}

async function leftovers(dir: string): Promise<Leftovers> {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  const out: Leftovers = { olds: [], news: [], insideNew: [], insideCommit: [], next: 1 };
  for (const e of await fs.readdir(parent).catch(() => [])) {
    const old = generation(e, base, OLD);
    const fresh = generation(e, base, NEW);
    if (old !== undefined) out.olds.push({ name: e, gen: old });
    if (fresh !== undefined) out.news.push(e);
    out.next = Math.max(out.next, (old ?? fresh ?? 0) + 1);
  }
  for (const e of await fs.readdir(dir).catch(() => [])) {
    if (insideGeneration(e, INSIDE_NEW) !== undefined) out.insideNew.push(e);
    const gen = insideGeneration(e, INSIDE_COMMIT);
    if (gen !== undefined) out.insideCommit.push({ name: e, gen });
    out.next = Math.max(out.next, (gen ?? insideGeneration(e, INSIDE_NEW) ?? 0) + 1);
  }
  out.olds.sort((a, b) => b.gen - a.gen || (a.name < b.name ? 1 : -1)); // newest first
  out.insideCommit.sort((a, b) => a.gen - b.gen); // rolled forward oldest first, so the newest wins
  return out;
}

/** Moves the files of a complete in-place commit into `dir` and deletes what it lists; safe to repeat. */
async function rollForward(dir: string, commitDir: string): Promise<void> {
  // A list that is not the plain names commit() wrote removes nothing: never a path out of the folder.
  const listed = await fs.readFile(path.join(commitDir, REMOVE_LIST), 'utf8').catch(() => '[]');
  const remove = readJsonAs(listed, z.array(PLAIN_NAME_JSON)) ?? [];
  for (const name of await fs.readdir(commitDir))
    if (name !== REMOVE_LIST) await fs.rename(path.join(commitDir, name), path.join(dir, name));
  for (const name of remove) await fs.rm(path.join(dir, name), { force: true });
  await syncDir(dir);
  await fs.rm(commitDir, { recursive: true, force: true });
}

/** Clears what an interrupted run left, under the folder's lock: restores or rolls forward, and removes the rest. */
async function clearLeftovers(dir: string): Promise<boolean> {
  const left = await leftovers(dir);
  const parent = path.dirname(dir);
  let restored = false;
  if (!(await lstatIfAny(dir)) && left.olds.length) {
    // Killed between the two renames: the newest folder moved aside is the committee (N7).
    await fs.rename(path.join(parent, left.olds.shift()!.name), dir);
    restored = true;
  }
  if (await lstatIfAny(dir)) {
    // The folder is whole: every older one moved aside was superseded.
    for (const o of left.olds) await fs.rm(path.join(parent, o.name), { recursive: true, force: true });
  }
  for (const n of left.news) await fs.rm(path.join(parent, n), { recursive: true, force: true });
  for (const n of left.insideNew) await fs.rm(path.join(dir, n), { recursive: true, force: true });
  for (const c of left.insideCommit) {
    await rollForward(dir, path.join(dir, c.name));
    restored = true;
  }
  return restored;
}

/**
 * Restores a folder left mid-write by an interrupted StagedFolder.commit();
 * returns true if it did. While a live writer holds the folder's lock, it waits
 * for it (between its two renames the folder is briefly absent: N4); a dead
 * or zombie writer's lock is taken over (N9).
 */
export async function recoverFolder(dir: string): Promise<boolean> {
  dir = path.resolve(dir);
  const left = await leftovers(dir);
  const present = Boolean(await lstatIfAny(dir));
  if ((present || !left.olds.length) && !left.insideNew.length && !left.insideCommit.length) return false;
  if (await lockHolder(dir)) await waitForWriter(dir);
  try {
    return await withLock(dir, () => clearLeftovers(dir));
  } catch (e) {
    throw named(e, dir);
  }
}

/**
 * The next version of folder `dir`, being written; its commit() replaces `dir`
 * with exactly the given files, as a set (the caller holds the folder's lock,
 * fs/lock.ts). Files named in advance are created empty at once: creating a
 * file costs 0.1–0.5 ms on ext4 here and filling it 0.01 ms, so `keys gen`
 * creates its member files while their keys are derived (issue 14).
 */
export interface StagedFolder {
  /** Writes `files` (the ones named in advance among them), flushes them, and swaps the folder in. */
  commit(files: readonly FileToWrite[], hooks?: FolderSwapHooks): Promise<void>;
  /** Removes the staged folder; `dir` stays as it was. */
  discard(): Promise<void>;
}

/** A mount point (a Docker volume, a tmpfs) cannot be renamed: EBUSY. Its files are updated in place instead. */
async function isMountPoint(dir: string): Promise<boolean> {
  const [self, parent] = await Promise.all([lstatIfAny(dir), lstatIfAny(path.dirname(dir))]);
  if (!self || !parent) return false;
  if (self.dev !== parent.dev || dir === path.dirname(dir)) return true;
  // A bind mount of the same file system keeps the device: ask the mount table.
  const table = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return table.split('\n').some((line) => unescape(line.split(' ')[4] ?? '') === dir);
}

/** `dir` must be absolute and resolved (keys-dir.ts resolveFolder): a rename of `k/../k` loses its own path (N16). */
export async function stageFolder(dir: string, namesAhead: readonly string[] = []): Promise<StagedFolder> {
  dir = path.resolve(dir);
  try {
    await fs.mkdir(path.dirname(dir), { recursive: true });
    await clearLeftovers(dir);
  } catch (e) {
    throw named(e, path.dirname(dir));
  }
  return stage(dir, (await leftovers(dir)).next, await isMountPoint(dir), namesAhead);
}

async function stage(dir: string, gen: number, inPlace: boolean, namesAhead: readonly string[]): Promise<StagedFolder> {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  const fresh = inPlace
    ? path.join(dir, `${INSIDE_NEW}${gen}`)
    : path.join(parent, `.${base}.${NEW}-${gen}-${randomBytes(6).toString('hex')}`);
  const discard = () => fs.rm(fresh, { recursive: true, force: true });
  try {
    await fs.mkdir(fresh, 0o700);
    await fs.chmod(fresh, 0o700);
    for (const name of namesAhead)
      closeSync(openSync(path.join(fresh, name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
  } catch (e) {
    await discard();
    throw named(e, inPlace || (isFsError(e) && e.code === 'ENOSPC') ? dir : parent);
  }
  const commit = async (files: readonly FileToWrite[], hooks: FolderSwapHooks = {}): Promise<void> => {
    try {
      const ahead = new Set(namesAhead);
      for (const f of files) writeUnsynced(path.join(fresh, f.name), f.content, f.mode, ahead.delete(f.name));
      if (ahead.size) throw new Error(`staged ${[...ahead].slice(0, 3).join(', ')} but not written`); // never swap in an empty file
      if (inPlace) await fs.writeFile(path.join(fresh, REMOVE_LIST), JSON.stringify(await toRemove(dir, files)));
      // Every file is durable before the rename.
      await flushFiles(
        fresh,
        files.map((f) => f.name),
      );
      await hooks.beforeSwap?.();
    } catch (e) {
      await discard();
      throw named(e, dir);
    }
    if (inPlace) {
      // Complete: from this rename on, the commit is rolled forward, by us or by the next command.
      const done = path.join(dir, `${INSIDE_COMMIT}${gen}`);
      await fs.rename(fresh, done);
      return rollForward(dir, done);
    }
    // Linux cannot swap two folders in one rename, so a crash between the two
    // renames leaves `.<name>.old-<gen>-*`; recoverFolder() puts it back.
    const aside = path.join(parent, `.${base}.${OLD}-${gen}-${randomBytes(6).toString('hex')}`);
    const hadOld = Boolean(await lstatIfAny(dir));
    if (hadOld) {
      try {
        await fs.rename(dir, aside);
      } catch (e) {
        await discard();
        // A mount point the mount table did not show: nothing moved yet, so update in place.
        if (isFsError(e) && (e.code === 'EBUSY' || e.code === 'EXDEV'))
          return (await stage(dir, gen, true, [])).commit(files, hooks);
        throw named(e, dir);
      }
    }
    await fs.rename(fresh, dir);
    await syncDir(parent);
    if (hadOld) await fs.rm(aside, { recursive: true, force: true });
  };
  return { commit, discard: async () => void (await discard()) };
}

/** What an in-place commit deletes: the visible files of `dir` the new set lacks (a swap would drop them too). */
async function toRemove(dir: string, files: readonly FileToWrite[]): Promise<string[]> {
  const keep = new Set(files.map((f) => f.name));
  const entries = await fs.readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isFile() && !e.name.startsWith('.') && !keep.has(e.name)).map((e) => e.name);
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}
