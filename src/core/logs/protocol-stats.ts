// gomel's own protocol figures and the traffic its peers actually got (issue 21,
// items 3 and 4), read one raw log line at a time. Every meaning below is taken
// from gomel's Go source at consensus-go e8d0088, not from log_analyzer/const.py:
//   C/D own unit created, Q level, A parents      pkg/process/create/service.go:164,167
//   I   creating.NewUnit failed                    pkg/process/create/service.go:149-151
//   E   timing unit: R its level, H the level it was decided on, N the dag's top level
//                                                  pkg/linear/ordering.go:75
//   J/K sync session started/completed, with P (peer) and I or O (session id of an
//       incoming or outgoing session)               pkg/sync/gossip/protocol.go:49,140,184,267;
//                                                  pkg/sync/fetch/protocol.go:27,46,70,86; pkg/sync/rmc/protocol.go
//   R   gossip's additional exchange                pkg/sync/gossip/protocol.go:117,256
//   V/f unit already in the dag / unit with N unknown parents   pkg/sync/add/units.go:35,37
//   X   connection closed, U bytes written, V bytes read        pkg/network/tcp/connection.go:66
//   G   listener accepted a connection (S = service)            pkg/network/tcp/server.go:43
//   e/g multicast: unit sent to P / unit from creator C handled  pkg/sync/multicast/protocol.go:50,24
//       (g follows add.Unit returning true, which it also does for a duplicate or
//       unknown parents, add/units.go:31-46: g counts received units, not added ones)
//   h/i retrying backlog, k fallback that resolves nothing       pkg/sync/retrying/server.go:44,100; pkg/sync/fallback.go:20
// Errors are level-3 lines whose "where" (or "addUnit") names service and side,
// e.g. "fetch.out.receivePreunits".
//
// Why sessions need work: gossip and fetch servers get the sync service's logger,
// which has no S (pkg/process/sync/service.go:81,93 pass `log`, not `lg`); only
// their network server gets S (service.go:72,84). A session's lines, and the
// connection-closed line once conn.SetLogger swaps in the session logger
// (gossip/protocol.go:48,183; fetch/protocol.go:28,71), carry P and I/O but no S.
// So a session is told apart by what it logs: its first debug line, the fields of
// its K line, or the "where" of its error; its X line then gives its bytes.
import { MAX_LINE } from './log-stats.js';
import { median } from './run-stats.js';
import { someNames } from './logs-folder.js';
import { minOf, maxOf } from '../bounded.js';

const SYNC_SERVICES = ['gossip', 'fetch', 'rmc'] as const;
type SyncService = (typeof SYNC_SERVICES)[number];
type Side = 'in' | 'out';

/** gomel's service numbers (pkg/logging/constants.go, "Service types"). */
const SERVICE_BY_NUMBER: Record<number, SyncService | 'multicast' | 'retrying'> = {
  6: 'gossip',
  7: 'fetch',
  8: 'multicast',
  9: 'retrying',
  10: 'rmc',
};

/** value → how many times it occurred: exact medians of integer ms with memory bounded by the distinct values. */
type Counts = Map<number, number>;
const bump = (m: Map<number, number>, k: number, by = 1) => m.set(k, (m.get(k) ?? 0) + by);

/**
 * Distinct values (histogram keys: parents, creation intervals and session durations in ms,
 * decision depths) a run's logs may keep for the protocol figures; each log its share, at least
 * MIN_NODE_PROTOCOL_VALUES. A real log holds a few hundred (lab16's 16 nodes: 225 at most); 8 forged
 * logs of 31 MB, a distinct parent count a line, took the report 143 s and 2 GB (hostile pass B8).
 */
export const RUN_PROTOCOL_VALUES = 1_000_000;
export const MIN_NODE_PROTOCOL_VALUES = 16_000;
export const protocolValueBudget = (n: number): number =>
  Math.max(MIN_NODE_PROTOCOL_VALUES, Math.floor(RUN_PROTOCOL_VALUES / Math.max(1, n)));

interface SessionTally {
  started: number;
  completed: number;
  failed: number;
  /** Dial or greeting failed: the session never got to its J line. */
  failedBeforeStart: number;
  durationsMs: Counts;
  unitsSent: number;
  unitsReceived: number;
  duplicates: number;
  unknownParents: number;
  missingParents: number;
  additionalExchanges: number;
}

interface OpenSession {
  service: SyncService | undefined;
  side: Side;
  peer: number;
  startT: number;
  completedT: number | undefined;
  errored: boolean;
  unitsSent: number;
  unitsReceived: number;
  duplicates: number;
  unknownParents: number;
  missingParents: number;
  additionalExchanges: number;
}

type Bytes = { sent: number; received: number };

export interface ProtocolStats {
  unitsCreated: number;
  primeUnitsCreated: number;
  parents: Counts;
  lastCreatedT: number | undefined;
  creationIntervalsMs: Counts;
  failedCreationAttempts: number;
  creationAddFailed: number;
  timingUnits: number;
  decisionDepth: Counts;
  levelsAboveDecision: Counts;
  sessions: Record<SyncService, Record<Side, SessionTally>>;
  /** Open sessions by `<S>|<side><peer>:<id>`; gossip and fetch count ids separately, so one key can hold two. */
  open: Map<string, OpenSession[]>;
  openCount: number;
  /** How many open sessions have no service yet: debug lines are read only while some have none. */
  unclassified: number;
  /** Sessions whose service nothing told (log cut short): counted, never guessed. */
  unattributedSessions: number;
  connectionsAccepted: Record<SyncService | 'multicast', number>;
  /** Connections closed before any session logger was set (X with S, no P). */
  closedBeforeSession: Record<SyncService, number>;
  bytes: Record<SyncService | 'multicast', Bytes>;
  /** Connection-closed lines no service could be found for. */
  unattributedBytes: Bytes;
  /** Bytes of session connections, by service and peer pid: what delivery is checked against. */
  peerBytes: Record<SyncService, Map<number, Bytes>>;
  /** unitsHandled: g lines, which include the duplicates and units with unknown parents (V, f before them). */
  multicast: {
    unitsBroadcast: number;
    broadcastFailed: number;
    unitsHandled: number;
    duplicates: number;
    unknownParents: number;
    missingParents: number;
    receiveFailed: number;
  };
  /** Multicast units received from each creator (g lines). */
  multicastFrom: Map<number, number>;
  retrying: { addedToBacklog: number; removedFromBacklog: number };
  fallbackUnresolved: number;
  /** The committee's size: per-peer counts are kept for pids 0..peers−1 only. */
  peers: number;
  /** Lines naming a peer outside the committee (a forged or foreign log): counted here, not per peer. */
  outsidePeers: number;
  /** Distinct histogram values kept, against `maxValues` (this log's share of RUN_PROTOCOL_VALUES). */
  values: number;
  maxValues: number;
  /** The log held more distinct values than its share: nothing more is read, and its figures are left out. */
  overflow: boolean;
}

