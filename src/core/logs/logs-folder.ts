// A logs folder holds what `deploy logs` wrote there and nothing gomelctl may
// delete otherwise. Its marker file records every entry it wrote (a manifest), so
// `up --logs DIR` empties a folder of exactly those, and refuses a folder that
// holds anything else: keys, configs and notes are never swept away.
export const LOGS_MARKER = '.gomelctl-logs';
/** The run's fault plan and who it makes faulty, written by deploy logs (issue 24). */
export const FAULTS_FILE = 'faults.json';

interface LogsManifest {
  network: string;
  /** Top-level names `deploy logs` wrote: <node>.log, <node>/, committee.ka, conf.json. */
  entries: string[];
}

/** What `gomelctl report` writes into the run's folder by default. */
const REPORT_FILE = 'report.html';
const PLAIN_NAME = /^(?!\.\.?$)[^/\\\0]+$/;

export function formatManifest(manifest: LogsManifest): string {
  return `${JSON.stringify({ network: manifest.network, entries: [...new Set(manifest.entries)].sort() })}\n`;
}

/** The marker's content; a marker from before manifests (one line, the network) lists nothing. */
function parseManifest(text: string): LogsManifest | 'legacy' | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const { network, entries } = value as { network?: unknown; entries?: unknown };
      if (
        typeof network === 'string' &&
        Array.isArray(entries) &&
        entries.every((e) => typeof e === 'string' && PLAIN_NAME.test(e))
      )
        return { network, entries: entries as string[] };
    }
    return undefined;
  } catch {
    return /^[\w.-]+\n?$/.test(text) ? 'legacy' : undefined;
  }
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
    name === REPORT_FILE || (manifest === 'legacy' ? legacy(name) : manifest.entries.includes(name));
  const foreign = others.filter((name) => !ours(name));
  if (foreign.length) return { ok: false, foreign, why: 'holds files gomelctl did not write there' };
  return { ok: true, remove: fresh ? others : [] };
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
