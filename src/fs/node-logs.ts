// Finds per-node evidence in a logs folder and streams gomel's JSON-lines logs
// (plain or .gz; tens of MB per node on long runs) without loading them whole.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { crc32, createInflateRaw } from 'node:zlib';
import { NODE_FILES } from '../core/deploy/node-contract.js';
import { InputError } from '../core/errors.js';
import { addLogLine, MAX_LINE, newLogStats, RUN_EVENTS, type LogStats } from '../core/logs/log-stats.js';
import { MAIN_LOG, someNames, TASK_FILE } from '../core/logs/logs-folder.js';
import { ABSENT } from '../core/logs/seal.js';
import { formatBytes, linkNote, openInput, readOptionalInput, type OpenInput } from './input.js';

export interface NodeFiles {
  label: string;
  /** The node's own folder (as deploy logs writes); undefined for a <pid>.log among others. */
  folder?: string;
  /** The pid in the main log's name, when there is one. */
  logPid: number | undefined;
  /**
   * Why the node's own files cannot be its evidence (two gomel logs, another pid's log), in a folder sealed
   * as collected: there they came from the node itself, and make its evidence void, not the committee's.
   */
  contradiction?: string;
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
  /** faults.sh's record of each fault action it applied (templates/faults.sh). */
  faultsLog?: string;
  /** run.sh's record of the container's CPU time at gomel's start and end (host-load.ts). */
  cpuUsage?: string;
}

// gomel's main log is MAIN_LOG (setup_<pid>… is the setup phase). The names read here are
// the node's evidence: a user's file of such a name in a node folder gomelctl wrote is
// refused by deploy logs, never read as the node's (core/logs/logs-folder.ts readAsEvidence).
const FILES: Record<string, keyof NodeFiles> = {
  [NODE_FILES.probe]: 'probe',
  [NODE_FILES.exitStatus]: 'exitStatus',
  [NODE_FILES.stderr]: 'stderr',
  [TASK_FILE]: 'task', // written by deploy logs, not the node
  [NODE_FILES.startedAt]: 'startedAt',
  [NODE_FILES.network]: 'network',
  [NODE_FILES.faultsLog]: 'faultsLog',
  [NODE_FILES.cpuUsage]: 'cpuUsage',
};

function twoLogs(where: string, a: string, b: string): InputError {
  return new InputError(
    where,
    undefined,
    `two gomel logs for one node: ${path.basename(a)} and ${path.basename(b)}`,
    'keep one of them (e.g. remove the uncompressed copy)',
  );
}