const newTally = (): SessionTally => ({
  started: 0,
  completed: 0,
  failed: 0,
  failedBeforeStart: 0,
  durationsMs: new Map(),
  unitsSent: 0,
  unitsReceived: 0,
  duplicates: 0,
  unknownParents: 0,
  missingParents: 0,
  additionalExchanges: 0,
});
const perSync = <T>(make: () => T) => ({ gossip: make(), fetch: make(), rmc: make() });

/** `peers`: the committee's size; `maxValues`: the log's share of distinct values (protocolValueBudget). */
export function newProtocolStats(peers = Infinity, maxValues = Infinity): ProtocolStats {
  return {
    unitsCreated: 0,
    primeUnitsCreated: 0,
    parents: new Map(),
    lastCreatedT: undefined,
    creationIntervalsMs: new Map(),
    failedCreationAttempts: 0,
    creationAddFailed: 0,
    timingUnits: 0,
    decisionDepth: new Map(),
    levelsAboveDecision: new Map(),
    sessions: perSync(() => ({ in: newTally(), out: newTally() })),
    open: new Map(),
    openCount: 0,
    unclassified: 0,
    unattributedSessions: 0,
    connectionsAccepted: { gossip: 0, fetch: 0, rmc: 0, multicast: 0 },
    closedBeforeSession: perSync(() => 0),
    bytes: { ...perSync(() => ({ sent: 0, received: 0 })), multicast: { sent: 0, received: 0 } },
    unattributedBytes: { sent: 0, received: 0 },
    peerBytes: perSync(() => new Map()),
    multicast: {
      unitsBroadcast: 0,
      broadcastFailed: 0,
      unitsHandled: 0,
      duplicates: 0,
      unknownParents: 0,
      missingParents: 0,
      receiveFailed: 0,
    },
    multicastFrom: new Map(),
    retrying: { addedToBacklog: 0, removedFromBacklog: 0 },
    fallbackUnresolved: 0,
    peers,
    outsidePeers: 0,
    values: 0,
    maxValues,
    overflow: false,
  };
}

/** Counts one more `k` in a histogram of the log, within its share of distinct values. */
function count(s: ProtocolStats, counts: Counts, k: number): void {
  if (!counts.has(k) && ++s.values > s.maxValues) s.overflow = true;
  else bump(counts, k);
}

/** A pid the per-peer counts keep: one of the committee's, else counted as outside it. */
function committeePeer(s: ProtocolStats, pid: number): number | undefined {
  if (Number.isInteger(pid) && pid >= 0 && pid < s.peers) return pid;
  s.outsidePeers++;
  return undefined;
}

/** The event code: zerolog writes the message ("E") last, so it is the last `"E":"` of the line. */
function eventOf(line: string): string | undefined {
  const at = line.lastIndexOf('"E":"');
  if (at < 0) return undefined;
  const end = line.indexOf('"', at + 5);
  return end < 0 ? undefined : line.slice(at + 5, end);
}
/** Events this module reads; everything else (most debug chatter) is skipped before its fields are read. */
const WANTED = new Set(['C', 'D', 'I', 'E', 'J', 'K', 'R', 'V', 'f', 'X', 'G', 'e', 'g', 'h', 'i', 'k']);
/**
 * The first debug line of each session kind (LogLevel 0 only): gossip out sends its dag
 * info first (gossip/protocol.go:188), gossip in receives it (:52), fetch out sends its
 * requests (fetch/protocol.go:72), fetch in receives them (:29).
 */
const FIRST_DEBUG: Record<string, { side: Side; service: SyncService }> = {
  M: { side: 'out', service: 'gossip' },
  L: { side: 'in', service: 'gossip' },
  Q: { side: 'out', service: 'fetch' },
  P: { side: 'in', service: 'fetch' },
};
/** Cap on sessions open at once (a healthy node has tens): a cut log cannot grow memory. */
const MAX_OPEN = 4096;

const num = (v: unknown) => (typeof v === 'number' ? v : undefined);

/** A line's integer fields by their one-letter key (P, I, O, U, V, …). */
type Field = (key: string) => number | undefined;

/**
 * The integer fields of the line last read, by key letter (NaN when absent):
 * gomel's lines are flat zerolog objects with one-letter keys and unquoted
 * numbers (pkg/logging/constants.go "Field names"). Most lines are wanted, and one
 * pass over the text is three times cheaper than JSON.parse; only error lines,
 * whose strings we need, are parsed.
 */
const INTS = new Float64Array(26);

