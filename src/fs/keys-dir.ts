// The keys folder: committee.ka (public), <pid>.pk (secret, 0600), seed (secret, 0600).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { formatCommittee, formatPrivateKey, parseCommittee, parsePrivateKey, type Member, type PrivateKey } from '../core/committee.js';
import { InputError } from '../core/errors.js';
import type { KeysPlan } from '../core/keys/keys-plan.js';
import { SEED_LENGTH } from '../core/keys/derive.js';
import { exists, recoverFolder, stageFolder, type FileToWrite, type FolderSwapHooks, type StagedFolder } from './atomic.js';
import { readInput, readInputBytes } from './input.js';
import { mapLimit } from '../core/limit.js';

export const COMMITTEE_FILE = 'committee.ka';
export const SEED_FILE = 'seed';
const PK_NAME = /^(\d+)\.pk$/;
/** gomel's key generator input, kept beside its keys (docs/gomel-formats.md). */
const GOMEL_ADDRESSES = 'addresses';

export interface CommitteeFile {
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
  seed: Uint8Array | undefined;
  /** Files we do not manage (e.g. gomel's `addresses`), carried over on rewrite. */
  otherFiles: string[];
}

export function parseSeed(text: string, file: string): Uint8Array {
  const hex = text.trim();
  if (!new RegExp(`^[0-9a-fA-F]{${2 * SEED_LENGTH}}$`).test(hex)) {
    throw new InputError(file, '1', `a committee seed is ${SEED_LENGTH} bytes written as ${2 * SEED_LENGTH} hex digits`, 'restore the seed file or pass --seed');
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export async function readSeedFile(file: string): Promise<Uint8Array> {
  return parseSeed(await readInput(file, 'seed file'), file);
}

/** Reads only committee.ka (no private file): what config check, keys show and image rebuild need. */
export async function readCommitteeFile(dir: string): Promise<CommitteeFile | undefined> {
  await recoverFolder(dir);
  const file = path.join(dir, COMMITTEE_FILE);
  if (!(await exists(file))) return undefined;
  const bytes = new Uint8Array(await readInputBytes(file, 'committee file'));
  return { file, bytes, members: parseCommittee(new TextDecoder().decode(bytes), file) };
}

/** Like readCommitteeFile, but fails with the fix when there is no committee. */
export async function requireCommitteeFile(dir: string): Promise<CommitteeFile> {
  const committee = await readCommitteeFile(dir);
  if (!committee) throw new InputError(path.join(dir, COMMITTEE_FILE), undefined, 'no committee file', 'create one with `gomelctl keys gen --n 8`, or pass the keys folder');
  return committee;
}

/** Reads a keys folder; undefined when it holds no committee. Restores an interrupted rewrite first. */
export async function readKeysDir(dir: string): Promise<KeysDir | undefined> {
  const committee = await readCommitteeFile(dir);
  if (!committee) return undefined;
  const privateKeys = new Map<number, PrivateKey>();
  const keyFiles: KeysDir['keyFiles'] = [];
  const otherFiles: string[] = [];
  let seed: Uint8Array | undefined;
  const names = (await fs.readdir(dir)).sort();
  // Member files are read many at once: one after the other, 1000 of them wait ~0.3 s on the disk (issue 14).
  const memberNames = names.filter((name) => PK_NAME.test(name));
  const texts = await mapLimit(memberNames, 32, (name) => readInput(path.join(dir, name), 'member file'));
  memberNames.forEach((name, k) => {
    const file = path.join(dir, name);
    const pid = Number(PK_NAME.exec(name)![1]);
    privateKeys.set(pid, parsePrivateKey(texts[k]!, file));
    keyFiles.push({ pid, file });
  });
  for (const name of names) {
    const file = path.join(dir, name);
    if (name === SEED_FILE) seed = await readSeedFile(file);
    else if (!PK_NAME.test(name) && name !== COMMITTEE_FILE && (await fs.stat(file)).isFile()) otherFiles.push(name);
  }
  keyFiles.sort((a, b) => a.pid - b.pid);
  return { ...committee, dir, privateKeys, keyFiles, seed, otherFiles };
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

export interface KeysFolderState {
  /** Entries gomelctl does not manage and must never delete: sub-folders, links, unknown files. */
  foreign: string[];
  /** Member files present while there is no committee.ka. */
  orphanKeys: string[];
  seedWithoutCommittee: boolean;
}

/**
 * What a keys folder holds besides a committee. `keys gen` replaces the folder
 * as a whole, so it refuses one holding anything it would not carry over.
 */
export async function inspectKeysFolder(dir: string): Promise<KeysFolderState> {
  const state: KeysFolderState = { foreign: [], orphanKeys: [], seedWithoutCommittee: false };
  await recoverFolder(dir);
  const stat = await fs.lstat(dir).catch(() => undefined);
  if (!stat) return state;
  if (!stat.isDirectory()) throw new InputError(dir, undefined, 'is not a folder', 'pass the keys folder with --keys (a new path is created)');
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const hasCommittee = entries.some((e) => e.name === COMMITTEE_FILE && e.isFile());
  for (const e of entries) {
    const ours = e.isFile() && (e.name === COMMITTEE_FILE || e.name === SEED_FILE || e.name === GOMEL_ADDRESSES || PK_NAME.test(e.name));
    if (!ours) state.foreign.push(e.isDirectory() ? `${e.name}/` : e.name);
    else if (!hasCommittee && PK_NAME.test(e.name)) state.orphanKeys.push(e.name);
    else if (!hasCommittee && e.name === SEED_FILE) state.seedWithoutCommittee = true;
  }
  return state;
}

/** The keys folder's next version, the member files of `newPids` created ahead (see stageFolder). */
export function stageKeysDir(dir: string, newPids: readonly number[]): Promise<StagedFolder> {
  return stageFolder(dir, newPids.map((pid) => `${pid}.pk`));
}

/** Writes a planned committee into `staged` and swaps it in for `dir`, as one atomic set. */
export async function writeKeysDir(staged: StagedFolder, dir: string, plan: KeysPlan, seed: Uint8Array, previous: KeysDir | undefined, hooks?: FolderSwapHooks): Promise<void> {
  const files: FileToWrite[] = [
    { name: COMMITTEE_FILE, content: formatCommittee(plan.members), mode: 0o644 },
    { name: SEED_FILE, content: `${Buffer.from(seed).toString('hex')}\n`, mode: 0o600 },
    ...plan.privateKeys.map((k) => ({ name: `${k.pid}.pk`, content: formatPrivateKey(k), mode: 0o600 })),
  ];
  // Member files with no committee line, old or new, are carried over byte for byte: never ours to delete.
  const strays = (previous?.keyFiles ?? []).filter((k) => k.pid >= plan.members.length && k.pid >= previous!.members.length).map((k) => path.basename(k.file));
  for (const name of [...(previous?.otherFiles ?? []), ...strays]) {
    const stat = await fs.stat(path.join(dir, name));
    files.push({ name, content: await fs.readFile(path.join(dir, name)), mode: stat.mode & 0o777 });
  }
  await staged.commit(files, hooks);
}
