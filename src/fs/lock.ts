// One writer at a time for a folder (the keys, the configs): an exclusive lock
// file beside it, holding the writer's pid. The folder itself is swapped as a
// whole on write, so the lock cannot live inside it.
import { promises as fs, constants } from 'node:fs';
import path from 'node:path';
import { EnvironmentError } from '../core/errors.js';

export const lockFile = (dir: string) => path.join(path.dirname(path.resolve(dir)), `.${path.basename(path.resolve(dir))}.lock`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of a live process holding the folder's lock, if any (a lock left by a killed run does not count). */
export async function lockHolder(dir: string): Promise<number | undefined> {
  const text = await fs.readFile(lockFile(dir), 'utf8').catch(() => undefined);
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : undefined;
}

/**
 * Runs `fn` holding the folder's lock. A second writer waits up to `waitMs`, then
 * fails with one line; a lock whose holder is dead is taken over.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
  const file = lockFile(dir);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const giveUp = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const text = await fs.readFile(file, 'utf8').catch(() => '');
      const holder = Number(text.trim());
      if (text !== '' && !(Number.isInteger(holder) && holder > 0 && alive(holder))) {
        // Left by a run that died: take it over (rename is atomic, so only one taker wins).
        await fs.rename(file, `${file}.stale-${process.pid}`).then(() => fs.rm(`${file}.stale-${process.pid}`, { force: true }), () => {});
        continue;
      }
      if (Date.now() >= giveUp) {
        throw new EnvironmentError(`${dir}: another gomelctl (pid ${text.trim() || '?'}) is writing here; wait for it to finish, or remove ${file} if no such process runs`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(file, { force: true });
  }
}