function readInts(line: string): void {
  INTS.fill(NaN);
  for (let i = 0; i + 4 < line.length; i++) {
    // `"K":` followed by a digit
    if (line.charCodeAt(i) !== 34 || line.charCodeAt(i + 2) !== 34 || line.charCodeAt(i + 3) !== 58) continue;
    const key = line.charCodeAt(i + 1) - 65;
    if (key < 0 || key > 25) continue;
    let j = i + 4;
    let n = 0;
    for (let c = line.charCodeAt(j); c >= 48 && c <= 57; c = line.charCodeAt(++j)) n = n * 10 + (c - 48);
    if (j > i + 4) INTS[key] = n;
    i = j - 1;
  }
}

const readField: Field = (key) => {
  const v = INTS[key.charCodeAt(0) - 65]!;
  return Number.isNaN(v) ? undefined : v;
};

/** A session line's side, peer and id, when it has them (P and I or O). */
function sessionOf(field: Field): { side: Side; peer: number; key: string } | undefined {
  const peer = field('P');
  const [inId, outId] = [field('I'), field('O')];
  const side: Side | undefined = inId !== undefined ? 'in' : outId !== undefined ? 'out' : undefined;
  if (peer === undefined || side === undefined) return undefined;
  // rmc's loggers keep S (pkg/process/sync/service.go:66), gossip's and fetch's do not.
  return { side, peer, key: `${field('S') ?? ''}|${side}${peer}:${side === 'in' ? inId : outId}` };
}

/**
 * Which service a K line closes, from its fields: gossip out logs U, F, V
 * (gossip/protocol.go:267), gossip in U, V, G (:140), fetch out V (fetch/protocol.go:86),
 * fetch in U (:46); rmc logs none (rmc/protocol.go:110,191).
 */
function serviceOfCompletion(field: Field, side: Side): SyncService {
  if (field('F') !== undefined || field('G') !== undefined) return 'gossip';
  if ((side === 'out' && field('V') !== undefined) || (side === 'in' && field('U') !== undefined)) return 'fetch';
  return 'rmc';
}

/** "fetch.out.receivePreunits" → fetch, out. */
function whereOf(r: Record<string, unknown>): { service: string; side: string | undefined; step: string } | undefined {
  const where = typeof r.where === 'string' ? r.where : typeof r.addUnit === 'string' ? r.addUnit : undefined;
  if (where === undefined) return undefined;
  const [service = '', side, ...rest] = where.split('.');
  return { service, side, step: rest.join('.') };
}

const isSync = (s: string | undefined): s is SyncService => s === 'gossip' || s === 'fetch' || s === 'rmc';

function startSession(
  s: ProtocolStats,
  key: string,
  side: Side,
  peer: number,
  t: number,
  service: SyncService | undefined,
) {
  if (s.openCount >= MAX_OPEN) return;
  const list = s.open.get(key) ?? [];
  list.push({
    service,
    side,
    peer,
    startT: t,
    completedT: undefined,
    errored: false,
    unitsSent: 0,
    unitsReceived: 0,
    duplicates: 0,
    unknownParents: 0,
    missingParents: 0,
    additionalExchanges: 0,
  });
  s.open.set(key, list);
  s.openCount++;
  if (service === undefined) s.unclassified++;
}

/** The first line that tells a session's service sets it; later ones do not change it. */
function classify(s: ProtocolStats, o: OpenSession, service: SyncService) {
  if (o.service !== undefined) return;
  o.service = service;
  s.unclassified--;
}

/** The open session a line belongs to: one with that service, else the oldest not yet told, else the oldest. */
function pick(list: OpenSession[], service: SyncService | undefined): OpenSession | undefined {
  return (service && list.find((o) => o.service === service)) || list.find((o) => o.service === undefined) || list[0];
}

/** Moves a finished (or, at the end, still open) session into its service's tally. */
function tallySession(s: ProtocolStats, o: OpenSession, closed: boolean) {
  if (o.service === undefined) s.unattributedSessions++;
  else addSession(s.sessions[o.service][o.side], o, closed, (counts, k) => count(s, counts, k));
}

function addSession(
  t: SessionTally,
  o: OpenSession,
  closed: boolean,
  countIn: (counts: Counts, k: number) => void = bump,
) {
  t.started++;
  if (o.completedT !== undefined) {
    t.completed++;
    countIn(t.durationsMs, o.completedT - o.startT);
  } else if (closed || o.errored) t.failed++;
  t.unitsSent += o.unitsSent;
  t.unitsReceived += o.unitsReceived;
  t.duplicates += o.duplicates;
  t.unknownParents += o.unknownParents;
  t.missingParents += o.missingParents;
  t.additionalExchanges += o.additionalExchanges;
}

function addBytes(b: Bytes, field: Field) {
  b.sent += field('U') ?? 0;
  b.received += field('V') ?? 0;
}

