// The keys folder: committee.ka (public), <pid>.pk (secret, 0600), seed (secret, 0600).
import { promises as fs, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  formatCommittee,
  formatPrivateKey,
  parseCommittee,
  parsePrivateKey,
  type Member,
  type PrivateKey,
} from '../core/keys/committee.js';
import { InputError } from '../core/errors.js';
import type { KeysPlan } from '../core/keys/keys-plan.js';
import { SEED_LENGTH } from '../core/keys/derive.js';
import { secretWords } from '../core/keys/secrets.js';
import {
  lstatIfAny,
  recoverFolder,
  stageFolder,
  type FileToWrite,
  type FolderSwapHooks,
  type StagedFolder,
} from './atomic.js';
import { fsProblem, isFsError, MEMBER_FILE_BYTES, readInput, readInputBytes, readSmallFilesSync } from './input.js';
import { mapLimit } from '../core/limit.js';
import { z } from 'zod';
import { readJsonAs } from '../core/json-input.js';
import { isControlTokenFile } from './control-token.js';

export const COMMITTEE_FILE = 'committee.ka';
export const SEED_FILE = 'seed';
/** A member file's name: gomel opens `<pid>.pk` as fmt prints the pid, so `07.pk` is none (issue 25, N32). */
const PK_NAME = /^(0|[1-9]\d*)\.pk$/;
/** `07.pk` and the like: key files gomel never reads; kept, reported, never deleted. */
const PK_LIKE = /^\d+\.pk$/;
/**
 * The committee's own history, kept with it: the size before its latest resize,
 * so that `config sync` of any configs folder moves an NParents that followed it
 * (issue 25). `size` is the committee's size then; a committee.ka edited by hand
 * to another size makes the record stale, and it is ignored.
 */
export const HISTORY_FILE = '.gomelctl-history.json';
/** gomel's key generator input, kept beside its keys (docs/gomel-formats.md). */
const GOMEL_ADDRESSES = 'addresses';

interface CommitteeFile {
  file: string;
  /** The file's bytes, as hashed into the committee fingerprint. */
  bytes: Uint8Array;
  members: Member[];
}

export interface KeysDir extends CommitteeFile {
  dir: string;
  privateKeys: Map<number, PrivateKey>;
  /** Every <pid>.pk present, with its file name, for verify. */
  keyFiles: { pid: number; file: string }[];
  /** Each member file's bytes: a kept key is carried over exactly as it was (N30). */
  keyBytes: Map<number, Uint8Array>;
  /** Key files gomel never reads (`07.pk`): reported by verify, carried over by gen. */
  strayNames: string[];
  history: ResizeHistory | undefined;
  seed: Uint8Array | undefined;
  /** Files we do not manage (e.g. gomel's `addresses`), carried over on rewrite. */
  otherFiles: string[];
}

interface ResizeHistory {
  size: number;
  previousSize: number;
}

/**
 * The real, absolute path of a folder the user named: `k/../k`, `k/.` and links
 * resolved before anything is renamed (a rename of `k/../k` loses its own path:
 * N16, N17), a chain of links followed (N99). Each way it cannot be a folder is
 * one line naming the path: a loop of links, a dangling link, a file on the way (A8).
 */
export async function resolveFolder(dir: string): Promise<string> {
  const abs = path.resolve(dir);
  try {
    return await fs.realpath(abs);
  } catch (e) {
    if (!isFsError(e)) throw e;
    if (e.code === 'ELOOP')
      throw new InputError(abs, undefined, 'is a loop of symbolic links', 'point the link at a real folder');
    if (e.code === 'ENOTDIR') {
      for (let p = path.dirname(abs); p !== path.dirname(p); p = path.dirname(p)) {
        if ((await fs.stat(p).catch(() => undefined))?.isFile())
          throw new InputError(p, undefined, 'is a file, not a folder', `pass a folder for ${dir}`);
      }
    }
    if (e.code !== 'ENOENT') throw fsProblem(e, abs);
  }
  const target = (await lstatIfAny(abs))?.isSymbolicLink() ? await fs.readlink(abs) : undefined;
  if (target !== undefined)
    throw new InputError(
      abs,
      undefined,
      `is a symbolic link to ${target}, which does not exist`,
      'fix or remove the link, or pass the real folder',
    );
  return path.join(await resolveFolder(path.dirname(abs)), path.basename(abs)); // a new folder under a real parent
}

