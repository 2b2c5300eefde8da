// A node's /extract, shipped in its service output (templates/node-lib.sh,
// ship_extract). Copying files out of a container works only through the engine
// that runs it; the service log stream reaches the manager from every host. Each
// line is a record of its own:
//   gomelctl-ship <token> file <i> <path> <bytes> <sha256> <lines>
//   gomelctl-ship <token> data <i> <seq> <base64 of the gzipped file>
//   gomelctl-ship <token> end <files>
// The engine interleaves a container's stdout and stderr line by line, so other
// lines may stand between records: they are the node's output and stay there.
// Records may also be lost (an engine's log limit, a node cut off) or doubled;
// every file says what of it arrived, and keeps what did.
import { createHash } from 'node:crypto';
import { constants, gunzipSync } from 'node:zlib';
import { NODE_LINES } from '../deploy/node-contract.js';
import { maxOf } from '../bounded.js';

const SHIP_PREFIX = NODE_LINES.ship;

/**
 * The most a shipped file may declare or inflate to: the log reader's cap (MAX_LOG_BYTES,
 * src/fs/node-logs.ts). A 1.4 MB output declaring 1 GiB of zeros had deploy logs write 1 GiB
 * and peak at 3.2 GB (hostile pass B4); inflation stops at the cap (zlib's maxOutputLength).
 */
export const MAX_SHIPPED_BYTES = 256 * 1024 * 1024;
/**
 * The most one node's shipment may hold, all its files together: the same cap, as the verdict
 * judges at most MAX_LOG_BYTES of a node's log. Four files of 250 MiB each from 1.37 MB of output
 * had deploy logs write 1 GB for one node (hostile pass N4); such a shipment is refused whole.
 */
export const MAX_SHIPMENT_BYTES = MAX_SHIPPED_BYTES;

interface ShippedFile {
  /** Relative to /extract; checked to stay inside it. */
  path: string;
  /** What arrived: the whole file, or the part before the first lost record. */
  content: Uint8Array;
  complete: boolean;
  /** Why it is not complete, in words naming what is missing. */
  problem?: string;
  /** Over MAX_SHIPPED_BYTES, declared or inflated: not to be written at all. */
  overCap?: boolean;
}

interface Shipment {
  files: ShippedFile[];
  /** The end record arrived: no file is missing after the last one seen. */
  ended: boolean;
  /** What is missing or damaged: the node's evidence is incomplete. */
  problems: string[];
  /** Facts that lose nothing, e.g. an earlier task's shipment ignored. */
  notes: string[];
  /** Over MAX_SHIPMENT_BYTES, declared or inflated: none of its files is written (problems[0] says so). */
  overCap?: boolean;
}

export interface SeparatedOutput {
  /** The service output without the shipping records. */
  output: string;
  /** The newest shipment in the output, if any. */
  shipment: Shipment | undefined;
}

interface FileHeader {
  path: string;
  bytes: number;
  sha256: string;
  lines: number;
}

interface Collecting {
  headers: Map<number, FileHeader>;
  data: Map<number, Map<number, string>>;
  conflicts: Set<number>;
  end: number | undefined;
  /** How many of its records arrived: what bounds the file numbers it may use (fileNumbersBelow). */
  records: number;
}

/**
 * How many files of a shipment may be lost whole, besides those whose records arrived: a node's
 * /extract holds about a dozen files (NODE_FILES and gomel's logs), each shipped as at least two
 * records (its file line and one data line: gzip writes 20 bytes of even an empty file).
 */
const MAX_LOST_FILES = 1000;

/**
 * The file numbers a shipment may use: ship_extract numbers its files from 0, one after another, so
 * a file's number is at most the records that arrived plus the files that may have been lost whole.
 * A line claiming file 9999999999 had assemble() walk every number up to it (at 3,000,000: 2.65 s
 * and 400 MB); bounded so, assembly costs what arrived, never what a line claims.
 */
const fileNumbersBelow = (c: Collecting) => c.records + MAX_LOST_FILES;