export function addProtocolLine(s: ProtocolStats, line: string): void {
  if (line.length > MAX_LINE || s.overflow) return;
  const event = eventOf(line);
  if (event === undefined) return;
  // zerolog starts every line with the level: {"L":"3",… an error, {"L":"0",… debug.
  const level = line.startsWith('{"L":"') ? line.charCodeAt(6) - 48 : undefined;
  const isError = level === 3;
  const firstDebug = level === 0 && s.unclassified > 0 && FIRST_DEBUG[event] !== undefined;
  if (!WANTED.has(event) && !isError && !firstDebug) return;
  if (isError) {
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const field: Field = (key) => num(r[key]);
    const session = sessionOf(field);
    return addError(s, r, session, session && s.open.get(session.key));
  }
  readInts(line);
  const field = readField;
  const t = field('T') ?? 0;
  const session = sessionOf(field);
  const list = session && s.open.get(session.key);
  const serviceField = SERVICE_BY_NUMBER[field('S') ?? -1];

  if (firstDebug) {
    const kind = FIRST_DEBUG[event]!;
    const o = list?.find((x) => x.service === undefined);
    if (o && kind.side === o.side) classify(s, o, kind.service);
    return;
  }
  switch (event) {
    case 'C':
    case 'D': {
      s.unitsCreated++;
      if (event === 'D') s.primeUnitsCreated++;
      const parents = field('A');
      if (parents !== undefined) count(s, s.parents, parents);
      if (s.lastCreatedT !== undefined) count(s, s.creationIntervalsMs, t - s.lastCreatedT);
      s.lastCreatedT = t;
      break;
    }
    case 'I':
      s.failedCreationAttempts++;
      break;
    case 'E': {
      s.timingUnits++;
      const [decidedOn, round, top] = [field('H'), field('R'), field('N')];
      if (decidedOn !== undefined && round !== undefined) count(s, s.decisionDepth, decidedOn - round);
      if (decidedOn !== undefined && top !== undefined) count(s, s.levelsAboveDecision, top - decidedOn);
      break;
    }
    case 'J':
      if (session)
        startSession(s, session.key, session.side, session.peer, t, serviceField === 'rmc' ? 'rmc' : undefined);
      break;
    case 'K': {
      if (!session) break;
      const service = serviceOfCompletion(field, session.side);
      const o = list && pick(list, service);
      if (!o) break;
      classify(s, o, service);
      o.completedT = t;
      o.unitsSent += (field('U') ?? 0) + (field('F') ?? 0);
      o.unitsReceived += (field('V') ?? 0) + (field('G') ?? 0);
      break;
    }
    case 'R': {
      const o = list && pick(list, 'gossip'); // only gossip has an additional exchange
      if (o) o.additionalExchanges++;
      break;
    }
    case 'V':
    case 'f': {
      const missing = event === 'f' ? (field('N') ?? 0) : 0;
      if (session) {
        // Units are added at the end of a session, so when two share a key (rare) the older one
        // still running is the one adding; never a fetch server's, which adds nothing (fetch/protocol.go:10-47).
        const adders = list?.filter((x) => !(x.service === 'fetch' && x.side === 'in')) ?? [];
        const o = adders.find((x) => x.completedT === undefined && !x.errored) ?? adders[adders.length - 1];
        if (!o) break;
        if (event === 'V') o.duplicates++;
        else (o.unknownParents++, (o.missingParents += missing));
      } else if (field('S') === undefined) {
        // No session fields and no S: the multicast server's own logger (multicast/protocol.go:23); its g follows.
        if (event === 'V') s.multicast.duplicates++;
        else (s.multicast.unknownParents++, (s.multicast.missingParents += missing));
      }
      break;
    }
    case 'X': {
      if (session) {
        const o = list && (list.find((x) => x.completedT !== undefined || x.errored) ?? list[0]);
        if (o) {
          list!.splice(list!.indexOf(o), 1);
          if (!list!.length) s.open.delete(session.key);
          s.openCount--;
          if (o.service === undefined) s.unclassified--;
          tallySession(s, o, true);
          if (o.service) {
            addBytes(s.bytes[o.service], field);
            const pid = committeePeer(s, o.peer);
            if (pid === undefined) break;
            const peer = s.peerBytes[o.service].get(pid) ?? { sent: 0, received: 0 };
            addBytes(peer, field);
            s.peerBytes[o.service].set(pid, peer);
            break;
          }
        }
        addBytes(s.unattributedBytes, field);
      } else if (
        serviceField === 'gossip' ||
        serviceField === 'fetch' ||
        serviceField === 'rmc' ||
        serviceField === 'multicast'
      ) {
        // Closed before any session logger was set (refused, greeting failed) or multicast, which never sets one.
        addBytes(s.bytes[serviceField], field);
        if (serviceField !== 'multicast') s.closedBeforeSession[serviceField]++;
      } else addBytes(s.unattributedBytes, field);
      break;
    }
    case 'G':
      if (
        serviceField === 'gossip' ||
        serviceField === 'fetch' ||
        serviceField === 'rmc' ||
        serviceField === 'multicast'
      )
        s.connectionsAccepted[serviceField]++;
      break;
    case 'e':
      s.multicast.unitsBroadcast++;
      break;
    case 'g': {
      s.multicast.unitsHandled++;
      const from = field('C');
      const pid = from === undefined ? undefined : committeePeer(s, from);
      if (pid !== undefined) bump(s.multicastFrom, pid);
      break;
    }
    case 'h':
      s.retrying.addedToBacklog++;
      break;
    case 'i':
      s.retrying.removedFromBacklog++;
      break;
  }
}

function addError(
  s: ProtocolStats,
  r: Record<string, unknown>,
  session: ReturnType<typeof sessionOf>,
  list: OpenSession[] | undefined,
) {
  if (r.E === 'k') return void s.fallbackUnresolved++; // level 3, pkg/sync/fallback.go:20
  const where = whereOf(r);
  if (!where) return;
  if (r.where === 'dag.AddUnit callback') return void s.creationAddFailed++; // create/service.go:159
  if (session && list) {
    const o = pick(list, isSync(where.service) ? where.service : undefined);
    if (o) {
      if (isSync(where.service)) classify(s, o, where.service);
      o.errored = true;
    }
    return;
  }
  if (isSync(where.service) && (where.side === 'in' || where.side === 'out')) {
    // Before the session's J: dialing or the greeting (gossip/protocol.go:34,169,178; fetch/protocol.go:19,57,66; rmc/protocol.go:26,120,127).
    if (/^(dial|greeting|Dial|Greet|AcceptGreeting)$/.test(where.step))
      s.sessions[where.service][where.side].failedBeforeStart++;
    return;
  }
  if (where.service === 'multicast') {
    // "multicast.in.listen" is an accept timeout while idle, not a lost unit.
    if (where.side === 'out') s.multicast.broadcastFailed++;
    else if (where.side === 'in' && where.step !== 'listen') s.multicast.receiveFailed++;
  }
}

// ---------------------------------------------------------------------------
// Figures: plain JSON.

