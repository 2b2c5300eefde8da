// One writer at a time for a folder (the keys, the configs): a lock file beside
// it (the folder itself may be swapped as a whole on write, so the lock cannot
// live inside it). The lock names its holder by pid and that process's start
// time, so that no leftover can strand a user (issue 25, N11, N18, N102):
// * it appears whole or not at all (written aside, then hard-linked into
//   place), so an empty or unreadable lock is never a live run's: taken over;
// * a dead pid, a zombie (killed, not yet reaped) or a pid reused by another
//   process (its start time differs) is no holder: taken over;
// * a process's own lock is re-entered by the call that holds it (`--configs k --keys k`),
//   and waited on by its other tasks, as another process would.
// A hand-made lock rather than proper-lockfile: that library judges a holder by
// the lock's mtime, so a killed run blocks every later one for its stale period
// (≥ several seconds), and a busy event loop can lose a live lock; the pid and
// start time say at once, without a timer.
import { AsyncLocalStorage } from 'node:async_hooks';
import { constants, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { EnvironmentError, InputError } from '../core/errors.js';
import { fsProblem, isFsError, kindOf } from './input.js';

/** The lock of folder `dir` (an absolute, resolved path: see keys-dir.ts resolveFolder). */
const lockFile = (dir: string) =>
  path.join(path.dirname(path.resolve(dir)), `.${path.basename(path.resolve(dir))}.lock`);

/** Locks this process holds (by lock file): a second task of the process waits for them like another process would. */
const held = new Set<string>();
/** The locks the running call chain holds: a withLock nested inside one re-enters it (N18). */
const ownedHere = new AsyncLocalStorage<ReadonlySet<string>>();

/** Field 22 of /proc/<pid>/stat (start time in clock ticks) and the state; undefined without /proc. */
function procStat(pid: number): { state: string; start: string } | undefined | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ESRCH' ? null : undefined; // null: no such process
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' '); // the command name may hold spaces and parentheses
  return { state: rest[0]!, start: rest[19]! };
}

const myStart = () => procStat(process.pid)?.start ?? '0';

function alive(pid: number, start: string | undefined): boolean {
  const stat = procStat(pid);
  if (stat === null) return false;
  if (stat) {
    if (stat.state === 'Z' || stat.state === 'X') return false; // killed, not yet reaped: it writes nothing more (N9)
    if (start !== undefined) return stat.start === start; // else the pid was reused (N102)
    // A lock of an older gomelctl holds only a pid: it is one only if that process is a gomelctl.
    return readCmdline(pid).includes('gomelctl');
  }
  try {
    process.kill(pid, 0); // no /proc: the pid alone
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** A lock's text as tryCreate writes it: "<pid> <start time>\n" (an older gomelctl's: "<pid>\n"). */
const LOCK_TEXT = /^(\d+)(?: (\d+))?\n$/;

/** The live holder named by a lock file's text, if any. */
function holderOf(text: string | undefined): number | undefined {
  const m = LOCK_TEXT.exec(text ?? '');
  if (!m) return undefined;
  const pid = Number(m[1]);
  return pid > 0 && alive(pid, m[2]) ? pid : undefined;
}

/**
 * The most of a lock that is read: tryCreate writes "<pid> <start time>\n", at most 7 + 1 + 20 + 1
 * bytes (pid_max is 2^22; the start time is a 64-bit count of clock ticks). More is no lock of ours.
 */
const LOCK_BYTES = 64;

/** A lock that is no file gomelctl wrote: one line naming it, and the fix. */
const notALock = (file: string, kind: string) =>
  new InputError(
    file,
    undefined,
    `is ${kind}, not a lock file gomelctl wrote (it writes only regular files there)`,
    'remove it and run again',
  );

/**
 * The text of a lock, or undefined when it is gone or unreadable (then it is taken over). The lock
 * sits beside the folder, in a parent that may be world-writable (/tmp): whatever is there is opened
 * without following a link and without waiting (a FIFO blocked `report` and `keys gen` forever, a
 * link to /dev/zero ate 1.17 GB: hostile pass B3), and only a regular file is read, at most LOCK_BYTES.
 */
async function readLock(file: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof fs.open>>;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY);
  } catch (error) {
    // O_NOFOLLOW: a symbolic link fails with ELOOP.
    if (isFsError(error) && error.code === 'ELOOP') throw notALock(file, 'a symbolic link');
    return undefined;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw notALock(file, kindOf(stat));
    const buffer = Buffer.alloc(LOCK_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.toString('utf8', 0, bytesRead); // over LOCK_BYTES: no text of ours (withLock refuses it)
  } catch (error) {
    if (error instanceof InputError) throw error;
    return undefined;
  } finally {
    await handle.close();
  }
}

