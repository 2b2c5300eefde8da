// A logs folder's seal on disk (core/logs/seal.ts): `deploy logs` seals what it collected with this
// machine's seal key, and the verdict and the report use a folder's fault evidence only while its seal
// holds. The key is a secret like the keys folder's: 32 random bytes in ~/.gomelctl/seal.key (mode
// 0600; GOMELCTL_SEAL_KEY names another file), made at the first collection, never printed.
import { createHash, randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EnvironmentError, InputError } from '../core/errors.js';
import { clip } from '../core/bounded.js';
import {
  ABSENT,
  openSeal,
  readByTheVerdict,
  sealDifference,
  sealText,
  SEAL_FILE,
  type Seal,
} from '../core/logs/seal.js';
import { someNames } from '../core/logs/logs-folder.js';
import { exists, writeFileAtomic, writeNewFile } from './atomic.js';
import { fsProblem, isFsError, readOptionalInput } from './input.js';

/** Where this machine's seal key is. */
export const sealKeyFile = (): string =>
  path.resolve(process.env.GOMELCTL_SEAL_KEY || path.join(os.homedir(), '.gomelctl', 'seal.key'));

const KEY_TEXT = /^[0-9a-f]{64}\n?$/;

/** The seal key, or undefined when there is none yet; a file that is not one is an error naming it. */
async function readKey(file: string): Promise<Uint8Array | undefined> {
  const text = await readOptionalInput(file, 'seal key', 1024);
  if (text === undefined) return undefined;
  if (!KEY_TEXT.test(text))
    throw new EnvironmentError(
      `${file}: is not a gomelctl seal key (64 hex digits) — move it away; gomelctl makes a new one at the next \`deploy logs\``,
    );
  return Buffer.from(text.trim(), 'hex');
}

/** The seal key, made if there is none: linked into place whole, so that two collections at once agree on one. */
export async function sealKey(): Promise<Uint8Array> {
  const file = sealKeyFile();
  const found = await readKey(file);
  if (found) return found;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeNewFile(tmp, `${randomBytes(32).toString('hex')}\n`, 0o600);
    await fs.link(tmp, file).catch((e: unknown) => {
      if (!isFsError(e) || e.code !== 'EEXIST') throw e;
    });
    await fs.unlink(tmp);
  } catch (e) {
    throw isFsError(e) ? fsProblem(e, file) : e;
  }
  return (await readKey(file))!;
}

/**
 * The leaves of `dir` ('/'-separated, links not followed) that the seal names or the verdict reads:
 * regular files, and anything else as undefined. Nothing else is hashed (a report, the user's notes).
 */
async function leavesToCheck(
  dir: string,
  wanted: (rel: string) => boolean,
  prefix = '',
): Promise<Map<string, 'file' | undefined>> {
  const found = new Map<string, 'file' | undefined>();
  for (const entry of await fs.readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = `${prefix}${entry.name}`;
    if (entry.isDirectory()) for (const [k, v] of await leavesToCheck(dir, wanted, `${rel}/`)) found.set(k, v);
    else if (wanted(rel)) found.set(rel, entry.isFile() ? 'file' : undefined);
  }
  return found;
}

/** A regular file's SHA-256, read without following a link. */
async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    for await (const chunk of handle.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

async function hashes(dir: string, seal: Seal): Promise<Map<string, string | undefined>> {
  const present = new Map<string, string | undefined>();
  const wanted = (rel: string) => Object.hasOwn(seal.files, rel) || readByTheVerdict(rel);
  for (const [rel, kind] of await leavesToCheck(dir, wanted))
    // A file that does not read (no permission, swapped for a link since) vouches for nothing: as changed.
    present.set(
      rel,
      kind === 'file' ? await sha256(path.join(dir, ...rel.split('/'))).catch(() => undefined) : undefined,
    );
  return present;
}

/**
 * Seals the files `collected` ('/'-separated paths in `dir`; those not there, or not regular files,
 * left out) as they are now: deploy logs, once every node's files are written.
 */
export async function sealFolder(dir: string, network: string, collected: readonly string[]): Promise<void> {
  const key = await sealKey();
  const files: Record<string, string> = {};
  for (const rel of new Set(collected)) {
    const sha = await sha256(path.join(dir, ...rel.split('/'))).catch(() => undefined);
    if (sha !== undefined) files[rel] = sha;
  }
  const sealedAt = Math.floor(Date.now() / 1000);
  await writeFileAtomic(path.join(dir, SEAL_FILE), sealText(key, { network, sealedAt, files }));
}

/** A folder's seal as checked: the seal, when it holds for the folder as it is; else why not. */
export type SealState = { seal: Seal } | { problem: string };

/**
 * The folder's seal, checked once against the folder as it is now (no seal, another machine's, a file
 * changed, added or removed since): what the verdict then reads is held to it by readAgainstSeal.
 */
export async function sealState(dir: string): Promise<SealState> {
  try {
    return await checkSeal(dir);
  } catch (e) {
    // A seal, a key or a folder that does not read vouches for nothing; the run is still judged (hostile pass 13).
    if (e instanceof InputError || e instanceof EnvironmentError)
      return { problem: `its seal cannot be checked: ${clip(e.message, 200)}` };
    if (isFsError(e)) return { problem: `its seal cannot be checked: ${e.code} reading ${clip(e.path ?? dir, 120)}` };
    throw e;
  }
}

async function checkSeal(dir: string): Promise<SealState> {
  const file = path.join(dir, SEAL_FILE);
  if (!(await exists(file)))
    return {
      problem: `it has no ${SEAL_FILE}: gomelctl's \`deploy logs\` (or \`up\`) did not collect it, or an older gomelctl did`,
    };
  const text = await readOptionalInput(file, 'logs folder seal', 64 * 1024 * 1024);
  const key = await readKey(sealKeyFile());
  if (text === undefined || key === undefined)
    return { problem: `this machine has no seal key (${sealKeyFile()}): it was collected elsewhere` };
  const seal = openSeal(text, key);
  if ('problem' in seal) return seal;
  const difference = sealDifference(seal, await hashes(dir, seal));
  return difference ? { problem: difference } : { seal };
}

/**
 * Why what the verdict read (file → the SHA-256 of the bytes it read) is not what `state` sealed, if it is
 * not: the folder was as sealed when checked, but a file was not while it was read (hostile passes 13, 18).
 */
export function readAgainstSeal(state: SealState, dir: string, read: ReadonlyMap<string, string>): string | undefined {
  if ('problem' in state) return state.problem;
  const root = path.resolve(dir);
  const changed = [...read]
    .map(([f, sha]) => [path.relative(root, f).split(path.sep).join('/'), sha] as const)
    .filter(([rel, sha]) =>
      // A file read absent is as sealed only when the seal holds none (hostile pass 26: moved away and back).
      sha === ABSENT
        ? Object.hasOwn(state.seal.files, rel)
        : state.seal.files[rel] !== sha || !Object.hasOwn(state.seal.files, rel),
    )
    .map(([rel]) => rel);
  return changed.length ? `${someNames(changed)} not as sealed when the verdict read it` : undefined;
}

/** The folder's seal checked, and what the verdict read held to it: why its evidence cannot be vouched for, if it cannot. */
export async function sealProblem(
  dir: string,
  read: ReadonlyMap<string, string> = new Map(),
): Promise<string | undefined> {
  return readAgainstSeal(await sealState(dir), dir, read);
}
