// What one gomel log says, read line by line (test/vectors/gomel-2019-09/logs/README.md):
//   "E":"D" a prime unit was created, Q its level (a healthy node reaches LevelLimit);
//   "E":"E" a timing unit (round R);  "E":"Z" one ordered unit (creator C, height H);
//   "E":"A"/"B" a service started/stopped: a node that exits by itself stops all it started.
import { maxOf, minOf } from '../bounded.js';
import { jsonText } from '../json-input.js';

export interface LogStats {
  lines: number;
  maxLevel: number | undefined;
  timingRounds: number;
  /** The highest round R of a timing unit ("E" lines), if any. */
  maxRound: number | undefined;
  /** The latest T (ms since gomel started) of a line it parsed: how long its log speaks for it. */
  lastMs: number | undefined;
  /** Ordered units, in order, each as unitKey(C, H) (a number: 8 bytes a unit, at any N). */
  order: number[];
  /** When each unit of `order` was ordered: its Z line's T (ms since gomel started), −1 when it had none. */
  orderMs: number[];
  /** Units this node created ("C" and "D" lines): a twin shows its equivocation by creating them too. */
  created: number;
  /**
   * Error lines about a fork (gomel's ComplianceError "A unit is evidence of self forking", "Some parent
   * has evidence of another parent being a forker": pkg/dag/check/parental_compliance.go), and the first one's T.
   */
  forkErrors: number;
  firstForkErrorMs: number | undefined;
  servicesStarted: number;
  servicesStopped: number;
  errors: Map<string, number>;
  malformedLines: number;
  /** Malformed lines with an ordered unit after them: the order may have lost a unit in the middle. */
  malformedInOrder: number;
  /**
   * How many units it had ordered when its first malformed line came: the order up to there is intact
   * (each Z line read whole, none missing between them), whatever comes after. undefined: no such line.
   */
  orderBeforeDamage: number | undefined;
  /** Events kept in memory for this log (verdict and report: C, D, E, Z, W lines), against `maxEvents`. */
  events: number;
  /** How many events this log may keep: its share of the run's budget (eventBudget). */
  maxEvents: number;
  /** The log held more events than its share: what was kept is not all, and the node is not judged. */
  overflow: boolean;
  /** Its first genesis line's time, as gomel wrote it ("Wed, 25 Nov 2026 02:33:41 +0000": when this gomel started). */
  genesis?: string;
  /**
   * The peer pids its sync lines name ("P"): every pid but its own in a real log (lab16, twin8, swarm-8),
   * so a log naming pid K as a peer is not pid K's (issue 30 B10: node4's log copied into node5's folder
   * was judged as node5's). At most MAX_PEER_PIDS kept.
   */
  peerPids: Set<number>;
  /**
   * The peer pids its sync sessions name (gossip, fetch: lines with "P" but a multicast's "e"). Such a
   * line shows the peer's gomel ran the session too: it greeted this one, or read its greeting, and
   * logged the session under this pid ("J", pkg/sync/gossip/protocol.go in and out). A multicast's "e"
   * shows only a write the peer may never have read.
   */
  syncPeerPids: Set<number>;
  /** How many pids the run's committee has (newLogStats): gomel names only pids 0..N − 1, as creators and peers. */
  committeeSize: number;
  /** Lines read so far, blank ones too: a line's number in the file. */
  lineNumber: number;
  /**
   * The first line naming a pid past the committee (an ordered unit's creator "C", a peer "P"): the log of
   * another committee's run (hostile pass 5, B1: swarm-8's logs under its committee.ka cut to 4 keys passed
   * as a 4-node consensus, though they order units of pids 4–7 and sync with them).
   */
  outsidePid: { pid: number; line: number; as: 'creator' | 'peer' } | undefined;
}

const MAX_PEER_PIDS = 65536;
const PEER = '"P":';

/**
 * What a whole run's logs may keep in memory, as events (an ordered unit, a unit created, a
 * timing unit): each node's share is this over N, at least MIN_NODE_EVENTS. A real 64-node
 * run's node ordered 1.4–5 thousand units at LevelLimit 50, far under either; a forged or
 * stray log of 256 MiB of "Z" lines would hold 3 M. Each log is capped on its own
 * (MAX_LOG_BYTES), and so is their sum: one node's log cannot cost the run's verdict.
 */
