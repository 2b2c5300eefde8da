// Finds per-node evidence in a logs folder and streams gomel's JSON-lines logs
// (plain or .gz; tens of MB per node on long runs) without loading them whole.
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createGunzip } from 'node:zlib';
import { addLogLine, newLogStats, type LogStats } from '../core/verdict.js';
import { exists } from './atomic.js';

export interface NodeFiles {
  pid: number | undefined;
  label: string;
  log?: string;
  probe?: string;
  exitStatus?: string;
  stderr?: string;
}

// gomel's main log: <pid>.log or <pid>.<config>.log, maybe gzipped; setup_<pid>… is the setup phase.
const MAIN_LOG = /^(\d+)(?:\.[\w-]+)?\.log(?:\.gz)?$/;

async function describeFolder(dir: string, label: string): Promise<NodeFiles> {
  const node: NodeFiles = { pid: undefined, label };
  for (const name of (await fs.readdir(dir)).sort()) {
    const file = path.join(dir, name);
    const m = MAIN_LOG.exec(name);
    if (m) {
      node.log = file;
      node.pid = Number(m[1]);
    } else if (name === 'probe.txt') node.probe = file;
    else if (name === 'exit_status') node.exitStatus = file;
    else if (name === 'stderr.txt') node.stderr = file;
  }
  return node;
}

const trailingNumber = (s: string) => Number(/(\d+)$/.exec(s)?.[1] ?? Number.MAX_SAFE_INTEGER);

/** One entry per node: sub-folders (as `deploy logs` writes), or <pid>.log files side by side. */
export async function discoverNodes(dir: string): Promise<NodeFiles[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  if (folders.length > 0) {
    const nodes = await Promise.all(folders.map((f) => describeFolder(path.join(dir, f), f)));
    return nodes.filter((n) => n.log || n.probe || n.exitStatus).sort((a, b) => trailingNumber(a.label) - trailingNumber(b.label));
  }
  const nodes: NodeFiles[] = [];
  for (const e of entries) {
    const m = e.isFile() ? MAIN_LOG.exec(e.name) : null;
    if (m) nodes.push({ pid: Number(m[1]), label: `pid ${m[1]}`, log: path.join(dir, e.name) });
  }
  return nodes.sort((a, b) => a.pid! - b.pid!);
}

export async function readLogStats(file: string): Promise<{ stats: LogStats; problem: string | undefined }> {
  const stats = newLogStats();
  let problem: string | undefined;
  const source = createReadStream(file);
  const input = file.endsWith('.gz') ? source.pipe(createGunzip()) : source;
  // readline's iterator does not pass on its input's errors (a truncated gzip), so race them.
  const failure = new Promise<never>((_, reject) => {
    source.on('error', reject);
    input.on('error', reject);
  });
  failure.catch(() => {}); // an error after the lines ended must not crash the process
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  try {
    await Promise.race([
      (async () => {
        for await (const line of lines) addLogLine(stats, line);
      })(),
      failure,
    ]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problem = code === 'Z_BUF_ERROR' || /unexpected end/i.test((error as Error).message) ? 'log truncated (the gzip stream ends early)' : `log unreadable: ${(error as Error).message}`;
  } finally {
    lines.close();
    source.destroy();
  }
  if (!problem && stats.lines === 0) problem = 'empty log';
  else if (!problem && stats.malformedLines > 0) problem = `${stats.malformedLines} malformed line(s) (log truncated?)`;
  return { stats, problem };
}

export async function readOptional(file: string | undefined): Promise<string | undefined> {
  return file && (await exists(file)) ? fs.readFile(file, 'utf8') : undefined;
}
