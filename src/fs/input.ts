// The one place input files are read. Every file the user names (keys, seed,
// committee, configs, zones, addresses, a binary) and every file of a logs folder
// comes through here, so each gets the same promises:
//   * regular files only: a FIFO would block the read forever, a device never ends
//     (/dev/zero), a socket cannot be read; each is refused by name;
//   * a symbolic link is followed and named in any refusal ("a link to /dev/zero");
//   * a size cap per kind of file, checked before reading: a sparse 3 GB file is one
//     line, not ERR_FS_FILE_TOO_LARGE or "Invalid string length";
//   * every failure is one line naming the path the user gave and the fix.
import { closeSync, constants, fstatSync, openSync, promises as fs, readSync, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../core/errors.js';
import { isSecretName, secretShape } from '../core/keys/secrets.js';

const FS_PROBLEMS: Record<string, [problem: string, fix: string]> = {
  ENOENT: ['does not exist', 'check the path'],
  EISDIR: ['is a folder, not a file', 'pass the file inside it'],
  ENOTDIR: ['a part of the path is a file, not a folder', 'check the path'],
  EACCES: ['permission denied', 'run as a user who may read and write it, or fix its mode'],
  EPERM: ['operation not permitted', 'choose a place you may write to'],
  ELOOP: ['is a loop of symbolic links', 'point the link at a real file'],
  EROFS: ['is on a read-only file system', 'choose a writable place'],
  ENOSPC: ['no space left on the device', 'free some space and run again'],
  EEXIST: ['already exists', 'move it away or choose another path'],
  ENAMETOOLONG: ['the path is too long', 'use a shorter path'],
  EINVAL: ['is not a usable path here (e.g. under /proc)', 'choose a normal folder'],
  ENXIO: ['is a socket or a device with nothing behind it', 'pass a regular file'],
};

const KiB = 1024;
const MiB = 1024 * KiB;
/**
 * The most a file of each kind may hold: far above any real one (a 65535-node
 * committee with many address columns stays under 64 MiB), so that a wrong file
 * is refused before it is read into memory.
 */
export const MEMBER_FILE_BYTES = 64 * KiB;
const MAX_BYTES: Record<string, number> = {
  'seed file': 4 * KiB,
  'member file': MEMBER_FILE_BYTES,
  'committee file': 256 * MiB,
  'gomel binary': 1024 * MiB,
  // A 65535-node committee's hosts (63 characters at most each) are 4.3 MB; a fault plan is at most
  // 256 KiB (FAULT_RECORD_MAX_BYTES). A forged 20 MB run.json took the report 198 s and 3.2 GB (hostile pass B8).
  'run record': 8 * MiB,
  'fault record': 8 * MiB,
  // The examples are under 1 KiB and 200 points (MAX_RUNS) of a few knobs each are about 40 KiB. A
  // 2 MB list of a million values took the experiment 1 GB and 5 s to parse and type before the run count refused it (hostile pass N6).
  'experiment file': 256 * KiB,
};
const DEFAULT_MAX_BYTES = 64 * MiB;
/**
 * The readers a committee's secrets are meant for. Any other reader (a fault plan, a
 * zones file, a config, an addresses file, a binary…) refuses a key file or the seed
 * before parsing it: its parser's errors may quote what it read (issue 25, mechanism 9).
 */
const SECRET_READERS = new Set(['member file', 'seed file', 'kept file', 'control token file', 'seal key']);
/** Larger files are no secret of ours (a member file is ~140 bytes, a seed 65): their content is not looked at. */
const SECRET_SHAPE_BYTES = 4 * KiB;
const maxBytesOf = (what: string | undefined) => (what && MAX_BYTES[what]) || DEFAULT_MAX_BYTES;

/** True for an error thrown by a file-system call (it carries an errno code and a syscall). */
export function isFsError(error: unknown): error is NodeJS.ErrnoException {
  const e = error as NodeJS.ErrnoException;
  return Boolean(e && typeof e.code === 'string' && typeof e.syscall === 'string');
}

/** One line for a file-system failure: the path, what is wrong, the fix. `file` wins over the error's own path when given (a temp file is not the user's path). */
export function fsProblem(
  error: NodeJS.ErrnoException,
  fallbackPath: string,
  what?: string,
  file = error.path ?? fallbackPath,
): InputError {
  const [problem, fix] = FS_PROBLEMS[error.code ?? ''] ?? [
    `${error.code ?? 'error'} on ${error.syscall ?? 'access'}`,
    'check the path',
  ];
  const subject =
    error.code === 'EISDIR' && what
      ? `is a folder, not a ${what}`
      : error.code === 'ENOENT' && what
        ? `no such ${what}`
        : problem;
  return new InputError(file, undefined, subject, fix);
}

export function formatBytes(n: number): string {
  if (n < KiB) return `${n} bytes`;
  const [value, unit] = n < MiB ? [n / KiB, 'KiB'] : n < 1024 * MiB ? [n / MiB, 'MiB'] : [n / (1024 * MiB), 'GiB'];
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
}

/** What a file that is not a regular one is, for a refusal: 'a named pipe (FIFO)', 'a character device'... */
export function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a named pipe (FIFO)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** " (a link to /real/path)" when `file` is a symbolic link: what was really refused. */
export async function linkNote(file: string): Promise<string> {
  const lstat = await fs.lstat(file).catch(() => undefined);
  if (!lstat?.isSymbolicLink()) return '';
  const target = await fs.realpath(file).catch(() => undefined);
  return target ? ` (a link to ${target})` : '';
}

async function guard<T>(file: string, what: string | undefined, read: () => Promise<T>): Promise<T> {
  // Node throws a TypeError for these, which would read as a bug of ours.
  if (file.includes('\0'))
    throw new InputError(file, undefined, 'contains a NUL character, which no path can hold', 'check the path');
  try {
    return await read();
  } catch (error) {
    if (!isFsError(error)) throw error;
    if (error.code === 'ENOENT') {
      // A dangling symbolic link says more than "does not exist".
      const target = await fs.readlink(file).catch(() => undefined);
      if (target !== undefined)
        throw new InputError(
          file,
          undefined,
          `is a symbolic link to ${target}, which does not exist`,
          'fix or remove the link',
        );
    }
    throw fsProblem(error, file, what, file);
  }
}

async function refuseIrregular(file: string, stat: Stats, what: string | undefined): Promise<void> {
  if (stat.isFile()) return;
  const note = await linkNote(file);
  if (stat.isDirectory())
    throw new InputError(file, undefined, `is a folder${note}, not a ${what ?? 'file'}`, 'pass the file inside it');
  throw new InputError(file, undefined, `is ${kindOf(stat)}${note}, not a regular file`, 'pass a regular file');
}

const article = (what: string) => (/^[aeiou]/.test(what) ? 'an' : 'a');

async function tooLarge(file: string, size: string, max: number, what: string | undefined): Promise<InputError> {
  return new InputError(
    file,
    undefined,
    `is ${size}${await linkNote(file)}, more than ${article(what ?? 'file')} ${what ?? 'file'} can be (${formatBytes(max)})`,
    'check that this is the right file',
  );
}

/** The keys folder `file` is a secret of (`seed` or `<pid>.pk` beside a committee.ka), if it is one. */
async function keysFolderOf(file: string): Promise<string | undefined> {
  if (!isSecretName(path.basename(file))) return undefined;
  const real = await fs.realpath(file).catch(() => file);
  for (const candidate of new Set([file, real])) {
    const dir = path.dirname(candidate);
    if (
      await fs.stat(path.join(dir, 'committee.ka')).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return dir;
  }
  return undefined;
}

/** Refuses a committee's secret handed to a reader that is not its own, before a byte of it is parsed. */
async function refuseSecretByName(file: string, what: string | undefined): Promise<void> {
  if (what === undefined || SECRET_READERS.has(what)) return;
  const dir = await keysFolderOf(file);
  if (dir === undefined) return;
  throw new InputError(
    file,
    undefined,
    `is a secret of the committee in ${dir} (${path.basename(file) === 'seed' ? 'its seed' : 'a private key'}), not ${article(what)} ${what}; nothing of it is read or printed`,
    `pass the ${what} itself`,
  );
}

/** Refuses text shaped like a seed or a member file handed to another reader (a copy outside the keys folder). */
function refuseSecretByShape(file: string, bytes: Buffer, what: string | undefined): void {
  if (what === undefined || SECRET_READERS.has(what) || bytes.length > SECRET_SHAPE_BYTES) return;
  const shape = secretShape(bytes.toString('utf8'));
  if (!shape) return;
  throw new InputError(
    file,
    undefined,
    `holds what looks like ${shape === 'seed' ? 'a committee seed' : 'a private key (a gomel member file)'}, not ${article(what)} ${what}; nothing of it is printed`,
    `pass the ${what} itself`,
  );
}

export interface OpenInput {
  handle: FileHandle;
  /** The size fstat gave when it was opened. */
  size: number;
}

/**
 * Opens a regular file for reading, or throws one line. The caller closes the handle.
 * `maxBytes` refuses a larger file before any byte is read.
 */
export async function openInput(file: string, what?: string, maxBytes = maxBytesOf(what)): Promise<OpenInput> {
  await guard(file, what, () => refuseSecretByName(file, what));
  // stat first: opening a FIFO or a tape device has effects (it blocks, or rewinds).
  await refuseIrregular(file, await guard(file, what, () => fs.stat(file)), what);
  // O_NONBLOCK: if the file was swapped for a FIFO since, open must not wait for a writer.
  const handle = await guard(file, what, () =>
    fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY),
  );
  try {
    const stat = await handle.stat();
    await refuseIrregular(file, stat, what);
    if (stat.size > maxBytes) throw await tooLarge(file, formatBytes(stat.size), maxBytes, what);
    return { handle, size: stat.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** A regular file's bytes, at most `maxBytes` (a file that grows while read, or /proc's size 0, is still bounded). */
export async function readInputBytes(file: string, what?: string, maxBytes = maxBytesOf(what)): Promise<Buffer> {
  const { handle, size } = await openInput(file, what, maxBytes);
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    // One byte more than fstat said: a read that fills it reads on, to EOF or past the cap.
    let want = size + 1;
    for (;;) {
      const buffer = Buffer.allocUnsafe(Math.min(Math.max(want, 64 * KiB), maxBytes + 1 - total));
      const { bytesRead } = await guard(file, what, () => handle.read(buffer, 0, buffer.length, null));
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw await tooLarge(file, `over ${formatBytes(maxBytes)}`, maxBytes, what);
      want = 64 * KiB;
    }
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    refuseSecretByShape(file, bytes, what);
    return bytes;
  } finally {
    await handle.close();
  }
}

export async function readInput(file: string, what?: string, maxBytes?: number): Promise<string> {
  return (await readInputBytes(file, what, maxBytes)).toString('utf8');
}

/**
 * The text of each of many small files where one not there or not readable is no error: a regular
 * file's text, or undefined when it is not one, holds more than `maxBytes`, or does not read. The same
 * promises, kept quietly: opened without waiting (a FIFO never blocks it), judged once open (fstat), read
 * to the cap. Synchronous: 65535 member files took 7-13 s through readInput (a promise and 6 system
 * calls each), 1.6-2.0 s so, on this shared 2-core machine.
 */
export function readSmallFilesSync(files: readonly string[], maxBytes: number): (string | undefined)[] {
  const buffer = Buffer.alloc(maxBytes + 1);
  return files.map((file) => {
    let fd: number | undefined;
    try {
      fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
      if (!fstatSync(fd).isFile()) return undefined;
      const read = readSync(fd, buffer, 0, buffer.length, 0);
      return read > maxBytes ? undefined : buffer.toString('utf8', 0, read);
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  });
}

/** Like readInput, but undefined when there is no such file (a dangling link is still an error). */
export async function readOptionalInput(
  file: string | undefined,
  what?: string,
  maxBytes?: number,
): Promise<string | undefined> {
  if (file === undefined) return undefined;
  const present = await fs.lstat(file).then(
    () => true,
    (error: NodeJS.ErrnoException) =>
      error.code === 'ENOENT' ? false : Promise.reject(fsProblem(error, file, what, file)),
  );
  return present ? readInput(file, what, maxBytes) : undefined;
}
