// Reading a file the user named: every file-system failure becomes one line
// naming the path and what to do, never a Node error with a stack.
import { promises as fs } from 'node:fs';
import { InputError } from '../core/errors.js';

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
};

/** True for an error thrown by a file-system call (it carries an errno code and a syscall). */
export function isFsError(error: unknown): error is NodeJS.ErrnoException {
  const e = error as NodeJS.ErrnoException;
  return Boolean(e && typeof e.code === 'string' && typeof e.syscall === 'string');
}

/** One line for a file-system failure: the path, what is wrong, the fix. */
export function fsProblem(error: NodeJS.ErrnoException, fallbackPath: string, what?: string): InputError {
  const file = error.path ?? fallbackPath;
  const [problem, fix] = FS_PROBLEMS[error.code ?? ''] ?? [`${error.code ?? 'error'} on ${error.syscall ?? 'access'}`, 'check the path'];
  const subject = error.code === 'EISDIR' && what ? `is a folder, not a ${what}` : error.code === 'ENOENT' && what ? `no such ${what}` : problem;
  return new InputError(file, undefined, subject, fix);
}

async function guard<T>(file: string, what: string | undefined, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!isFsError(error)) throw error;
    if (error.code === 'ENOENT') {
      // A dangling symbolic link says more than "does not exist".
      const target = await fs.readlink(file).catch(() => undefined);
      if (target !== undefined) throw new InputError(file, undefined, `is a symbolic link to ${target}, which does not exist`, 'fix or remove the link');
    }
    throw fsProblem(error, file, what);
  }
}

export function readInput(file: string, what?: string): Promise<string> {
  return guard(file, what, () => fs.readFile(file, 'utf8'));
}

export function readInputBytes(file: string, what?: string): Promise<Buffer> {
  return guard(file, what, () => fs.readFile(file));
}