const SAFE_PATH = /^(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const TOKEN = /^[A-Za-z0-9._-]{1,128}$/;
const NUMBER = /^(0|[1-9]\d{0,9})$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function parseRecord(line: string): { token: string; kind: 'file' | 'data' | 'end'; fields: string[] } | undefined {
  if (!line.startsWith(`${SHIP_PREFIX} `)) return undefined;
  const fields = line.trimEnd().split(' ');
  const [, token, kind, ...rest] = fields;
  if (!token || !TOKEN.test(token)) return undefined;
  if (
    kind === 'file' &&
    rest.length === 5 &&
    NUMBER.test(rest[0]!) &&
    SAFE_PATH.test(rest[1]!) &&
    NUMBER.test(rest[2]!) &&
    /^[0-9a-f]{64}$/.test(rest[3]!) &&
    NUMBER.test(rest[4]!)
  ) {
    return { token, kind, fields: rest };
  }
  if (kind === 'data' && rest.length === 3 && NUMBER.test(rest[0]!) && NUMBER.test(rest[1]!) && BASE64.test(rest[2]!))
    return { token, kind, fields: rest };
  if (kind === 'end' && rest.length === 1 && NUMBER.test(rest[0]!)) return { token, kind, fields: rest };
  return undefined;
}

const mb = (bytes: number) =>
  bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : bytes >= 1e3 ? `${Math.round(bytes / 1e3)} kB` : `${bytes} bytes`;

/** The ranges of missing sequence numbers, e.g. "lines 12–40, 97". */
function missingRanges(have: ReadonlyMap<number, string>, total: number): string {
  const ranges: string[] = [];
  for (let i = 0; i < total; i++) {
    if (have.has(i)) continue;
    let j = i;
    while (j + 1 < total && !have.has(j + 1)) j++;
    ranges.push(i === j ? `${i + 1}` : `${i + 1}–${j + 1}`);
    i = j;
  }
  return ranges.length > 4
    ? `${ranges.slice(0, 4).join(', ')} and ${ranges.length - 4} more ranges`
    : ranges.join(', ');
}

class OverCap extends Error {}

/** gunzip, stopping at `limit` bytes (OverCap); undefined if the bytes do not inflate. */
function inflate(gz: Buffer, prefix: boolean, limit: number): Buffer | undefined {
  try {
    return gunzipSync(gz, {
      maxOutputLength: Math.max(1, limit), // zlib takes no 0; a byte past the shipment's room is caught by assemble()
      ...(prefix ? { finishFlush: constants.Z_SYNC_FLUSH } : {}),
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new OverCap();
    return undefined;
  }
}

/** Inflates what may be the start of a gzip stream: the whole file, or as much as the bytes hold. */
const inflatePrefix = (gz: Buffer, limit: number): Buffer => inflate(gz, true, limit) ?? Buffer.alloc(0);

function overCap(header: FileHeader, what: string): ShippedFile {
  return {
    path: header.path,
    content: new Uint8Array(),
    complete: false,
    overCap: true,
    problem: `${header.path} ${what}, over the ${MAX_SHIPPED_BYTES / 2 ** 20} MiB cap on a shipped file: not written`,
  };
}

/**
 * One file, inflated to at most `room` (what the shipment may still hold): past the cap on a file
 * it is left out; past the room left, OverCap goes up to assemble(), which refuses the shipment.
 */
function assembleFile(
  header: FileHeader,
  data: ReadonlyMap<number, string>,
  conflict: boolean,
  room: number,
): ShippedFile {
  if (header.bytes > MAX_SHIPPED_BYTES) return overCap(header, `declares ${mb(header.bytes)}`);
  const limit = Math.min(MAX_SHIPPED_BYTES, room);
  try {
    return assembleWithin(header, data, conflict, limit);
  } catch (error) {
    if (error instanceof OverCap && limit === MAX_SHIPPED_BYTES) return overCap(header, `inflates to more than it may`);
    throw error;
  }
}

function assembleWithin(
  header: FileHeader,
  data: ReadonlyMap<number, string>,
  conflict: boolean,
  limit: number,
): ShippedFile {
  // A line holds 3000 bytes of gzip: more lines than that for the file's size is no honest header.
  if (header.lines > Math.ceil(header.bytes / 2000) + 16)
    return {
      path: header.path,
      content: new Uint8Array(),
      complete: false,
      problem: `${header.path} has a malformed header (${header.lines} lines for ${header.bytes} bytes)`,
    };
  const have = data.size;
  let prefix = 0;
  while (data.has(prefix)) prefix++;
  const complete = prefix === header.lines && have === header.lines && !conflict;
  const gz = Buffer.from(Array.from({ length: prefix }, (_, i) => data.get(i)!).join(''), 'base64');
  if (complete) {
    const content = inflate(gz, false, limit);
    const sha = content && createHash('sha256').update(content).digest('hex');
    if (content && content.length === header.bytes && sha === header.sha256)
      return { path: header.path, content: new Uint8Array(content), complete: true };
    const kept = inflatePrefix(gz, limit);
    return {
      path: header.path,
      content: new Uint8Array(kept),
      complete: false,
      problem: `${header.path} arrived corrupted (its checksum does not match; kept ${mb(kept.length)} of ${mb(header.bytes)})`,
    };
  }
  const kept = inflatePrefix(gz, limit);
  const lost = missingRanges(data, header.lines);
  const why = conflict
    ? 'two different copies of some of its lines arrived'
    : `lost ${header.lines - have} of its ${header.lines} shipped lines (${lost})`;
  return {
    path: header.path,
    content: new Uint8Array(kept),
    complete: false,
    problem: `${header.path} ${why}; kept the first ${mb(kept.length)} of ${mb(header.bytes)}`,
  };
}

/** A shipment over MAX_SHIPMENT_BYTES: none of it is kept, so nothing of it is written. */
const refused = (c: Collecting, what: string): Shipment => ({
  files: [],
  ended: c.end !== undefined,
  problems: [
    `its shipment ${what} the ${MAX_SHIPMENT_BYTES / 2 ** 20} MiB cap on one node's shipment: none of it written`,
  ],
  notes: [],
  overCap: true,
});

/** "file #4", "files #4–#9": numbers counted from 1, as in every problem about a shipment's files. */
const fileRange = (from: number, to: number) => (from === to ? `file #${from + 1}` : `files #${from + 1}–#${to + 1}`);

function assemble(c: Collecting): Shipment {
  const problems: string[] = [];
  const files: ShippedFile[] = [];
  const below = fileNumbersBelow(c);
  const numbers = [...new Set([...c.headers.keys(), ...c.data.keys()])];
  const beyond = numbers.filter((i) => i >= below);
  if (beyond.length)
    problems.push(
      `${beyond.length} file number(s) of its shipment (as high as #${maxOf(beyond)! + 1}) are past what ${c.records} shipping lines and ${MAX_LOST_FILES} lost files can number: their lines were not used`,
    );
  const seen = (maxOf(numbers.filter((i) => i < below)) ?? -1) + 1;
  // A file over the cap on a file is left out alone (assembleFile); the others count.
  const counted = [...c.headers].filter(([i, h]) => i < below && h.bytes <= MAX_SHIPPED_BYTES).map(([, h]) => h);
  const declared = counted.reduce((sum, h) => sum + h.bytes, 0);
  if (declared > MAX_SHIPMENT_BYTES) return refused(c, `declares ${mb(declared)} in ${counted.length} files, over`);
  // An end record may name files that never came, but not more than the shipment can number.
  const count = Math.min(Math.max(c.end ?? 0, seen), below);
  let total = 0;
  // Files that lost their name line, one after another: said once, as a range.
  let nameless: { from: number; to: number; dataLines: number } | undefined;
  const sayNameless = () => {
    if (!nameless) return;
    const { from, to, dataLines } = nameless;
    problems.push(
      `${fileRange(from, to)} of the shipment lost ${from === to ? 'its name line' : 'their name lines'}${dataLines ? ` (${dataLines} data lines arrived without ${from === to ? 'it' : 'them'})` : ''}`,
    );
    nameless = undefined;
  };
  for (let i = 0; i < count; i++) {
    if (!c.headers.has(i)) {
      nameless ??= { from: i, to: i, dataLines: 0 };
      nameless.to = i;
      nameless.dataLines += c.data.get(i)?.size ?? 0;
      continue;
    }
    sayNameless();
    let file: ShippedFile;
    try {
      file = assembleFile(
        c.headers.get(i)!,
        c.data.get(i) ?? new Map(),
        c.conflicts.has(i),
        MAX_SHIPMENT_BYTES - total,
      );
    } catch (error) {
      if (error instanceof OverCap) return refused(c, 'inflates to more than');
      throw error;
    }
    total += file.content.length;
    if (total > MAX_SHIPMENT_BYTES) return refused(c, 'inflates to more than');
    if (file.overCap) problems.push(file.problem!);
    else files.push(file);
  }
  sayNameless();
  if (c.end === undefined)
    problems.push('the shipment has no end line: the output was cut off, files after the last one seen may be missing');
  for (const f of files) if (f.problem) problems.push(f.problem);
  return { files, ended: c.end !== undefined, problems, notes: [] };
}

/** Takes the shipping records out of a service's output, and the newest shipment from them. */
export function separateShipped(text: string): SeparatedOutput {
  const kept: string[] = [];
  const shipments = new Map<string, Collecting>();
  for (const line of text.split('\n')) {
    const record = parseRecord(line);
    if (!record) {
      kept.push(line);
      continue;
    }
    let c = shipments.get(record.token);
    if (!c)
      shipments.set(
        record.token,
        (c = { headers: new Map(), data: new Map(), conflicts: new Set(), end: undefined, records: 0 }),
      );
    c.records++;
    const [a, b, d, e, f] = record.fields;
    if (record.kind === 'file') c.headers.set(Number(a), { path: b!, bytes: Number(d), sha256: e!, lines: Number(f) });
    else if (record.kind === 'end') c.end = Number(a);
    else {
      const index = Number(a);
      const lines = c.data.get(index) ?? new Map<number, string>();
      c.data.set(index, lines);
      const seq = Number(b);
      const seen = lines.get(seq);
      // A line doubled by the engine is harmless; two different ones for one place are not.
      if (seen !== undefined && seen !== d) c.conflicts.add(index);
      lines.set(seq, d!);
    }
  }
  // A service that ran more than once shipped more than once: the last shipment in the output is this run's.
  const tokens = [...shipments.keys()];
  const newest = tokens.at(-1);
  const shipment = newest === undefined ? undefined : assemble(shipments.get(newest)!);
  if (shipment && tokens.length > 1)
    shipment.notes.push(
      `${tokens.length - 1} earlier shipment(s) in the same output were ignored (the service ran more than once)`,
    );
  return { output: kept.join('\n'), shipment };
}
