// The seal of a logs folder (issue 30): what `deploy logs` collected, file by file (its SHA-256), under
// an HMAC with a key of this machine's gomelctl (fs/seal.ts). The verdict uses a folder's fault evidence
// (faults.log lines, the engine's host losses in task.json, a twin's logs) only while the folder is as
// collected: evidence that anyone can write into a folder of plain files proves nothing by itself, and
// every check of its consistency (evidence.ts) was beaten by forging one more file (hostile passes 8–12).
// A folder that is not sealed, or changed since, is still judged, with every node held to consensus.
// Pure.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { readJsonAs } from '../json-input.js';
import { clip } from '../bounded.js';
import { FAULTS_FILE, MAIN_LOG, readAsEvidence, RUN_FILE, someNames } from './logs-folder.js';

/** The seal's file, at the top of the logs folder. */
export const SEAL_FILE = '.gomelctl-seal';

/** What a seal says: the folder's files as collected (path '/'-separated → SHA-256 hex), and its MAC. */
export interface Seal {
  network: string;
  /** Seconds since the epoch when it was sealed. */
  sealedAt: number;
  files: Record<string, string>;
  mac: string;
}

const SEAL_SCHEMA = z
  .object({
    version: z.literal(1),
    network: z.string(),
    sealedAt: z.number(),
    files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
    mac: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();

/** The run's own files at the top of its folder that the verdict reads (fs/run-folder.ts). */
const RUN_FILES: ReadonlySet<string> = new Set(['committee.ka', 'conf.json', RUN_FILE, FAULTS_FILE]);

/**
 * Whether the verdict or the report may read a leaf as evidence: a run's file or a <pid>.log at the top, a
 * node's evidence at the top of a folder. A file added since the seal counts only then: the user's notes
 * beside the logs (kept by deploy logs too) change nothing the verdict says.
 */
export function readByTheVerdict(rel: string): boolean {
  const parts = rel.split('/');
  if (parts.length === 1) return RUN_FILES.has(rel) || MAIN_LOG.test(rel);
  return parts.length === 2 && readAsEvidence(parts[1]!);
}

/** What the ledger of what the verdict read notes for a file gone or no file when it was read (no SHA-256 is this). */
export const ABSENT = 'absent';
/** …and for a file the listing found that the seal does not hold. */
export const ADDED = 'added';

/** The bytes the MAC covers: every field but the MAC, in one order. */
function sealBody(s: Omit<Seal, 'mac'>): string {
  const files = Object.keys(s.files)
    .sort()
    .map((rel) => [rel, s.files[rel]!]);
  return JSON.stringify({ version: 1, network: s.network, sealedAt: s.sealedAt, files });
}

const macOf = (key: Uint8Array, body: string) => createHmac('sha256', key).update(body).digest('hex');

/** The seal file's text for these files, under `key`. */
export function sealText(key: Uint8Array, s: Omit<Seal, 'mac'>): string {
  const files = Object.fromEntries(
    Object.keys(s.files)
      .sort()
      .map((rel) => [rel, s.files[rel]!]),
  );
  return `${JSON.stringify({ version: 1, network: s.network, sealedAt: s.sealedAt, files, mac: macOf(key, sealBody(s)) }, null, 1)}\n`;
}

/** A seal file's text, read and its MAC checked under `key`: the seal, or why it is none. */
export function openSeal(text: string, key: Uint8Array): Seal | { problem: string } {
  const seal = readJsonAs(text, SEAL_SCHEMA);
  if (!seal) return { problem: `its ${SEAL_FILE} is not a seal gomelctl wrote` };
  const expected = Buffer.from(macOf(key, sealBody(seal)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(seal.mac, 'hex')))
    return {
      problem: `its ${SEAL_FILE} was not made with this machine's seal key (collected elsewhere, or edited)`,
    };
  return seal;
}

/**
 * What differs between the folder now (`present`: each sealed leaf → its SHA-256, or undefined for
 * one that is not a regular file) and its seal: one phrase naming the first few, or undefined when
 * nothing does.
 */
export function sealDifference(seal: Seal, present: ReadonlyMap<string, string | undefined>): string | undefined {
  const changed: string[] = [];
  const removed: string[] = [];
  const added: string[] = [];
  for (const [rel, sha] of Object.entries(seal.files)) {
    if (!present.has(rel)) removed.push(rel);
    else if (present.get(rel) !== sha) changed.push(rel);
  }
  for (const rel of present.keys()) if (!Object.hasOwn(seal.files, rel) && readByTheVerdict(rel)) added.push(rel);
  const parts = [
    changed.length ? `${someNames(changed)} changed` : '',
    added.length ? `${someNames(added)} added` : '',
    removed.length ? `${someNames(removed)} removed` : '',
  ].filter(Boolean);
  return parts.length ? `${parts.join('; ')} since gomelctl collected it` : undefined;
}

/** Why the folder's fault evidence was not used, and how to use it all the same: one line. */
export const evidenceLine = (why: string): string =>
  `evidence: the fault evidence (faults.log, host losses, twins) is not used, every node is held to consensus: ${clip(why, 300)} — collect the run again with \`gomelctl deploy logs\`, or pass --trust-logs to use it as it is`;