/** count, mean, median (midpoint for an even count), p90 (nearest rank), max. */
export interface Summary {
  count: number;
  mean: number;
  median: number;
  p90: number;
  max: number;
}

/** Value → how many times, keys as strings (JSON). */
type Histogram = Record<string, number>;

export interface SessionFigures {
  /** started + failedBeforeStart = completed + failed + unfinished. */
  attempts: number;
  started: number;
  completed: number;
  failed: number;
  failedBeforeStart: number;
  /** Started, neither completed nor closed when the log ends. */
  unfinished: number;
  /** J to K of completed sessions. */
  durationMs: Summary | undefined;
  unitsSent: number;
  unitsReceived: number;
  duplicates: number;
  unknownParents: number;
  missingParents: number;
  additionalExchanges: number;
}

interface SyncServiceFigures {
  in: SessionFigures;
  out: SessionFigures;
  connectionsAccepted: number;
  /**
   * Connections closed before a session began, mostly incoming ones gossip refuses
   * because it is already syncing with that peer (gossip/protocol.go:41-44): the
   * peer's outgoing session then fails reading the dag info (EOF).
   */
  closedBeforeSession: number;
  bytesSent: number;
  bytesReceived: number;
}

interface MulticastFigures {
  unitsBroadcast: number;
  broadcastFailed: number;
  /** Units that reached this node: g lines + receiveFailed. */
  unitsReceived: number;
  /** Received units that went into the dag: g lines less duplicates and unknown parents. */
  unitsAdded: number;
  duplicates: number;
  unknownParents: number;
  missingParents: number;
  receiveFailed: number;
  connectionsAccepted: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface NodeProtocolFigures {
  unitsCreated: number;
  primeUnitsCreated: number;
  parentsPerUnit: { mean: number; histogram: Histogram } | undefined;
  creationIntervalMs: Summary | undefined;
  failedCreationAttempts: number;
  creationAddFailed: number;
  timingUnits: number;
  /** H − R of each timing unit: levels above it at which it was decided. */
  decisionDepth: { mean: number; histogram: Histogram } | undefined;
  /** N − H: how far the dag already was above the deciding level. */
  levelsAboveDecision: { mean: number; histogram: Histogram } | undefined;
  gossip: SyncServiceFigures;
  fetch: SyncServiceFigures;
  rmc: SyncServiceFigures;
  multicast: MulticastFigures;
  retrying: { addedToBacklog: number; removedFromBacklog: number };
  fallbackUnresolved: number;
  unattributedSessions: number;
  unattributedBytes: { sent: number; received: number };
}

/** Summary of a value→count histogram. */
export function summarize(counts: Counts): Summary | undefined {
  const sorted = [...counts].filter(([, c]) => c > 0).sort((a, b) => a[0] - b[0]);
  const count = sorted.reduce((a, [, c]) => a + c, 0);
  if (count === 0) return undefined;
  // The value at 1-based rank k.
  const at = (k: number) => {
    let seen = 0;
    for (const [v, c] of sorted) if ((seen += c) >= k) return v;
    return sorted[sorted.length - 1]![0];
  };
  const median = count % 2 ? at((count + 1) / 2) : (at(count / 2) + at(count / 2 + 1)) / 2;
  return {
    count,
    mean: sorted.reduce((a, [v, c]) => a + v * c, 0) / count,
    median,
    p90: at(Math.max(1, Math.ceil(0.9 * count))),
    max: sorted[sorted.length - 1]![0],
  };
}

const histogram = (counts: Counts): { mean: number; histogram: Histogram } | undefined => {
  const sum = summarize(counts);
  return (
    sum && {
      mean: sum.mean,
      histogram: Object.fromEntries([...counts].sort((a, b) => a[0] - b[0]).map(([v, c]) => [String(v), c])),
    }
  );
};

/** A service side's tally with the sessions still open at the end added (they count as started). */
function finalTally(s: ProtocolStats, service: SyncService, side: Side): SessionTally & { unfinished: number } {
  const t = {
    ...s.sessions[service][side],
    durationsMs: new Map(s.sessions[service][side].durationsMs),
    unfinished: 0,
  };
  for (const list of s.open.values())
    for (const o of list)
      if (o.service === service && o.side === side) {
        addSession(t, o, false);
        if (o.completedT === undefined && !o.errored) t.unfinished++;
      }
  return t;
}

function sessionFigures(t: SessionTally & { unfinished: number }): SessionFigures {
  return {
    attempts: t.started + t.failedBeforeStart,
    started: t.started,
    completed: t.completed,
    failed: t.failed + t.failedBeforeStart,
    failedBeforeStart: t.failedBeforeStart,
    unfinished: t.unfinished,
    durationMs: summarize(t.durationsMs),
    unitsSent: t.unitsSent,
    unitsReceived: t.unitsReceived,
    duplicates: t.duplicates,
    unknownParents: t.unknownParents,
    missingParents: t.missingParents,
    additionalExchanges: t.additionalExchanges,
  };
}

const syncFigures = (s: ProtocolStats, service: SyncService): SyncServiceFigures => ({
  in: sessionFigures(finalTally(s, service, 'in')),
  out: sessionFigures(finalTally(s, service, 'out')),
  connectionsAccepted: s.connectionsAccepted[service],
  closedBeforeSession: s.closedBeforeSession[service],
  bytesSent: s.bytes[service].sent,
  bytesReceived: s.bytes[service].received,
});

export function protocolFigures(s: ProtocolStats): NodeProtocolFigures {
  const m = s.multicast;
  let openUnattributed = 0;
  for (const list of s.open.values()) openUnattributed += list.filter((o) => o.service === undefined).length;
  return {
    unitsCreated: s.unitsCreated,
    primeUnitsCreated: s.primeUnitsCreated,
    parentsPerUnit: histogram(s.parents),
    creationIntervalMs: summarize(s.creationIntervalsMs),
    failedCreationAttempts: s.failedCreationAttempts,
    creationAddFailed: s.creationAddFailed,
    timingUnits: s.timingUnits,
    decisionDepth: histogram(s.decisionDepth),
    levelsAboveDecision: histogram(s.levelsAboveDecision),
    gossip: syncFigures(s, 'gossip'),
    fetch: syncFigures(s, 'fetch'),
    rmc: syncFigures(s, 'rmc'),
    multicast: {
      unitsBroadcast: m.unitsBroadcast,
      broadcastFailed: m.broadcastFailed,
      unitsReceived: m.unitsHandled + m.receiveFailed,
      unitsAdded: m.unitsHandled - m.duplicates - m.unknownParents,
      duplicates: m.duplicates,
      unknownParents: m.unknownParents,
      missingParents: m.missingParents,
      receiveFailed: m.receiveFailed,
      connectionsAccepted: s.connectionsAccepted.multicast,
      bytesSent: s.bytes.multicast.sent,
      bytesReceived: s.bytes.multicast.received,
    },
    retrying: { ...s.retrying },
    fallbackUnresolved: s.fallbackUnresolved,
    unattributedSessions: s.unattributedSessions + openUnattributed,
    unattributedBytes: { ...s.unattributedBytes },
  };
}

/** One node's bytes on one service: written to its connections (counted as sent) and read from them. */
export interface NodeServiceBytes {
  service: TrafficService | 'unattributed';
  written: number;
  read: number;
}

/**
 * One node's bytes by service, each connection-closed line counted once, on the
 * service its session was found to be (the traffic table's attribution): over the
 * nodes, written adds up to the table's sent and read to its delivered. Bytes no
 * service was found for are their own entry, so a node's entries add up to its X lines.
 */
export function nodeBytesByService(f: NodeProtocolFigures): NodeServiceBytes[] {
  const all: NodeServiceBytes[] = [
    ...(['gossip', 'fetch', 'multicast', 'rmc'] as const).map((service) => ({
      service,
      written: f[service].bytesSent,
      read: f[service].bytesReceived,
    })),
    { service: 'unattributed', written: f.unattributedBytes.sent, read: f.unattributedBytes.received },
  ];
  return all.filter((b) => b.written > 0 || b.read > 0);
}

// ---------------------------------------------------------------------------
// The run: sums over nodes, distributions pooled, medians over nodes.

interface ProtocolNode {
  label: string;
  /** gomel's process id (node<k> is pid k − 1): needed to match what one node sent with what the others got. */
  pid?: number;
  stats: ProtocolStats | undefined;
}

/** A per-node count over the nodes with a log: total, and median (midpoint for an even count), min, max per node. */
interface CountOverNodes {
  total: number;
  median: number;
  min: number;
  max: number;
}

type TrafficService = SyncService | 'multicast';

/**
 * Honest traffic of one service. gomel counts a connection's bytes as sent when
 * they are written to its buffer (pkg/network/tcp/connection.go:43-58), flushed or
 * not, and as received when they are read (:37-41): what one node counts as sent
 * and no peer read was never delivered.
 */
interface ServiceTraffic {
  service: TrafficService;
  bytesSent: number;
  /** Bytes the peers read on this service's connections (all nodes' received). */
  bytesReceived: number;
  deliveredPercent: number | undefined;
  /** Multicast only: units sent (e) and units the peers got from their creator (g). */
  unitsSent?: number;
  unitsDelivered?: number;
  /**
   * Per node, when every node's pid is known: bytes it wrote on sessions with its
   * peers, and bytes those peers read on their side of the same sessions (for
   * multicast: units, since its connection lines name no peer).
   */
  perNode?: { label: string; sent: number; delivered: number; deliveredPercent: number | undefined }[];
}

/** The run: the nodes' figures merged, per-node counts summed with their spread over the nodes. */
export interface RunProtocolFigures extends Omit<
  NodeProtocolFigures,
  'unitsCreated' | 'primeUnitsCreated' | 'failedCreationAttempts' | 'timingUnits'
> {
  /** Nodes with a log. */
  nodes: number;
  unitsCreated: CountOverNodes;
  /** Median over nodes of each node's median creation interval. */
  creationIntervalMsNodeMedian: number | undefined;
  failedCreationAttempts: CountOverNodes;
  timingUnits: CountOverNodes;
  traffic: ServiceTraffic[];
  /** Large gaps and failure rates, in words (trafficFlags). */
  flags: string[];
  perNode: ({ label: string } & NodeProtocolFigures)[];
}

const countOver = (values: number[]): CountOverNodes => ({
  total: values.reduce((a, v) => a + v, 0),
  median: median(values) ?? 0,
  min: minOf(values) ?? 0,
  max: maxOf(values) ?? 0,
});
const percent = (part: number, whole: number) => (whole > 0 ? (100 * part) / whole : undefined);

function mergeCounts(all: Counts[]): Counts {
  const out: Counts = new Map();
  for (const c of all) for (const [v, n] of c) bump(out, v, n);
  return out;
}

function mergeTallies(all: (SessionTally & { unfinished: number })[]): SessionTally & { unfinished: number } {
  const t = { ...newTally(), unfinished: 0 };
  for (const x of all) {
    for (const k of [
      'started',
      'completed',
      'failed',
      'failedBeforeStart',
      'unitsSent',
      'unitsReceived',
      'duplicates',
      'unknownParents',
      'missingParents',
      'additionalExchanges',
      'unfinished',
    ] as const)
      t[k] += x[k];
    for (const [v, n] of x.durationsMs) bump(t.durationsMs, v, n);
  }
  return t;
}

const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);