async function describeFolder(dir: string, label: string, sealed: boolean, listed?: Set<string>): Promise<NodeFiles> {
  const node: NodeFiles = { label, folder: dir, logPid: undefined };
  for (const entry of (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const name = entry.name;
    const file = path.join(dir, name);
    // The files listed, for the seal (loadRun): a folder is no file a seal holds.
    if (!entry.isDirectory()) listed?.add(path.resolve(file));
    const m = MAIN_LOG.exec(name);
    if (m) {
      if (node.log && sealed) {
        node.contradiction = twoLogs(dir, node.log, file).problem;
        continue;
      }
      if (node.log) throw twoLogs(dir, node.log, file);
      node.log = file;
      node.logPid = Number(m[1]);
    } else if (FILES[name]) (node as unknown as Record<string, string>)[FILES[name]] = file;
  }
  if (node.contradiction) {
    node.log = undefined;
    node.logPid = undefined;
  }
  return node;
}

/**
 * One entry per node: sub-folders (as `deploy logs` writes), or <pid>.log files side by side. Anything
 * named as a log is one (a FIFO or a folder of that name too), so its reader names what it is rather than
 * the node being "no log" (hostile pass h8). A folder holding no node's files (notes/, an empty one) is
 * no node and changes nothing: it made a folder of <pid>.log files "hold no node logs" (h8); a node
 * folder beside <pid>.log files is two layouts, which is refused, naming the folders. A link is read
 * through (openInput names it in any refusal); refuseSharedEvidence refuses one to another node's log.
 */
export async function discoverNodes(dir: string, sealed = false, listed?: Set<string>): Promise<NodeFiles[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const e of entries) if (!e.isDirectory()) listed?.add(path.resolve(dir, e.name));
  const logs = entries.filter((e) => MAIN_LOG.test(e.name));
  const folders = entries.filter((e) => e.isDirectory() && !MAIN_LOG.test(e.name)).map((e) => e.name);
  const described = await Promise.all(folders.sort().map((f) => describeFolder(path.join(dir, f), f, sealed, listed)));
  const nodes = described.filter((n) => n.log || n.probe || n.exitStatus || n.task);
  if (nodes.length > 0 && logs.length > 0) {
    const names = nodes.map((n) => n.label);
    throw new InputError(
      dir,
      undefined,
      `holds both <pid>.log files (${someNames(logs.map((e) => e.name).sort())}) and node folders (${someNames(names)}): one layout per logs folder`,
      `move ${names.length === 1 ? names[0] : 'the folders'} away, or the <pid>.log files`,
    );
  }
  if (nodes.length > 0) return nodes;
  const byPid = new Map<number, NodeFiles>();
  for (const e of logs) {
    const pid = Number(MAIN_LOG.exec(e.name)![1]);
    const file = path.join(dir, e.name);
    const seen = byPid.get(pid);
    if (seen) throw twoLogs(dir, seen.log!, file);
    byPid.set(pid, { label: `pid ${pid}`, logPid: pid, log: file });
  }
  return [...byPid.values()];
}

/**
 * Refuses two nodes whose evidence is one file: a symbolic or hard link to another node's log (the same
 * device and inode) would have one node's log judged as two nodes' (issue 30). A file that does not stat
 * is left to its reader, which names what is wrong with it.
 */
export async function refuseSharedEvidence(nodes: readonly NodeFiles[]): Promise<void> {
  const seen = new Map<string, { label: string; file: string }>();
  for (const node of nodes) {
    const files = [node.log, ...Object.values(FILES).map((key) => node[key] as string | undefined)];
    for (const file of new Set(files.filter((f): f is string => f !== undefined))) {
      const stat = await fs.stat(file, { bigint: true }).catch(() => undefined);
      if (!stat) continue;
      const id = `${stat.dev}:${stat.ino}`;
      const other = seen.get(id);
      if (!other) {
        seen.set(id, { label: node.label, file });
        continue;
      }
      if (other.label === node.label) continue;
      const link = (await linkNote(file)) || (await linkNote(other.file)).replace(' (', ` (${other.file} is `);
      throw new InputError(
        file,
        undefined,
        `is the same file as ${other.file}, ${other.label}'s evidence${link || ' (a hard link)'}: one file cannot be two nodes' evidence`,
        `put each node's own file in its place (\`gomelctl deploy logs\` collects them), or remove the link`,
      );
    }
  }
}

/**
 * Each non-blank line of a stream to `onLine`; a line longer than MAX_LINE is not kept whole but passed
 * as a marker (it is not gomel's). A blank line is counted against MAX_LOG_LINES but not passed on: no
 * reader of a log's lines does anything with one (they look for an "E" first). A call, not an async
 * generator's yield: each yield costs promises, a log has tens of thousands of lines, and node:test
 * tracks every promise (an async hook) — per-line yields made the verdict tests 3× slower
 * (test/verdict-evidence: 11.2 s of CPU, 3.4 s with calls).
 */