function parseSeed(text: string, file: string): Uint8Array {
  const hex = text.trim();
  if (!new RegExp(`^[0-9a-fA-F]{${2 * SEED_LENGTH}}$`).test(hex)) {
    throw new InputError(
      file,
      '1',
      `a committee seed is ${SEED_LENGTH} bytes written as ${2 * SEED_LENGTH} hex digits`,
      'restore the seed file or pass --seed',
    );
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export async function readSeedFile(file: string): Promise<Uint8Array> {
  return parseSeed(await readInput(file, 'seed file'), file);
}

/** Reads only committee.ka (no private file): what config check, keys show and image rebuild need. */
export async function readCommitteeFile(dir: string): Promise<CommitteeFile | undefined> {
  const real = await resolveFolder(dir);
  await recoverFolder(real); // waits for a live writer between its two renames (N4)
  const file = path.join(real, COMMITTEE_FILE);
  try {
    await fs.stat(file);
  } catch (e) {
    if (!isFsError(e)) throw e;
    if (e.code === 'ENOENT') return undefined; // no folder, or no committee in it
    if (e.code === 'ENOTDIR')
      throw new InputError(real, undefined, 'is a file, not a keys folder', 'pass the keys folder with --keys');
    // A folder we may not search has a committee we cannot see: not "no committee" (N14).
    throw fsProblem(Object.assign(e, { path: real }), real);
  }
  const bytes = new Uint8Array(await readInputBytes(file, 'committee file'));
  return { file, bytes, members: parseCommittee(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes), file) }; // a BOM reaches the parser, which refuses it as gomel does (A9)
}

/** The committee's size before its latest resize, if recorded and still about this committee. */
export async function readResizeHistory(dir: string, size: number): Promise<number | undefined> {
  const file = path.join(await resolveFolder(dir), HISTORY_FILE);
  const history = await readHistory(file);
  return history?.size === size ? history.previousSize : undefined;
}

async function readHistory(file: string): Promise<ResizeHistory | undefined> {
  if (!(await lstatIfAny(file))) return undefined;
  const history = readJsonAs(await readInput(file, 'history file'), HISTORY_JSON);
  if (history) return history;
  throw new InputError(
    file,
    undefined,
    'not the record gomelctl keeps of the last resize ({"size", "previousSize"})',
    'delete it; the next `config sync` then only caps NParents',
  );
}

const HISTORY_JSON = z.object({ size: z.number().int(), previousSize: z.number().int() });

/** Like readCommitteeFile, but fails with the fix when there is no committee. */
export async function requireCommitteeFile(dir: string): Promise<CommitteeFile> {
  const committee = await readCommitteeFile(dir);
  if (!committee)
    throw new InputError(
      path.join(dir, COMMITTEE_FILE),
      undefined,
      'no committee file',
      'create one with `gomelctl keys gen --n 8`, or pass the keys folder',
    );
  return committee;
}

/** Reads a keys folder; undefined when it holds no committee. Restores an interrupted rewrite first. */
export async function readKeysDir(dir: string): Promise<KeysDir | undefined> {
  const committee = await readCommitteeFile(dir);
  if (!committee) return undefined;
  dir = path.dirname(committee.file); // the real folder
  const privateKeys = new Map<number, PrivateKey>();
  const keyBytes = new Map<number, Uint8Array>();
  const keyFiles: KeysDir['keyFiles'] = [];
  const otherFiles: string[] = [];
  let seed: Uint8Array | undefined;
  const names = (
    await fs.readdir(dir).catch((e: unknown) => Promise.reject(isFsError(e) ? fsProblem(e, dir) : e))
  ).sort();
  // Member files are read many at once: one after the other, 1000 of them wait ~0.3 s on the disk (issue 14).
  const memberNames = names.filter((name) => PK_NAME.test(name));
  const bytes = await mapLimit(memberNames, 32, (name) => readInputBytes(path.join(dir, name), 'member file'));
  memberNames.forEach((name, k) => {
    const file = path.join(dir, name);
    const pid = Number(PK_NAME.exec(name)![1]);
    privateKeys.set(pid, parsePrivateKey(bytes[k]!.toString('utf8'), file));
    keyBytes.set(pid, bytes[k]!);
    keyFiles.push({ pid, file });
  });
  const strayNames = names.filter((name) => PK_LIKE.test(name) && !PK_NAME.test(name));
  for (const name of names) {
    const file = path.join(dir, name);
    if (name === SEED_FILE) seed = await readSeedFile(file);
    else if (!PK_LIKE.test(name) && name !== COMMITTEE_FILE && name !== HISTORY_FILE && (await fs.stat(file)).isFile())
      otherFiles.push(name);
  }
  keyFiles.sort((a, b) => a.pid - b.pid);
  const history = await readHistory(path.join(dir, HISTORY_FILE));
  return { ...committee, dir, privateKeys, keyBytes, keyFiles, strayNames, history, seed, otherFiles };
}

/**
 * The secret words of every member file (`<pid>.pk`, also `07.pk`), the seed and each control
 * token in `dir`, for the printer to redact wherever they appear (src/cli.ts, secretWords). Read
 * as they are, without waiting for a writer: a folder or a file that does not read (none yet, a
 * FIFO, another's) adds nothing here, and its own reader names it.
 */
function readSecretWords(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const secret = names.filter((name) => PK_LIKE.test(name) || name === SEED_FILE || isControlTokenFile(name));
  const texts = readSmallFilesSync(
    secret.map((name) => path.join(dir, name)),
    MEMBER_FILE_BYTES,
  );
  return texts.flatMap((text) => (text === undefined ? [] : secretWords(text)));
}

/**
 * readSecretWords of `dirs`, for a printer that asks again as a command goes on (src/cli.ts): a folder
 * is read again only when it changed (keys gen renames a new folder or new files into place: another
 * inode or mtime), and undefined says that none did.
 */
export function secretWordsReader(): (dirs: readonly string[]) => string[] | undefined {
  const known = new Map<string, { stamp: string; words: string[] }>();
  return (dirs) => {
    let changed = false;
    for (const dir of dirs) {
      const stat = (() => {
        try {
          return statSync(dir); // none, or not to be searched (ENOTDIR, EACCES, ELOOP): nothing to read
        } catch {
          return undefined;
        }
      })();
      const stamp = stat ? `${stat.ino}:${stat.mtimeMs}` : 'none';
      if (known.get(dir)?.stamp === stamp) continue;
      known.set(dir, { stamp, words: stat ? readSecretWords(dir) : [] });
      changed = true;
    }
    return changed ? dirs.flatMap((dir) => known.get(dir)!.words) : undefined;
  };
}

/** The pids the committee lists that have no <pid>.pk here. */
export function missingMemberFiles(keys: KeysDir): number[] {
  return keys.members.map((_, pid) => pid).filter((pid) => !keys.privateKeys.has(pid));
}

/** Private files (and the folder) whose mode lets others read them; a git checkout leaves them 0644. */
export async function loosePrivateFiles(keys: KeysDir): Promise<string[]> {
  const names = [...keys.keyFiles.map((k) => path.basename(k.file)), ...(keys.seed ? [SEED_FILE] : [])];
  const modes = await mapLimit(names, 32, async (name) => (await fs.stat(path.join(keys.dir, name))).mode);
  return names.filter((_, k) => modes[k]! & 0o077);
}

/** Restores 0600 on private files and 0700 on the folder; the contents are untouched. */
export async function tightenModes(keys: KeysDir): Promise<string[]> {
  const loose = await loosePrivateFiles(keys);
  for (const name of loose) await fs.chmod(path.join(keys.dir, name), 0o600);
  if ((await fs.stat(keys.dir)).mode & 0o077) await fs.chmod(keys.dir, 0o700);
  return loose;
}

interface KeysFolderState {
  /** Entries gomelctl does not manage and must never delete: sub-folders, links, unknown files, as said to the user. */
  foreign: string[];
  /** Whether one of them is a symbolic link (2.pk → elsewhere): named so, or "holds 2.pk" reads as a key of its own (h8). */
  foreignLink: boolean;
  /** Member files present while there is no committee.ka. */
  orphanKeys: string[];
  seedWithoutCommittee: boolean;
}

/**
 * What a keys folder holds besides a committee. `keys gen` replaces the folder
 * as a whole, so it refuses one holding anything it would not carry over.
 */
export async function inspectKeysFolder(dir: string): Promise<KeysFolderState> {
  const state: KeysFolderState = { foreign: [], foreignLink: false, orphanKeys: [], seedWithoutCommittee: false };
  dir = await resolveFolder(dir);
  await recoverFolder(dir);
  const stat = await fs.lstat(dir).catch(() => undefined);
  if (!stat) return state;
  if (!stat.isDirectory())
    throw new InputError(dir, undefined, 'is not a folder', 'pass the keys folder with --keys (a new path is created)');
  const entries = await fs
    .readdir(dir, { withFileTypes: true })
    .catch((e: unknown) => Promise.reject(isFsError(e) ? fsProblem(e, dir) : e));
  const hasCommittee = entries.some((e) => e.name === COMMITTEE_FILE && e.isFile());
  for (const e of entries) {
    const ours =
      e.isFile() &&
      (e.name === COMMITTEE_FILE ||
        e.name === SEED_FILE ||
        e.name === GOMEL_ADDRESSES ||
        e.name === HISTORY_FILE ||
        isControlTokenFile(e.name) ||
        PK_LIKE.test(e.name));
    const mountRoot = e.name === 'lost+found' && e.isDirectory(); // the folder is a mounted file system's root (N19)
    if (!ours && !mountRoot && e.isSymbolicLink()) {
      state.foreignLink = true;
      const target = await fs.readlink(path.join(dir, e.name)).catch(() => undefined);
      state.foreign.push(`${e.name} (a symbolic link${target === undefined ? '' : ` to ${target}`})`);
    } else if (!ours && !mountRoot) state.foreign.push(e.isDirectory() ? `${e.name}/` : e.name);
    else if (!hasCommittee && PK_LIKE.test(e.name)) state.orphanKeys.push(e.name);
    else if (!hasCommittee && e.name === SEED_FILE) state.seedWithoutCommittee = true;
  }
  return state;
}

/** The keys folder's next version, the member files of `newPids` created ahead (see stageFolder). */
export function stageKeysDir(dir: string, newPids: readonly number[]): Promise<StagedFolder> {
  return stageFolder(
    dir,
    newPids.map((pid) => `${pid}.pk`),
  );
}

/** Writes a planned committee into `staged` and swaps it in for `dir`, as one atomic set. */
export async function writeKeysDir(
  staged: StagedFolder,
  dir: string,
  plan: KeysPlan,
  seed: Uint8Array,
  previous: KeysDir | undefined,
  hooks?: FolderSwapHooks,
): Promise<void> {
  const kept = new Set(plan.kept);
  const files: FileToWrite[] = [
    { name: COMMITTEE_FILE, content: formatCommittee(plan.members), mode: 0o644 },
    { name: SEED_FILE, content: `${Buffer.from(seed).toString('hex')}\n`, mode: 0o600 },
    // A kept key keeps its bytes (CRLF, tabs, no final newline…): docs/safety.md, "byte-identical" (N30).
    ...plan.privateKeys.map((k) => ({
      name: `${k.pid}.pk`,
      content: (kept.has(k.pid) && previous?.keyBytes.get(k.pid)) || formatPrivateKey(k),
      mode: 0o600,
    })),
  ];
  const oldSize = previous?.members.length;
  const history =
    oldSize !== undefined && oldSize !== plan.members.length
      ? { size: plan.members.length, previousSize: oldSize }
      : previous?.history;
  if (history) files.push({ name: HISTORY_FILE, content: `${JSON.stringify(history)}\n`, mode: 0o644 });
  // Member files with no committee line, old or new, and key files gomel never
  // reads (07.pk) are carried over byte for byte: never ours to delete.
  const strays = (previous?.keyFiles ?? [])
    .filter((k) => k.pid >= plan.members.length && k.pid >= previous!.members.length)
    .map((k) => path.basename(k.file));
  for (const name of [...(previous?.otherFiles ?? []), ...strays, ...(previous?.strayNames ?? [])]) {
    const stat = await fs.stat(path.join(dir, name));
    files.push({ name, content: await readInputBytes(path.join(dir, name), 'kept file'), mode: stat.mode & 0o777 });
  }
  await staged.commit(files, hooks);
}