export const RUN_EVENTS = 16_000_000;
export const MIN_NODE_EVENTS = 64_000;
export const eventBudget = (n: number): number => Math.max(MIN_NODE_EVENTS, Math.floor(RUN_EVENTS / Math.max(1, n)));

/** Distinct error texts kept per log; the rest are counted under one key. */
const MAX_ERROR_KINDS = 64;
const OTHER_ERRORS = '(other errors)';

export function newLogStats(maxEvents = Infinity, committeeSize = Infinity): LogStats {
  return {
    lines: 0,
    maxLevel: undefined,
    timingRounds: 0,
    maxRound: undefined,
    lastMs: undefined,
    order: [],
    orderMs: [],
    created: 0,
    forkErrors: 0,
    firstForkErrorMs: undefined,
    servicesStarted: 0,
    servicesStopped: 0,
    errors: new Map(),
    malformedLines: 0,
    malformedInOrder: 0,
    orderBeforeDamage: undefined,
    events: 0,
    maxEvents,
    overflow: false,
    peerPids: new Set(),
    syncPeerPids: new Set(),
    committeeSize,
    lineNumber: 0,
    outsidePid: undefined,
  };
}

/** gomel's UnitBroadcasted: its own unit written to peer P's multicast address (pkg/sync/multicast/protocol.go). */
const MULTICAST_SENT = 'e';

/** Notes a pid the current line names, if it is past the committee and the first such. */
function noteOutside(stats: LogStats, pid: number, as: 'creator' | 'peer'): void {
  if (pid >= stats.committeeSize) stats.outsidePid ??= { pid, line: stats.lineNumber, as };
}

/** The "P" of a line of event `event`, read without parsing it (most lines are sync chatter that is not parsed). */
function notePeer(stats: LogStats, line: string, event: string): void {
  const at = line.indexOf(PEER);
  if (at < 0) return;
  let pid = 0;
  let i = at + PEER.length;
  const start = i;
  for (; i < line.length && i - start < 6; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    pid = pid * 10 + d;
  }
  if (i === start) return;
  noteOutside(stats, pid, 'peer');
  if (stats.peerPids.size >= MAX_PEER_PIDS) return;
  stats.peerPids.add(pid);
  if (event !== MULTICAST_SENT) stats.syncPeerPids.add(pid);
}

/** Whether a line of this event kind is kept (by the verdict or the report): what the event budget counts. */
export const KEPT_EVENTS = new Set(['C', 'D', 'E', 'Z', 'W']);

/** What gomel 2019-09 writes as "E" outside error lines (test/vectors/gomel-2019-09/logs: A–Z, a–z, "genesis"). */
const GOMEL_EVENT = /^([A-Za-z]|genesis)$/;

// Most lines are sync chatter; only the few event kinds we need are parsed.
const EVENT = /"E":"([^"]*)"/;
/** Longer lines are not gomel's (its longest are a few hundred bytes): counted as malformed, never parsed. */
export const MAX_LINE = 64 * 1024;

function malformed(stats: LogStats): void {
  stats.malformedLines++;
  stats.orderBeforeDamage ??= stats.order.length;
}

