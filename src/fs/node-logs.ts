// Finds per-node evidence in a logs folder and streams gomel's JSON-lines logs
// (plain or .gz; tens of MB per node on long runs) without loading them whole.
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { InputError } from '../core/errors.js';
import { addLogLine, MAX_LINE, newLogStats, type LogStats } from '../core/logs/log-stats.js';
import { exists } from './atomic.js';

export interface NodeFiles {
  label: string;
  /** The pid in the main log's name, when there is one. */
  logPid: number | undefined;
  log?: string;
  probe?: string;
  exitStatus?: string;
  stderr?: string;
  /** deploy logs' record of the Swarm task (state, exit code, swarm node). */
  task?: string;
  /** run.sh's record of the wall-clock second gomel started. */
  startedAt?: string;
  /** The network conditions run.sh applied (deploy spawn --net / --zones). */
  network?: string;
}

// gomel's main log: <pid>.log or <pid>.<config>.log, maybe gzipped; setup_<pid>… is the setup phase.
const MAIN_LOG = /^(\d+)(?:\.[\w-]+)?\.log(?:\.gz)?$/;
const FILES: Record<string, keyof NodeFiles> = { 'probe.txt': 'probe', exit_status: 'exitStatus', 'stderr.txt': 'stderr', 'task.json': 'task', started_at: 'startedAt', 'network.txt': 'network' };

function twoLogs(where: string, a: string, b: string): InputError {
  return new InputError(where, undefined, `two gomel logs for one node: ${path.basename(a)} and ${path.basename(b)}`, 'keep one of them (e.g. remove the uncompressed copy)');
}

async function describeFolder(dir: string, label: string): Promise<NodeFiles> {
  const node: NodeFiles = { label, logPid: undefined };
  for (const name of (await fs.readdir(dir)).sort()) {
    const file = path.join(dir, name);
    const m = MAIN_LOG.exec(name);
    if (m) {
      if (node.log) throw twoLogs(dir, node.log, file);
      node.log = file;
      node.logPid = Number(m[1]);
    } else if (FILES[name]) (node as unknown as Record<string, string>)[FILES[name]] = file;
  }
  return node;
}

/** One entry per node: sub-folders (as `deploy logs` writes), or <pid>.log files side by side. */
export async function discoverNodes(dir: string): Promise<NodeFiles[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  if (folders.length > 0) {
    const nodes = await Promise.all(folders.sort().map((f) => describeFolder(path.join(dir, f), f)));
    return nodes.filter((n) => n.log || n.probe || n.exitStatus || n.task);
  }
  const byPid = new Map<number, NodeFiles>();
  for (const e of entries) {
    const m = e.isFile() ? MAIN_LOG.exec(e.name) : null;
    if (!m) continue;
    const pid = Number(m[1]);
    const file = path.join(dir, e.name);
    const seen = byPid.get(pid);
    if (seen) throw twoLogs(dir, seen.log!, file);
    byPid.set(pid, { label: `pid ${pid}`, logPid: pid, log: file });
  }
  return [...byPid.values()];
}

/** Lines of a stream; a line longer than MAX_LINE is not kept whole but yielded as a marker (it is not gomel's). */
async function* boundedLines(input: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let pending = '';
  let overlong = false;
  const decoder = new StringDecoder('utf8'); // a character may straddle two chunks
  for await (const chunk of input) {
    const parts = decoder.write(chunk).split('\n');
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      if (!overlong) pending += parts[i];
      if (pending.length > MAX_LINE) {
        overlong = true;
        pending = '';
      }
      if (last) break;
      yield overlong ? '<overlong line>' : pending;
      pending = '';
      overlong = false;
    }
  }
  if (overlong) yield '<overlong line>';
  else if (pending) yield pending;
}

/** Streams a log's lines (plain or .gz) to `onLine`; returns what went wrong reading it, if anything. */
export async function streamLog(file: string, onLine: (line: string) => void): Promise<string | undefined> {
  const source = createReadStream(file);
  const input = file.endsWith('.gz') ? source.pipe(createGunzip()) : source;
  source.on('error', (e) => input.destroy(e)); // pipe() does not pass a read error on
  try {
    for await (const line of boundedLines(input as AsyncIterable<Buffer>)) onLine(line);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'Z_BUF_ERROR' || /unexpected end/i.test((error as Error).message) ? 'log truncated (the gzip stream ends early)' : `log unreadable: ${(error as Error).message}`;
  } finally {
    source.destroy();
  }
}

/** The verdict's statistics of a log; `alsoLine` sees every line too, so a report reads each log once. */
export async function readLogStats(file: string, alsoLine?: (line: string) => void): Promise<{ stats: LogStats; problem: string | undefined }> {
  const stats = newLogStats();
  let problem = await streamLog(file, (line) => {
    addLogLine(stats, line);
    alsoLine?.(line);
  });
  if (!problem && stats.lines === 0) problem = 'empty log';
  else if (!problem && stats.malformedLines > 0) problem = `${stats.malformedLines} malformed line(s) (log truncated?)`;
  return { stats, problem };
}

export async function readOptional(file: string | undefined): Promise<string | undefined> {
  return file && (await exists(file)) ? fs.readFile(file, 'utf8') : undefined;
}
