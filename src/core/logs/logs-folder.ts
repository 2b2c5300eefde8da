// A logs folder holds what `deploy logs` wrote there and nothing gomelctl may
// delete otherwise. Its marker file records every entry it wrote (a manifest), so
// `up --logs DIR` empties a folder of exactly those, and refuses a folder that
// holds anything else: keys, configs and notes are never swept away. Inside a
// node's folder the manifest records each file too, so a file the user put there
// is kept when the folder is written again (planNodeFolder).
import { NODE_FILES } from '../deploy/node-contract.js';
import { z } from 'zod';
import { PLAIN_NAME_JSON, readJsonAs } from '../json-input.js';

export const LOGS_MARKER = '.gomelctl-logs';
/** The run's record (core/deploy/run-plan.ts RunRecord), written by deploy logs (issue 32). */
export const RUN_FILE = 'run.json';
/** The run's fault plan and who it makes faulty, as deploy logs wrote it before run.json (issue 24): still read. */
export const FAULTS_FILE = 'faults.json';
/** deploy logs' record of a node's Swarm task, in the node's folder beside its /extract. */
export const TASK_FILE = 'task.json';

export interface LogsManifest {
  network: string;
  /** Top-level names `deploy logs` wrote: <node>.log, <node>/, committee.ka, conf.json. */
  entries: string[];
  /**
   * For a node folder among the entries: the paths inside it ('/'-separated) that
   * deploy logs wrote, each recorded before it is written. A folder without a
   * record was written by a gomelctl that kept none (planNodeFolder).
   */
  files?: Record<string, string[]>;
}

/** gomel's main log, <pid>.log or <pid>.<config>.log, maybe gzipped: the verdict reads it as the node's log (fs/node-logs.ts). */
export const MAIN_LOG = /^(\d+)(?:\.[\w-]+)?\.log(?:\.gz)?$/;

/** The other names in a node's folder that the verdict (fs/node-logs.ts) or the report (commands/report.ts) read. */
const EVIDENCE_FILES: ReadonlySet<string> = new Set([
  TASK_FILE,
  NODE_FILES.probe,
  NODE_FILES.exitStatus,
  NODE_FILES.stderr,
  NODE_FILES.startedAt,
  NODE_FILES.network,
  NODE_FILES.faultsLog,
  NODE_FILES.startPlan,
  NODE_FILES.cpuUsage,
]);

/** Whether the verdict or the report reads an entry of this name, at the top of a node's folder, as the node's evidence. */
export const readAsEvidence = (name: string): boolean => MAIN_LOG.test(name) || EVIDENCE_FILES.has(name);

/** At most three names, and how many more: 'a, b, c and 2 more'. */
export function someNames(names: readonly string[]): string {
  return names.slice(0, 3).join(', ') + (names.length > 3 ? ` and ${names.length - 3} more` : '');
}

/** What `gomelctl report` writes into the run's folder by default. */
export const REPORT_FILE = 'report.html';
/** What `gomelctl verdict` writes into the run's folder: every node's line, where its output is a summary (issue 35). */
export const VERDICT_FILE = 'verdict.txt';
/** verdict.txt's first line: the mark that the file is gomelctl's to write again (a user's notes of that name are kept). */
export const VERDICT_HEADER = "# gomelctl verdict: every node's line (`gomelctl verdict` writes it again)";
/** What `gomelctl deploy logs` writes into the run's folder: one line per node collected (issue 35). */
export const DEPLOY_LOGS_FILE = 'deploy-logs.txt';
/** Files commands write into a run's folder after deploy logs wrote its manifest: gomelctl's all the same. */
export const WRITTEN_AFTER_LOGS: readonly string[] = [REPORT_FILE, VERDICT_FILE];

const sorted = (names: Iterable<string>) => [...new Set(names)].sort();

export function formatManifest(manifest: LogsManifest): string {
  const files = manifest.files
    ? Object.fromEntries(
        Object.keys(manifest.files)
          .sort()
          .map((folder) => [folder, sorted(manifest.files![folder]!)]),
      )
    : undefined;
  return `${JSON.stringify({ network: manifest.network, entries: sorted(manifest.entries), files })}\n`;
}

/** The manifest as formatManifest writes it: plain names at the top, paths inside each folder. */
const MANIFEST_JSON = z.object({
  network: z.string(),
  entries: z.array(PLAIN_NAME_JSON),
  files: z.record(PLAIN_NAME_JSON, z.array(z.string().refine((p) => insideFolder(p) === p))).optional(),
});

/** The marker's content; a marker from before manifests (one line, the network) lists nothing. */
function parseManifest(text: string): LogsManifest | 'legacy' | undefined {
  return readJsonAs(text, MANIFEST_JSON) ?? (/^[\w.-]+\n?$/.test(text) ? 'legacy' : undefined);
}

/** What the marker records writing inside each folder; nothing for a marker that records no files (planLogsFolder judged it). */
export function recordedFiles(marker: string | undefined): Record<string, string[]> {
  const manifest = marker === undefined ? undefined : parseManifest(marker);
  return manifest && manifest !== 'legacy' ? { ...manifest.files } : {};
}