export function addLogLine(stats: LogStats, line: string): void {
  stats.lineNumber++;
  if (line.trim() === '') return;
  stats.lines++;
  const event = line.length > MAX_LINE ? undefined : EVENT.exec(line)?.[1];
  const isError = line.includes('"L":"3"');
  // gomel's events are one letter, or its first line's "genesis"; any other "E" outside an error line
  // is a garbled line (a "Z" whose letter was damaged would otherwise drop a unit from the order unseen).
  if (event === undefined || (!isError && !GOMEL_EVENT.test(event))) {
    malformed(stats);
    return;
  }
  if (stats.overflow) return;
  if (!isError) notePeer(stats, line, event);
  if (KEPT_EVENTS.has(event) && ++stats.events > stats.maxEvents) {
    stats.overflow = true;
    return;
  }
  // A unit created: counted without parsing the line (a regular unit's "C" carries nothing else we read).
  if (event === 'C' || event === 'D') stats.created++;
  const wanted =
    event === 'D' || event === 'Z' || event === 'E' || event === 'A' || event === 'B' || event === 'genesis';
  if (!wanted && !isError) return;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    malformed(stats);
    return;
  }
  if (typeof record.T === 'number' && Number.isFinite(record.T)) stats.lastMs = Math.max(stats.lastMs ?? 0, record.T);
  if (isError) {
    // Group errors by their text without addresses and numbers: "dial tcp …: connection refused".
    const text = jsonText(record.E)
      .replace(/\d+(\.\d+){3}(:\d+)?/g, '…')
      .replace(/\d+/g, 'N');
    const key = stats.errors.has(text) || stats.errors.size < MAX_ERROR_KINDS ? text : OTHER_ERRORS;
    stats.errors.set(key, (stats.errors.get(key) ?? 0) + 1);
    if (FORK_ERROR.test(text)) {
      stats.forkErrors++;
      if (typeof record.T === 'number') stats.firstForkErrorMs ??= record.T;
    }
    return;
  }
  switch (event) {
    case 'genesis':
      if (typeof record.genesis === 'string') stats.genesis ??= record.genesis;
      break;
    case 'D':
      if (typeof record.Q === 'number') stats.maxLevel = Math.max(stats.maxLevel ?? -1, record.Q);
      break;
    case 'E':
      stats.timingRounds++;
      if (typeof record.R === 'number') stats.maxRound = Math.max(stats.maxRound ?? -1, record.R);
      break;
    case 'Z': {
      const unit = unitKey(record.C, record.H);
      if (unit === undefined) malformed(stats);
      else {
        noteOutside(stats, record.C as number, 'creator');
        stats.order.push(unit);
        stats.orderMs.push(typeof record.T === 'number' && Number.isFinite(record.T) ? record.T : -1);
        stats.malformedInOrder = stats.malformedLines;
      }
      break;
    }
    case 'A':
      stats.servicesStarted++;
      break;
    case 'B':
      stats.servicesStopped++;
      break;
  }
}

/** gomel's words for a fork in an error (pkg/dag/check: "self forking", "a forker", "the unit is a fork"). */
const FORK_ERROR = /fork/i;

// Dialing, EOF and accept time-outs are normal while peers start and stop
// (logs/README.md): name the most frequent error that is not such noise.
const NETWORK_NOISE = /dial tcp|EOF|i\/o timeout|connection (refused|reset)|broken pipe/;

export function topError(stats: LogStats): string | undefined {
  const sorted = [...stats.errors].sort((a, b) => b[1] - a[1]);
  const [text, count] = sorted.find(([t]) => !NETWORK_NOISE.test(t)) ?? sorted[0] ?? [];
  return text ? `${count}× "${text}"` : undefined;
}

/**
 * An ordered unit (creator C, height H) as one number, C·2^32 + H: exact while C < 2^21 (a
 * committee is far smaller) and H < 2^32. undefined when C or H is not such an integer.
 */
export function unitKey(c: unknown, h: unknown): number | undefined {
  if (!Number.isInteger(c) || !Number.isInteger(h)) return undefined;
  const [creator, height] = [c as number, h as number];
  if (creator < 0 || creator >= 2 ** 21 || height < 0 || height >= 2 ** 32) return undefined;
  return creator * 2 ** 32 + height;
}

/** The unit a unitKey names, as gomel's logs do: "C:H". */
export const unitText = (key: number): string => `${Math.floor(key / 2 ** 32)}:${key % 2 ** 32}`;

/**
 * Nodes of one run start gomel within seconds of each other (swarm-8: 3 s apart; the genesis line
 * is each gomel's own start); a log whose gomel started more than this from the others' is of another run.
 */
export const SAME_RUN_S = 60;

/**
 * The first log (by index) whose genesis lies more than SAME_RUN_S from the median of all the
 * logs' genesis times, and by how many seconds; undefined when they agree or too few carry one.
 */
export function strayGenesis(genesis: readonly (string | undefined)[]): { index: number; seconds: number } | undefined {
  const times = genesis.map((g) => (g === undefined ? NaN : Date.parse(g)));
  const known = times.filter((t) => Number.isFinite(t)).sort((a, b) => a - b);
  if (known.length < 2) return undefined;
  const median = known[Math.floor((known.length - 1) / 2)]!;
  const index = times.findIndex((t) => Math.abs(t - median) > SAME_RUN_S * 1000);
  return index < 0 ? undefined : { index, seconds: Math.round(Math.abs(times[index]! - median) / 1000) };
}