export function mergeProtocolStats(nodes: readonly ProtocolNode[]): RunProtocolFigures {
  const logged = nodes.filter(
    (n): n is ProtocolNode & { stats: ProtocolStats } => n.stats !== undefined && !n.stats.overflow,
  );
  const stats = logged.map((n) => n.stats);
  const perNode = logged.map((n) => ({ label: n.label, ...protocolFigures(n.stats) }));
  const syncRun = (service: SyncService): SyncServiceFigures => ({
    in: sessionFigures(mergeTallies(stats.map((s) => finalTally(s, service, 'in')))),
    out: sessionFigures(mergeTallies(stats.map((s) => finalTally(s, service, 'out')))),
    connectionsAccepted: sum(stats, (s) => s.connectionsAccepted[service]),
    closedBeforeSession: sum(stats, (s) => s.closedBeforeSession[service]),
    bytesSent: sum(stats, (s) => s.bytes[service].sent),
    bytesReceived: sum(stats, (s) => s.bytes[service].received),
  });
  const mc = perNode.map((n) => n.multicast);
  const multicast = Object.fromEntries(
    (Object.keys(mc[0] ?? protocolFigures(newProtocolStats()).multicast) as (keyof MulticastFigures)[]).map((k) => [
      k,
      sum(mc, (m) => m[k]),
    ]),
  ) as unknown as MulticastFigures;
  const intervalMedians = perNode.map((n) => n.creationIntervalMs?.median).filter((m): m is number => m !== undefined);
  const run: RunProtocolFigures = {
    nodes: logged.length,
    unitsCreated: countOver(stats.map((s) => s.unitsCreated)),
    parentsPerUnit: histogram(mergeCounts(stats.map((s) => s.parents))),
    creationIntervalMs: summarize(mergeCounts(stats.map((s) => s.creationIntervalsMs))),
    creationIntervalMsNodeMedian: median(intervalMedians),
    failedCreationAttempts: countOver(stats.map((s) => s.failedCreationAttempts)),
    creationAddFailed: sum(stats, (s) => s.creationAddFailed),
    timingUnits: countOver(stats.map((s) => s.timingUnits)),
    decisionDepth: histogram(mergeCounts(stats.map((s) => s.decisionDepth))),
    levelsAboveDecision: histogram(mergeCounts(stats.map((s) => s.levelsAboveDecision))),
    gossip: syncRun('gossip'),
    fetch: syncRun('fetch'),
    rmc: syncRun('rmc'),
    multicast,
    retrying: {
      addedToBacklog: sum(stats, (s) => s.retrying.addedToBacklog),
      removedFromBacklog: sum(stats, (s) => s.retrying.removedFromBacklog),
    },
    fallbackUnresolved: sum(stats, (s) => s.fallbackUnresolved),
    unattributedSessions: sum(perNode, (n) => n.unattributedSessions),
    unattributedBytes: {
      sent: sum(stats, (s) => s.unattributedBytes.sent),
      received: sum(stats, (s) => s.unattributedBytes.received),
    },
    traffic: serviceTraffic(logged),
    flags: [],
    perNode,
  };
  run.flags = [...boundFlags(nodes), ...trafficFlags(run)];
  return run;
}