async function boundedLines(input: AsyncIterable<Buffer>, onLine: (line: string) => void): Promise<void> {
  let pending = ''; // the start of a line the next chunk goes on with
  let overlong = false;
  let lines = 0;
  const complete = (line: string) => {
    if (++lines > MAX_LOG_LINES) throw new TooManyLines();
    if (line !== '') onLine(line);
  };
  const decoder = new StringDecoder('utf8'); // a character may straddle two chunks
  for await (const chunk of input) {
    const text = decoder.write(chunk);
    // indexOf, not split: split made a string of every line, 65,536 of them from a chunk of newlines.
    for (let start = 0; ;) {
      const newline = text.indexOf('\n', start);
      const stop = newline < 0 ? text.length : newline;
      if (!overlong && pending.length + stop - start > MAX_LINE) {
        overlong = true;
        pending = '';
      }
      if (newline < 0) {
        if (!overlong) pending += text.slice(start);
        break;
      }
      complete(overlong ? OVERLONG : pending + text.slice(start, newline));
      pending = '';
      overlong = false;
      start = newline + 1;
    }
  }
  if (overlong) complete(OVERLONG);
  else if (pending) complete(pending);
}

const OVERLONG = '<overlong line>';

/**
 * At most this much of one log is read (after gunzip): ten times the log of a long
 * run. A larger one is not judged: 14 MB of gzip can hold 100 M lines (N66), and
 * what the statistics keep grows with them.
 */
export const MAX_LOG_BYTES = 256 * 1024 * 1024;
const CHUNK = 64 * 1024;

/**
 * At most this many lines of one log are read, blank ones too: MAX_LOG_BYTES of gomel's shortest lines
 * (23 bytes and a newline; 48 on average over the 730,629 lines of the logs in test/vectors), so no log
 * the byte cap admits is refused for its lines. A line costs its reader a call however short it is:
 * 400 MiB of newlines in a 400 KB gzip, read to the byte cap, took the verdict 10 s and the report 27 s
 * (hostile pass N8).
 */
export const MAX_LOG_LINES = Math.floor(MAX_LOG_BYTES / 24);

/**
 * At most this many gzip members make one log. gzip (and pigz) write one a file, `cat a.gz b.gz`
 * one a part; each member costs an inflater and a fresh read, so a forged 4.5 MB .gz of 100 k tiny
 * members took the verdict 124 s (hostile pass B8), where this many take about a second.
 */
export const MAX_GZIP_MEMBERS = 1024;

/** Reading a log went wrong in a way that leaves the lines read so far valid. */
class LogProblem extends Error {}
class LogTooLarge extends Error {}
class TooManyLines extends Error {}
class TooManyMembers extends Error {}

/** A file's bytes from `position` on, through a handle the caller keeps open. */
/** What a log is read through: its open file, or its bytes held whole (hashed as read, for the seal). */
type LogSource = Pick<FileHandle, 'read'>;

/** A LogSource over bytes in memory, read as a file is (fs.read's contract: fewer bytes at the end, none past it). */
function bytesSource(bytes: Buffer): LogSource {
  return {
    read: (async (buffer: Buffer, offset: number, length: number, position: number) => {
      const bytesRead = bytes.copy(buffer, offset, position, Math.min(position + length, bytes.length));
      return { bytesRead: Math.max(0, bytesRead), buffer };
    }) as LogSource['read'],
  };
}

/** Logs up to this size are read whole and hashed as read when the seal asks (real gomel's: ~1 MB gzipped a node). */
const HASHED_LOG_BYTES = 64 * 1024 * 1024;