/**
 * How many units short of the longest agreed order a node's order may stop and still agree: nodes stop a
 * few rounds apart, a round ordering about N units (real gomel: success-4, 27 and 33 units at N = 4; 16
 * nodes at LevelLimit 150 with a crash and a pause, 2026-12-07: 13 nodes 1943, one 1956, one 1979, 36 =
 * 2.25 N apart, all in the same order).
 */
export const agreedShortBy = (n: number): number => 4 * n;

/** One log of a run, as notItsLog reads it: its node's pid and label, and the record's twin half that reaches it. */
export interface RunLog {
  pid: number;
  label: string;
  stats: LogStats | undefined;
  /** Its pid runs as two instances (a twin), both logging as it. */
  twinned: boolean;
  /** A twin's instance: the pids of the half that reaches it (run.json's groups), and their names. */
  half?: { pids: ReadonlySet<number>; names: string };
}

/**
 * The first log that is not its node's, and why (issue 30 B10, hostile re-pass N1 and N5). Any log:
 * naming a pid past the committee (LogStats.outsidePid: another committee's log, hostile pass 5 B1);
 * naming its own pid as a peer (gomel syncs with every pid but its own: lab16, swarm-8). A twin's instance:
 * naming a peer outside its half (each instance's drop rules cut it off from the other half before gomel
 * starts: real twin8, node3 named pids 0, 1, 3, 4 and node3-twin 5, 6, 7); a copy of its node's log, or of
 * another node's, names the other half. A log the verdict may count as consensus (it created prime units,
 * and its order is at most agreedShortBy units short of the longest of a log at `levelLimit`): never naming pid q while
 * q's log names it in a sync session, which gomel logs at both ends (syncPeerPids); another node's log
 * with the lines naming its own pid cut out still never names the node it came from. A log cut short
 * is not held to that (a node paused for good is dialed into its listen queue and never answers). That last,
 * between two logs, only with `crossNode`.
 */
export function notItsLog(
  logs: readonly RunLog[],
  n: number,
  levelLimit: number,
  crossNode = true,
): { index: number; problem: string; fix?: string } | undefined {
  for (const [index, { pid, label, stats, half }] of logs.entries()) {
    if (!stats) continue;
    const outside = stats.outsidePid;
    if (outside)
      return {
        index,
        problem: `line ${outside.line} names pid ${outside.pid} as ${outside.as === 'creator' ? "an ordered unit's creator" : 'a peer'}, but the committee has ${n} pids (0–${n - 1}), the only ones gomel names: it is a log of another committee's run`,
        fix: `judge the logs with their own run's committee.ka and conf.json`,
      };
    if (stats.peerPids.has(pid))
      return {
        index,
        problem: `names pid ${pid} as a peer, and a gomel log names every pid but its own: it is another node's log, not ${label}'s`,
      };
    const stranger = half && minOf([...stats.peerPids].filter((p) => !half.pids.has(p)));
    if (stranger !== undefined)
      return {
        index,
        problem: `names pid ${stranger} as a peer, but only ${half!.names} reach ${label} (the twin's halves in the run's record, cut apart before gomel started): it is not ${label}'s log`,
      };
  }
  // Between two nodes' logs: in a folder sealed as collected each log is its own node's output, and one
  // node claiming sessions another never logged says nothing of which is lying (hostile pass 14: node8's
  // claimed sessions voided a correct node2, and with it a fork): asked only of an unsealed folder.
  if (!crossNode) return undefined;
  const judged = logs.flatMap((l, index) => (l.stats && !l.twinned ? [{ ...l, stats: l.stats, index }] : []));
  const reach = maxOf(judged.flatMap((l) => ((l.stats.maxLevel ?? -1) >= levelLimit ? [l.stats.order.length] : [])));
  if (reach === undefined) return undefined;
  for (const p of judged) {
    // Only a log the verdict may count as consensus: one that created prime units and ordered far enough.
    if (p.stats.maxLevel === undefined || p.stats.order.length < reach - agreedShortBy(n)) continue;
    const q = judged.find((q) => q.pid !== p.pid && q.stats.syncPeerPids.has(p.pid) && !p.stats.peerPids.has(q.pid));
    if (q)
      return {
        index: p.index,
        problem: `never names pid ${q.pid} as a peer, though ${q.label}'s log (pid ${q.pid}) names pid ${p.pid} in its sync sessions, which gomel logs at both ends: it is not ${p.label}'s log (or ${q.label}'s is not ${q.label}'s)`,
      };
  }
  return undefined;
}