/** What the figures leave out of forged or foreign logs (hostile pass B8): a line each, whatever N. */
function boundFlags(nodes: readonly ProtocolNode[]): string[] {
  const flags: string[] = [];
  const over = nodes.filter((n) => n.stats?.overflow);
  if (over.length)
    flags.push(
      `left out of the protocol figures: ${someNames(over.map((n) => n.label))} — more than ${over[0]!.stats!.maxValues} distinct values (parents, intervals, durations, depths) in a log, where gomel's hold a few hundred`,
    );
  const outside = nodes.filter((n) => n.stats && !n.stats.overflow && n.stats.outsidePeers > 0);
  if (outside.length)
    flags.push(
      `${sum(outside, (n) => n.stats!.outsidePeers)} line(s) of ${someNames(outside.map((n) => n.label))} name a peer outside the ${outside[0]!.stats!.peers}-node committee: not counted per peer`,
    );
  return flags;
}

function serviceTraffic(logged: (ProtocolNode & { stats: ProtocolStats })[]): ServiceTraffic[] {
  const pids = logged.every((n) => n.pid !== undefined);
  const byPid = new Map(logged.map((n) => [n.pid, n.stats]));
  // Bytes node `from` wrote to `to` on a service's sessions, and what `to` read of them.
  const perNode = (sent: (s: ProtocolStats) => number, delivered: (pid: number) => number) =>
    pids
      ? logged.map((n) =>
          ((sentBytes, got) => ({
            label: n.label,
            sent: sentBytes,
            delivered: got,
            deliveredPercent: percent(got, sentBytes),
          }))(sent(n.stats), delivered(n.pid!)),
        )
      : undefined;
  const services: TrafficService[] = ['gossip', 'fetch', 'multicast', 'rmc'];
  return services
    .map((service): ServiceTraffic => {
      const bytesSent = sum(logged, (n) => n.stats.bytes[service].sent);
      const bytesReceived = sum(logged, (n) => n.stats.bytes[service].received);
      const t: ServiceTraffic = {
        service,
        bytesSent,
        bytesReceived,
        deliveredPercent: percent(bytesReceived, bytesSent),
      };
      if (service === 'multicast') {
        t.unitsSent = sum(logged, (n) => n.stats.multicast.unitsBroadcast);
        t.unitsDelivered = sum(logged, (n) => sum([...n.stats.multicastFrom.values()], (c) => c));
        const nodes = perNode(
          (s) => s.multicast.unitsBroadcast,
          (pid) => sum([...byPid.values()], (s) => s.multicastFrom.get(pid) ?? 0),
        );
        if (nodes) t.perNode = nodes;
      } else {
        const nodes = perNode(
          (s) => sum([...s.peerBytes[service].values()], (b) => b.sent),
          (pid) =>
            sum([...byPid.entries()], ([peerPid, s]) =>
              peerPid === pid ? 0 : (s.peerBytes[service].get(pid)?.received ?? 0),
            ),
        );
        if (nodes) t.perNode = nodes;
      }
      return t;
    })
    .filter((t) => t.bytesSent > 0 || t.bytesReceived > 0 || (t.unitsSent ?? 0) > 0);
}