async function* chunksFrom(handle: LogSource, position: number): AsyncGenerator<Buffer> {
  for (;;) {
    const buffer = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await handle.read(buffer, 0, CHUNK, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

async function* capped(chunks: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > maxBytes) throw new LogTooLarge();
    yield chunk;
  }
}

/** The length of the gzip member header (RFC 1952) at the start of `h`; undefined when `h` holds no whole header. */
function gzipHeaderLength(h: Buffer): number | undefined {
  if (h.length < 10 || h[0] !== 0x1f || h[1] !== 0x8b || h[2] !== 8) return undefined;
  const flags = h[3]!;
  let at = 10;
  if (flags & 4) at = h.length >= at + 2 ? at + 2 + h.readUInt16LE(at) : Infinity; // FEXTRA
  for (const bit of [8, 16]) {
    // FNAME, FCOMMENT: zero-terminated
    if (!(flags & bit)) continue;
    const end = h.indexOf(0, at);
    at = end < 0 ? Infinity : end + 1;
  }
  if (flags & 2) at += 2; // FHCRC
  return at <= h.length ? at : undefined;
}

/**
 * The inflated bytes of a .gz log, member after member (`cat a.gz b.gz` is one log).
 * zlib's Gunzip drops the last lines it inflated when junk follows a member, so each
 * member is inflated raw here, and the bytes after the last one are named in
 * `trailing` instead of costing the whole log (N71).
 */
async function* gunzipMembers(
  handle: LogSource,
  size: number,
  trailing: (note: string) => void,
): AsyncGenerator<Buffer> {
  let offset = 0;
  for (let members = 0; offset < size; members++) {
    const head = Buffer.alloc(Math.min(CHUNK, size - offset));
    await handle.read(head, 0, head.length, offset);
    const headerLength = gzipHeaderLength(head);
    if (headerLength === undefined) {
      if (head[0] === 0x1f && head[1] === 0x8b && head.length < CHUNK)
        throw new LogProblem('log truncated (the gzip stream ends early)');
      if (offset === 0) throw new LogProblem('log unreadable: not gzip data, although its name ends in .gz');
      if (head.every((b) => b === 0)) return; // zero padding, which gzip itself accepts
      trailing(`${formatBytes(size - offset)} of trailing garbage after the gzip data (from byte ${offset}) ignored`);
      return;
    }
    if (members === MAX_GZIP_MEMBERS) throw new TooManyMembers();
    const inflate = createInflateRaw();
    const source = Readable.from(chunksFrom(handle, offset + headerLength));
    source.on('error', (e) => inflate.destroy(e)); // pipe() does not pass a read error on
    source.pipe(inflate);
    let crc = 0;
    let length = 0;
    try {
      for await (const chunk of inflate as AsyncIterable<Buffer>) {
        crc = crc32(chunk, crc);
        length += chunk.length;
        yield chunk;
      }
    } finally {
      source.unpipe(inflate);
      source.destroy();
      inflate.destroy();
    }
    // The raw inflater stops at the member's end; bytesWritten is what it consumed.
    const end = offset + headerLength + inflate.bytesWritten;
    const trailer = Buffer.alloc(8);
    const { bytesRead } = await handle.read(trailer, 0, 8, end);
    if (bytesRead < 8) throw new LogProblem('log truncated (the gzip stream ends early)');
    if (trailer.readUInt32LE(0) !== crc >>> 0 || trailer.readUInt32LE(4) !== length % 2 ** 32)
      throw new LogProblem(`log corrupt: the gzip member ending at byte ${end + 8} fails its checksum`);
    offset = end + 8;
  }
}

interface LogRead {
  /** What went wrong reading it, if anything. */
  problem: string | undefined;
  /** False when the lines do not speak for the node: the log could not be opened, or was too large to read whole. */
  usable: boolean;
}

/** Streams a log's lines (plain or .gz) to `onLine`, reading at most `maxBytes` of lines. */
async function streamLog(
  file: string,
  onLine: (line: string) => void,
  maxBytes = MAX_LOG_BYTES,
  readSha256?: (sha256: string) => void,
): Promise<LogRead> {
  const gz = file.endsWith('.gz');
  let opened: OpenInput;
  try {
    opened = await openInput(file, 'log', Infinity);
  } catch (error) {
    readSha256?.(ABSENT);
    if (error instanceof InputError) return { problem: `log unreadable: ${error.message}`, usable: false };
    throw error;
  }
  const { handle, size } = opened;
  const tooLarge = {
    problem: `log too large: ${file} holds more than ${formatBytes(maxBytes)}${gz ? ' once inflated' : ''}, far more than a gomel run writes — not judged; check the file`,
    usable: false,
  };
  if (!gz && size > maxBytes) {
    await handle.close();
    return tooLarge;
  }
  const notes: string[] = [];
  try {
    // For the seal: the bytes read are the bytes hashed (hostile pass 18: a log swapped in for the reading
    // and back before the hashing); a log too large to hold is no sealed bytes (undefined).
    let source: LogSource = handle;
    const whole = readSha256 && size <= HASHED_LOG_BYTES ? await handle.readFile() : undefined;
    if (whole) {
      readSha256!(createHash('sha256').update(whole).digest('hex'));
      source = bytesSource(whole);
    }
    const bytes = gz ? gunzipMembers(source, size, (note) => notes.push(note)) : chunksFrom(source, 0);
    await boundedLines(capped(bytes, maxBytes), onLine);
    if (readSha256 && !whole) {
      // Too large to hold: hashed from the same open file once read (an in-place rewrite during the read
      // is not caught for such a log; real gomel's are ~1 MB gzipped a node).
      const hash = createHash('sha256');
      for await (const chunk of chunksFrom(handle, 0)) hash.update(chunk);
      readSha256(hash.digest('hex'));
    }
    return { problem: notes.join('; ') || undefined, usable: true };
  } catch (error) {
    if (error instanceof LogTooLarge) return tooLarge;
    if (error instanceof TooManyLines)
      return {
        problem: `log too large: ${file} holds more than ${MAX_LOG_LINES} lines, far more than a gomel run writes — not judged; check the file`,
        usable: false,
      };
    if (error instanceof TooManyMembers)
      return {
        problem: `log refused: ${file} is more than ${MAX_GZIP_MEMBERS} gzip members one after another, where gzip writes one a file — not judged; check the file (gunzip it)`,
        usable: false,
      };
    if (error instanceof LogProblem) return { problem: error.message, usable: true };
    const code = (error as NodeJS.ErrnoException).code;
    return {
      problem:
        code === 'Z_BUF_ERROR' || /unexpected end/i.test((error as Error).message)
          ? 'log truncated (the gzip stream ends early)'
          : `log unreadable: ${(error as Error).message}`,
      usable: true,
    };
  } finally {
    await handle.close();
  }
}

/**
 * The verdict's statistics of a log (undefined when they would not speak for the node); `alsoLine` sees
 * every line too, so a report reads each log once. `maxEvents` is the log's share of the run's memory
 * (eventBudget): past it nothing more is kept, by the verdict or through `alsoLine`, and the node is not judged.
 * `committeeSize`: the run's N, past which a pid the log names is another committee's (LogStats.outsidePid).
 */
export async function readLogStats(
  file: string,
  alsoLine?: (line: string) => void,
  maxBytes?: number,
  maxEvents?: number,
  committeeSize?: number,
  readSha256?: (sha256: string) => void,
): Promise<{ stats: LogStats | undefined; problem: string | undefined }> {
  const stats = newLogStats(maxEvents, committeeSize);
  const read = await streamLog(
    file,
    (line) => {
      addLogLine(stats, line);
      if (!stats.overflow) alsoLine?.(line);
    },
    maxBytes,
    readSha256,
  );
  if (!read.usable) return { stats: undefined, problem: read.problem };
  if (stats.overflow)
    return {
      stats: undefined,
      problem: `log too large: ${file} holds more than ${stats.maxEvents} units and rounds, this node's share of what a run's verdict keeps (${RUN_EVENTS} over N) — far more than a gomel run writes; not judged, check the file`,
    };
  let problem = read.problem;
  if (!problem && stats.lines === 0) problem = 'empty log';
  else if (!problem && stats.malformedLines > 0) problem = `${stats.malformedLines} malformed line(s) (log truncated?)`;
  return { stats, problem };
}

/** What of a node's stderr the verdict reads: its head, where Go prints a panic and gomel its refusal. */
export const STDERR_HEAD = 256 * 1024;

/**
 * The first `maxBytes` of a node's file, or undefined when absent: a file larger than that is
 * read in part, never refused, so one node's stray output cannot stop the whole run's verdict.
 */
export async function readHead(
  file: string | undefined,
  maxBytes: number,
  readSha256?: (sha256: string) => void,
): Promise<string | undefined> {
  if (file === undefined) return undefined;
  if (await gone(file, readSha256)) return undefined;
  // Anything else wrong with it (a FIFO, a folder, no permission) is openInput's one line.
  const opened = await openInput(file, undefined, Infinity).catch((error: unknown) => {
    // It does not open: not as it was sealed, whatever it is now (a folder, no permission).
    readSha256?.(ABSENT);
    throw error;
  });
  try {
    const buffer = Buffer.alloc(Math.min(maxBytes, opened.size));
    const { bytesRead } = await opened.handle.read(buffer, 0, buffer.length, 0);
    const head = buffer.subarray(0, bytesRead);
    if (readSha256) {
      // For the seal: the whole file's raw bytes, the head as read and the rest from the same open file
      // (hostile pass 19: a head's, or text decoded from bytes not UTF-8, matched no seal).
      const hash = createHash('sha256').update(head);
      for await (const chunk of chunksFrom(opened.handle, bytesRead)) hash.update(chunk);
      readSha256(hash.digest('hex'));
    }
    return new StringDecoder('utf8').write(head);
  } finally {
    await opened.handle.close();
  }
}

/** Small files of a node's folder (exit_status, task.json, stderr.txt, …): at most this much each. */
const MAX_NODE_FILE = 16 * 1024 * 1024;

/** A node's file, or undefined when absent; a FIFO, device, folder or oversized file is one line naming it. */
export function readOptional(file: string | undefined): Promise<string | undefined> {
  return readOptionalInput(file, undefined, MAX_NODE_FILE);
}

/**
 * Whether a file found when the folder was listed is gone now; noted as read so ("absent"), for the seal:
 * a sealed file moved away for the reading and back is then not as sealed (hostile pass 26: hidden, it
 * was never read, and the check of what was read passed).
 */
export async function gone(file: string, readSha256?: (sha256: string) => void): Promise<boolean> {
  const absent = await fs.lstat(file).then(
    () => false,
    (error: NodeJS.ErrnoException) => error.code === 'ENOENT',
  );
  if (absent) readSha256?.(ABSENT);
  return absent;
}

/**
 * Whether a file is no regular file now (a folder, a FIFO), or gone; noted as read absent, for the seal:
 * a sealed file, which collection wrote as a regular file, swapped for a folder during the reading was
 * read as no file, and never held to the seal (hostile pass 27). A file the seal does not hold (a node's
 * own folder of that name) is as sealed absent.
 */
async function noFile(file: string, readSha256: (sha256: string) => void): Promise<boolean> {
  const regular = await fs.lstat(file).then(
    (stat) => stat.isFile() || stat.isSymbolicLink(),
    () => false,
  );
  if (!regular) readSha256(ABSENT);
  return !regular;
}

/** readOptional, with the SHA-256 of the raw bytes the text was read from (for the seal). */
export async function readOptionalHashed(
  file: string | undefined,
  readSha256: (sha256: string) => void,
): Promise<string | undefined> {
  // Noted, for the seal; the read below says what it is (a folder voids its node, sealed; gone is none).
  if (file !== undefined) await noFile(file, readSha256);
  // Refused as readOptional refuses (a FIFO, a folder, over 16 MiB); the text is then the hashed read's.
  if ((await readOptional(file)) === undefined) return undefined;
  return readHead(file, MAX_NODE_FILE, readSha256);
}