type LogsFolderPlan = { ok: true; remove: string[] } | { ok: false; foreign: string[]; why: string };

/**
 * What may be removed before writing a run's logs into a folder holding `present`
 * (top-level names). `fresh`: the folder is to hold this run only (up). Anything
 * gomelctl did not record writing refuses the folder, fresh or not: `deploy logs`
 * also replaces node folders, and a user's folder called node3 is not ours.
 */
export function planLogsFolder(present: readonly string[], marker: string | undefined, fresh: boolean): LogsFolderPlan {
  const others = present.filter((name) => name !== LOGS_MARKER);
  if (others.length === 0) return { ok: true, remove: [] };
  const manifest = marker === undefined ? undefined : parseManifest(marker);
  if (manifest === undefined) {
    return {
      ok: false,
      foreign: others,
      why:
        marker === undefined
          ? 'was not written by `gomelctl deploy logs`'
          : `has a ${LOGS_MARKER} file gomelctl cannot read`,
    };
  }
  // Before the marker listed its entries, deploy logs wrote <node>.log and <node>/ in pairs.
  const legacy = (name: string) =>
    /^[\w-]+\.log$/.test(name) || name === 'committee.ka' || name === 'conf.json' || present.includes(`${name}.log`);
  const ours = (name: string) =>
    WRITTEN_AFTER_LOGS.includes(name) || (manifest === 'legacy' ? legacy(name) : manifest.entries.includes(name));
  const foreign = others.filter((name) => !ours(name));
  if (foreign.length) return { ok: false, foreign, why: 'holds files gomelctl did not write there' };
  return { ok: true, remove: fresh ? others : [] };
}

// What a node and deploy logs put in a node's folder, for a folder whose manifest
// records no files (written before it did, when the folder was replaced whole):
// gomel's logs and setup logs, a restarted gomel's, run.sh's records, task.json.
// Anything else there is kept; every name the verdict reads is among these, so
// such a folder is never refused and its evidence is all this run's.
const NODE_WROTE =
  /^(setup_)?(restart\d+-)?(\d+(\.[\w-]+)?\.log(\.gz)?|stderr\.txt)$|^exit_status\.before-restart\d+$|^stopped$/;
const nodeWrote = (name: string) =>
  readAsEvidence(name) || NODE_WROTE.test(name) || Object.values(NODE_FILES).some((n) => n === name);

export type NodeFolderPlan =
  | {
      ok: true;
      /** The leaves gomelctl wrote: removed before the folder is written again. */
      remove: string[];
      /** The leaves it did not: they stay, and the user is told. */
      keep: string[];
      /** False when the manifest records no files for the folder (see nodeWrote). */
      recorded: boolean;
    }
  | { ok: false; file: string };

/**
 * A node's folder gomelctl wrote, about to be written again or emptied (up): what
 * goes is exactly what the manifest records writing there. `leaves`: every path
 * inside that is not a folder, and every empty folder ('sub/'), found without
 * following links ('/'-separated). `recorded`: the manifest's record of the folder.
 *
 * Anything else is the user's (notes.txt, a folder of their own). It is kept,
 * and the run goes on: refusing a run over a note would be out of proportion,
 * and the verdict never reads it. The exception is a name the verdict or the
 * report read as the node's evidence (a gomel log, probe.txt, started_at…):
 * kept, the user's file would be judged as the node's, or clash with the run's
 * own; deleted, gomelctl would delete what it did not write. Such a folder is
 * refused, before anything is deleted, naming the file.
 */
export function planNodeFolder(leaves: readonly string[], recorded: readonly string[] | undefined): NodeFolderPlan {
  const record = recorded && new Set(recorded);
  // An empty folder ('sub/') that held a file gomelctl wrote is its own too: it made it for that file.
  const ours = (leaf: string) =>
    record
      ? leaf.endsWith('/')
        ? recorded.some((r) => r.startsWith(leaf))
        : record.has(leaf)
      : !leaf.includes('/') && nodeWrote(leaf);
  const keep = leaves.filter((leaf) => !ours(leaf));
  const ambiguous = keep.find((leaf) => readAsEvidence(leaf.split('/')[0]!));
  if (ambiguous !== undefined) return { ok: false, file: ambiguous };
  return { ok: true, remove: leaves.filter(ours), keep, recorded: Boolean(record) };
}

/** The kept leaf in the way of writing `rel` into a node's folder (the same path, one inside it, or one it lies under), if any. */
export function keptInTheWay(rel: string, keep: readonly string[]): string | undefined {
  return keep.find((leaf) => {
    const k = leaf.replace(/\/$/, '');
    return k === rel || rel.startsWith(`${k}/`) || k.startsWith(`${rel}/`);
  });
}

/**
 * The relative path an entry of a node's /extract (a tar from its engine, or
 * its shipment) is written to, or undefined when it would leave the node's
 * folder: the names come from inside a container, which gomelctl does not trust.
 */
export function insideFolder(name: string): string | undefined {
  const rel = name.replace(/^(\.\/)+/, '');
  if (!rel || rel.endsWith('/') || rel.startsWith('/') || rel.includes('\\') || rel.includes('\0')) return undefined;
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return rel;
}