const pct = (p: number) => `${p < 1 ? p.toFixed(2) : p < 10 ? p.toFixed(1) : p.toFixed(0)} %`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
/** Below these a failure rate or a gap says little (a few sessions while peers start and stop). */
const MIN_ATTEMPTS = 20;
const MIN_GAP_BYTES = 100_000;

/** What each service side is called in words: fetch's outgoing sessions are its requests. */
const SIDE_NAMES: Record<SyncService, Record<Side, string>> = {
  gossip: { out: 'outgoing sessions', in: 'incoming sessions' },
  fetch: { out: 'requests', in: 'requests served' },
  rmc: { out: 'outgoing sessions', in: 'incoming sessions' },
};

/**
 * The traffic and failure findings worth a sentence: a service side where under
 * half of the attempts completed, and a service whose peers read under 90 % of
 * the bytes counted as sent. Fetch gets its cause when the figures show it: the
 * server completes (K) but the requesters read next to nothing, because
 * fetch/protocol.go:41-46 writes the reply and returns, and Close
 * (pkg/network/tcp/connection.go:64-68) closes the link without flushing.
 */
function trafficFlags(run: RunProtocolFigures): string[] {
  const flags: string[] = [];
  const fetchTraffic = run.traffic.find((t) => t.service === 'fetch');
  const fetchUnflushed =
    run.fetch.in.completed > 0 && fetchTraffic !== undefined && (fetchTraffic.deliveredPercent ?? 100) < 50;
  for (const service of SYNC_SERVICES)
    for (const side of ['out', 'in'] as const) {
      const f = run[service][side];
      if (f.attempts < MIN_ATTEMPTS || f.completed >= f.attempts / 2) continue;
      const cause =
        service === 'fetch' && side === 'out' && fetchUnflushed
          ? " — gomel's fetch server does not flush its reply, so requesters read EOF"
          : '';
      flags.push(
        `${service}: ${f.completed} of ${f.attempts} ${SIDE_NAMES[service][side]} completed (${pct(percent(f.completed, f.attempts)!)})${cause}`,
      );
    }
  const m = run.multicast;
  if (m.unitsBroadcast + m.broadcastFailed >= MIN_ATTEMPTS && m.broadcastFailed > m.unitsBroadcast)
    flags.push(
      `multicast: ${m.unitsBroadcast} of ${m.unitsBroadcast + m.broadcastFailed} units sent (${pct(percent(m.unitsBroadcast, m.unitsBroadcast + m.broadcastFailed)!)})`,
    );
  for (const t of run.traffic) {
    if (t.deliveredPercent === undefined || t.deliveredPercent >= 90 || t.bytesSent - t.bytesReceived < MIN_GAP_BYTES)
      continue;
    const cause = t.service === 'fetch' && fetchUnflushed ? ' (replies written but never flushed)' : '';
    flags.push(
      `${t.service}: ${mb(t.bytesSent)} counted as sent, ${mb(t.bytesReceived)} read by peers (${pct(t.deliveredPercent)})${cause}`,
    );
  }
  if (run.unattributedBytes.sent + run.unattributedBytes.received > 0)
    flags.push(
      `${mb(run.unattributedBytes.sent)} sent and ${mb(run.unattributedBytes.received)} received on connections no service could be found for`,
    );
  return flags;
}

/** One flat record per node for tables and JSON: plain names like fetchRequestsFailed, creationIntervalMsMedian. */
export function flatProtocolFigures(f: NodeProtocolFigures): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {
    unitsCreated: f.unitsCreated,
    primeUnitsCreated: f.primeUnitsCreated,
    parentsPerUnitMean: f.parentsPerUnit?.mean,
    creationIntervalMsMedian: f.creationIntervalMs?.median,
    creationIntervalMsP90: f.creationIntervalMs?.p90,
    failedCreationAttempts: f.failedCreationAttempts,
    timingUnits: f.timingUnits,
    decisionDepthMean: f.decisionDepth?.mean,
    decisionDepthMax: f.decisionDepth ? maxOf(Object.keys(f.decisionDepth.histogram).map(Number)) : undefined,
  };
  const sideNames: Record<SyncService, Record<Side, string>> = {
    gossip: { out: 'gossipSessionsOut', in: 'gossipSessionsIn' },
    fetch: { out: 'fetchRequests', in: 'fetchServed' },
    rmc: { out: 'rmcSessionsOut', in: 'rmcSessionsIn' },
  };
  for (const service of SYNC_SERVICES) {
    for (const side of ['out', 'in'] as const) {
      const s = f[service][side];
      const name = sideNames[service][side];
      Object.assign(out, {
        [name]: s.attempts,
        [`${name}Completed`]: s.completed,
        [`${name}Failed`]: s.failed,
        [`${name}DurationMsMedian`]: s.durationMs?.median,
        [`${name}DurationMsP90`]: s.durationMs?.p90,
        [`${name}Duplicates`]: s.duplicates,
        [`${name}UnknownParents`]: s.unknownParents,
      });
    }
    Object.assign(out, {
      [`${service}ClosedBeforeSession`]: f[service].closedBeforeSession,
      [`${service}BytesSent`]: f[service].bytesSent,
      [`${service}BytesReceived`]: f[service].bytesReceived,
    });
  }
  const m = f.multicast;
  Object.assign(out, {
    multicastUnitsSent: m.unitsBroadcast,
    multicastSendFailed: m.broadcastFailed,
    multicastUnitsReceived: m.unitsReceived,
    multicastDuplicates: m.duplicates,
    multicastUnknownParents: m.unknownParents,
    multicastBytesSent: m.bytesSent,
    multicastBytesReceived: m.bytesReceived,
  });
  return out;
}