/** The pid of a live process other than this one holding the folder's lock, if any. */
export async function lockHolder(dir: string): Promise<number | undefined> {
  const file = lockFile(dir);
  if (ownedHere.getStore()?.has(file)) return undefined;
  if (held.has(file)) return process.pid; // another task of this process: two `deploy logs` of one `up`, a test
  const pid = holderOf(await readLock(file));
  return pid === process.pid ? undefined : pid;
}

/** Waits (up to `waitMs`) until no live process holds the folder's lock; readers call it before recovering. */
export async function waitForWriter(dir: string, waitMs = 60_000): Promise<void> {
  const giveUp = Date.now() + waitMs;
  for (let pid = await lockHolder(dir); pid !== undefined; pid = await lockHolder(dir)) {
    if (Date.now() >= giveUp) throw busy(dir, pid);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const busy = (dir: string, pid: number) =>
  new EnvironmentError(
    `${dir}: another gomelctl (pid ${pid}) is writing here; wait for it to finish, or remove ${lockFile(dir)} if no such process runs`,
  );

/** Creates the lock whole or not at all: written aside, then linked into place (link fails if it exists). */
async function tryCreate(file: string): Promise<boolean> {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await fs.writeFile(aside, `${process.pid} ${myStart()}\n`, { flag: 'wx', mode: 0o600 });
    await fs.link(aside, file);
    return true;
  } catch (error) {
    if (isFsError(error) && error.code === 'EEXIST' && error.syscall === 'link') return false;
    // Disk full, read-only or no permission: name the folder the lock goes into (N10, N13).
    throw isFsError(error) ? fsProblem(Object.assign(error, { path: path.dirname(file) }), file) : error;
  } finally {
    await fs.rm(aside, { force: true });
  }
}

/**
 * Runs `fn` holding the folder's lock. A second writer waits up to `waitMs`, then
 * fails with one line naming the holder; a lock with no live holder is taken over.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
  const file = lockFile(dir);
  const mine = ownedHere.getStore() ?? new Set<string>();
  if (mine.has(file)) return fn(); // our own lock: the outer call covers this one (N18)
  const giveUp = Date.now() + waitMs;
  while (!(await tryCreate(file))) {
    const text = await readLock(file);
    // Our pid on a lock no task of ours holds: a leftover of a killed run whose pid we reuse.
    const holder = held.has(file) ? process.pid : holderOf(text);
    // A lock is written whole (tryCreate): other text there is a file of someone else's, never removed
    // (a 1 MB file, or "my notes", at .k.lock was taken over and deleted: hostile pass 6).
    if (text !== undefined && !LOCK_TEXT.test(text))
      throw notALock(file, 'a file whose text is no lock gomelctl wrote ("<pid> <start>", at most 64 bytes)');
    if (holder === undefined || (holder === process.pid && !held.has(file))) {
      // No live holder: take it over. The rename is atomic, so of two takers one moves
      // the stale lock; the other finds it gone or changed and puts back what it moved.
      const moved = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      if (
        await fs.rename(file, moved).then(
          () => true,
          () => false,
        )
      ) {
        if ((await readLock(moved)) !== text) await fs.link(moved, file).catch(() => undefined); // a fresh lock after all
        await fs.rm(moved, { force: true });
      }
      continue;
    }
    if (Date.now() >= giveUp) throw busy(dir, holder);
    await new Promise((r) => setTimeout(r, 100));
  }
  held.add(file);
  try {
    return await ownedHere.run(new Set([...mine, file]), fn);
  } finally {
    held.delete(file);
    await fs.rm(file, { force: true });
  }
}
