// templates/ ships with gomelctl: the Dockerfiles and the scripts run in the image.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../core/errors.js';
import type { ContextFile } from '../core/image/context.js';
import { exists } from './atomic.js';
import { appendAll } from '../core/bounded.js';

// dist/src/fs/templates.js → the repository's templates/
export const TEMPLATES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../templates');

export async function readTemplate(dir: string, name: string): Promise<Uint8Array> {
  const file = path.join(dir, name);
  if (!(await exists(file)))
    throw new InputError(
      file,
      undefined,
      'template missing',
      'restore templates/ from the gomelctl repository, or pass --templates DIR',
    );
  return new Uint8Array(await fs.readFile(file));
}

/** Reads a folder tree into memory (for the build context), skipping .git. */
export async function readTree(root: string, prefix = ''): Promise<ContextFile[]> {
  const out: ContextFile[] = [];
  for (const entry of await fs.readdir(path.join(root, prefix), { withFileTypes: true })) {
    if (entry.name === '.git') continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) appendAll(out, await readTree(root, rel));
    else if (entry.isFile()) {
      const file = path.join(root, rel);
      const stat = await fs.stat(file);
      out.push({
        name: rel,
        mode: stat.mode & 0o111 ? 0o755 : 0o644,
        content: new Uint8Array(await fs.readFile(file)),
      });
    }
  }
  return out;
}
