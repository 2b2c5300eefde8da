// The fault plan of issue 24 (item 1): which nodes crash, stop, pause, lose peers
// or CPU, and when — times after the common start every node shares
// (start_together in templates/node-lib.sh). Pure: parses and checks a plan, and
// turns it into each node's schedule, which the node applies to its own gomel
// (templates/faults.sh). The node applies it, not the manager, because the
// manager's engine cannot reach the containers of a worker host.
//
// Short form, events separated by ";", nodes numbered as in --zones (7, 1-4, node3):
//   crash:7,8@3s                SIGKILL gomel (faulty)
//   stop:2@5s                   SIGTERM gomel (faulty)
//   pause:2@2s-12s              SIGSTOP, SIGCONT at the end (correct but delayed; no end: faulty)
//   partition:1-4|5-8@3s-15s    no traffic between the groups, both ways, healed at the end
//   isolate:3@4s-9s             the listed nodes cut off from all others (no end: faulty)
//   slow:3@0s-20s,cpu=0.2       gomel runs 20 ms of every 100 ms (no end: "slowed for good", faulty)
//   restart:7@20s               gomel started again with the same key, after a crash or stop of node 7
//   random:K                    K crashes, nodes and times drawn from the seed (randomCrashes)
//   mute:7@3s-10s               gomel runs and hears its peers, and nothing it sends reaches them (no end: faulty)
//   selective:3@2s,to=1-4       node 3 talks only to nodes 1-4, and is mute to the others (no end: faulty)
//   twin:3                      Byzantine (issue 34): node 3 runs as two instances with one key from the
//                               start, each reachable by one half of the other nodes (twinGroups); no time
//   twin:3,groups=1-4|5-8       the same, naming the halves (node 3 itself, if named, is left out)
// Times: 250ms, 3s, 1.5s, 2m, 1h (at most 24 h); "0" is the start.
// Refused as no node could carry it out (issue 30): a cut that cuts nobody off (every node isolated,
// or a side all down for good), a node's schedule over one environment string (MAX_ARG_STRLEN), a
// plan over FAULT_RECORD_MAX_BYTES of JSON (a label of every service).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { InputError, UsageError } from '../errors.js';
import { checkJson, inputFail, parseJsonText, readJsonAs } from '../json-input.js';
import { envStringBytes, MAX_ENV_STRING_BYTES, NODE_ENV } from '../deploy/node-contract.js';
import { someNames } from '../logs/logs-folder.js';

export { parseFaultsLog, type FaultLogEvent, type FaultLogProblem, type FaultsLog } from './log.js';

export type FaultKind =
  'crash' | 'stop' | 'pause' | 'partition' | 'isolate' | 'slow' | 'restart' | 'mute' | 'selective' | 'twin';
const KIND_NAMES = [
  'crash',
  'stop',
  'pause',
  'partition',
  'isolate',
  'slow',
  'restart',
  'mute',
  'selective',
  'twin',
] as const;
const KINDS: readonly FaultKind[] = KIND_NAMES;
const INSTANT: ReadonlySet<FaultKind> = new Set(['crash', 'stop', 'restart']);
/** Windows that act on gomel's process: they cannot overlap the node being down. */
const PROCESS_WINDOW: ReadonlySet<FaultKind> = new Set(['pause', 'slow']);

export interface FaultEvent {
  kind: FaultKind;
  /** Node numbers (1-based, node<k>), ascending; a partition's: every node of its groups; a twin's: the twinned node. */
  nodes: number[];
  /**
   * partition: its groups, each ascending. twin: the other nodes in two groups, the first reaching
   * the node's own service (node<k>), the second its twin (twinName: node<k>-twin).
   */
  groups?: number[][];
  /** ms after the common start. */
  atMs: number;
  /** The end of a window; absent for crash/stop/restart, and for a pause, isolate or slow "for good". */
  untilMs?: number;
  /** slow only: the fraction of each 100 ms that gomel runs (0 < cpu < 1). */
  cpu?: number;
  /** selective only: the nodes it still talks to (ascending); it is mute to every other. */
  to?: number[];
  /** The event as written ("crash:7,8@3s", "[2]" in a JSON file, "random:2"): what errors name. */
  source: string;
  /** Drawn by random:K (this K) from the plan's seed. */
  random?: number;
}

export interface FaultPlan {
  /** Committee size. */
  n: number;
  /** Host names in pid order (node1..nodeN). */
  hosts: string[];
  /** In time order (stable: events at one moment keep the plan's order). */
  events: FaultEvent[];
  /** The seed random:K drew from, when it did. */
  seed?: string;
}

const DAY_MS = 24 * 3600 * 1000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export type Fail = (problem: string) => Error;

/** "3s", "1.5s", "250ms", "2m", "0" → ms after the start (rounded to 1 ms, at most 24 h). */
function parseTime(text: string, fail: Fail): number {
  const t = text.trim();
  if (t === '0') return 0;
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)$/.exec(t);
  if (!m) throw fail(`"${t}" is not a time; give e.g. 3s, 1.5s, 250ms or 2m after the common start`);
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
  if (ms > DAY_MS) throw fail(`${t} is more than 24 h after the start`);
  return ms;
}

/**
 * "7,8", "1-4", "node3", "1-2,node5" → ascending node numbers, each once. `hosts`
 * undefined: the committee is not known yet (gomelctl fault, before it asks the
 * engine), so only the form is checked, and nothing is returned.
 */
export function parseNodeList(text: string, hosts: readonly string[] | undefined, fail: Fail): number[] {
  const n = hosts?.length;
  const out: number[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    if (m) {
      const from = Number(m[1]);
      const to = Number(m[2] ?? m[1]);
      if (from < 1 || to < from) throw fail(`"${item}" is not a node number or range of nodes from 1`);
      if (n === undefined) continue;
      if (to > n) throw fail(`node ${to} is not in the ${n}-node committee (nodes 1..${n})`);
      for (let k = from; k <= to; k++) out.push(k);
    } else if (item !== '' && (hosts ? hosts.includes(item) : HOST_NAME.test(item))) {
      if (hosts) out.push(hosts.indexOf(item) + 1);
    } else {
      throw fail(
        `"${item}" is not a node; give a number ${n ? `1..${n}` : 'from 1'}, a range like 1-4, or a name like ${hosts?.[0] ?? 'node1'}`,
      );
    }
  }
  const twice = out.find((k, i) => out.indexOf(k) !== i);
  if (twice !== undefined) throw fail(`node ${twice} is named twice`);
  return out.sort((a, b) => a - b);
}

/** The fraction of each 100 ms period gomel runs, in steps of 1 ms (faults.sh duty-cycles it). */
export function parseCpu(text: string, fail: Fail): number {
  const cpu = Math.round(Number(text.trim()) * 100) / 100;
  if (!/^\s*\d*\.?\d+\s*$/.test(text) || !(cpu > 0 && cpu < 1))
    throw fail(`cpu=${text.trim()}: give the fraction of the CPU gomel keeps, from 0.01 to 0.99`);
  return cpu;
}

/** Checks one event's fields once parsed (either form). */
function makeEvent(
  kind: FaultKind,
  nodes: number[],
  groups: number[][] | undefined,
  at: number,
  until: number | undefined,
  cpu: number | undefined,
  source: string,
  fail: Fail,
): FaultEvent {
  if (INSTANT.has(kind) && until !== undefined)
    throw fail(`${kind} happens at one moment; give ${kind}:<nodes>@<time>, no end`);
  if (kind === 'partition' && until === undefined)
    throw fail('a partition needs its end, the heal: partition:1-4|5-8@3s-15s');
  if (until !== undefined && until <= at) throw fail(`ends at ${human(until)}, not after its start at ${human(at)}`);
  if (kind === 'slow' && cpu === undefined) throw fail('slow needs cpu=<fraction>, e.g. slow:3@0s-20s,cpu=0.2');
  const e: FaultEvent = { kind, nodes, atMs: at, source };
  if (groups) e.groups = groups;
  if (until !== undefined) e.untilMs = until;
  if (cpu !== undefined) e.cpu = cpu;
  return e;
}

/** A host name as a committee line may give it (RFC 1123 letters, digits, "-", "."; `_` as Docker allows). */
const HOST_NAME = /^[A-Za-z0-9][\w.-]*$/;

export function parseGroups(text: string, hosts: readonly string[] | undefined, fail: Fail): number[][] {
  const groups = text.split('|').map((g) => parseNodeList(g, hosts, fail));
  if (groups.length < 2) throw fail('a partition needs two groups or more: partition:1-4|5-8@3s-15s');
  const all = groups.flat();
  const twice = all.find((k, i) => all.indexOf(k) !== i);
  if (twice !== undefined) throw fail(`node ${twice} is in two groups`);
  return groups;
}

function parseShortEvent(text: string, hosts: readonly string[], seed: string | undefined): FaultEvent[] {
  const fail: Fail = (problem) => new UsageError(`--faults "${text}": ${problem}`);
  const colon = text.indexOf(':');
  const kindText = (colon < 0 ? text : text.slice(0, colon)).trim();
  if (kindText === 'random') return randomCrashes(text.slice(colon + 1), hosts.length, seed, text, fail);
  if (kindText === 'twin') return [parseTwin(colon < 0 ? '' : text.slice(colon + 1), hosts, text, fail)];
  const kind = KINDS.find((k) => k === kindText);
  if (!kind) throw fail(`unknown kind "${kindText}"; the kinds are ${KINDS.join(', ')}, random`);
  if (colon < 0) throw fail(`no nodes and time; give e.g. ${EXAMPLES[kind]}`);
  const rest = text.slice(colon + 1);
  const atSign = rest.indexOf('@');
  if (atSign < 0) throw fail(`no time; give ${kind}:<nodes>@<time>, e.g. ${EXAMPLES[kind]}`);
  const [when = '', ...keys] = rest.slice(atSign + 1).split(',');
  // selective's one key is a node list, commas and all: "to=1-4,6".
  const toText = kind === 'selective' ? /^\s*to\s*=(.*)$/.exec(keys.join(','))?.[1] : undefined;
  if (kind === 'selective' && toText === undefined)
    throw fail(`selective needs to=<nodes>, the nodes it still talks to, last: e.g. ${EXAMPLES.selective}`);
  if (toText !== undefined) keys.length = 0;
  // "-1s" split at its "-" left an empty start, which was said as `"" is not a time` (hostile pass h8).
  if (when.trim().startsWith('-'))
    throw fail(
      `"${when.trim()}" is not a time: times count from the common start, never before it; give 0 or more, e.g. 1s`,
    );
  const [atText = '', untilText, ...more] = when.split('-');
  if (more.length || untilText?.trim() === '') throw fail(`"${when}" is not a time or a window like 2s-12s`);
  const at = parseTime(atText, fail);
  const until = untilText === undefined ? undefined : parseTime(untilText, fail);
  let cpu: number | undefined;
  const seen = new Set<string>();
  for (const kv of keys) {
    const [key = '', value] = kv.split('=').map((s) => s.trim());
    if (kind !== 'slow') throw fail(`${kind} takes no keys (${kv.trim()})`);
    if (key !== 'cpu' || value === undefined) throw fail(`unknown key "${kv.trim()}"; slow takes cpu=<fraction>`);
    if (seen.has(key)) throw fail('cpu is given twice; give it once');
    seen.add(key);
    cpu = parseCpu(value, fail);
  }
  const nodesText = rest.slice(0, atSign);
  const groups = kind === 'partition' ? parseGroups(nodesText, hosts, fail) : undefined;
  const nodes = groups ? groups.flat().sort((a, b) => a - b) : parseNodeList(nodesText, hosts, fail);
  const e = makeEvent(kind, nodes, groups, at, until, cpu, text, fail);
  if (toText !== undefined) e.to = parseTalkedTo(toText, nodes, hosts, fail);
  return [e];
}

/** selective's to=<nodes>: some, not all, of the other nodes (the selective nodes themselves, if named, are left out). */
export function parseTalkedTo(text: string, nodes: readonly number[], hosts: readonly string[], fail: Fail): number[] {
  const to = parseNodeList(text, hosts, fail).filter((k) => !nodes.includes(k));
  if (to.length === 0)
    throw fail(`to=${text.trim()} names no other node; a node that talks to none is mute:<nodes>@<time>`);
  if (to.length + nodes.length === hosts.length)
    throw fail(`to=${text.trim()} names every other node: that is no lie; name fewer, or use mute`);
  return to;
}

const EXAMPLES: Record<FaultKind, string> = {
  crash: 'crash:7,8@3s',
  stop: 'stop:2@5s',
  pause: 'pause:2@2s-12s',
  partition: 'partition:1-4|5-8@3s-15s',
  isolate: 'isolate:3@4s-9s',
  slow: 'slow:3@0s-20s,cpu=0.2',
  restart: 'restart:7@20s',
  mute: 'mute:7@3s-10s',
  selective: 'selective:3@2s-9s,to=1-4',
  twin: 'twin:3 or twin:3,groups=1-4|5-8',
};

/** The service of node k's second instance (twin:K): its host's name and "-twin". */
export const twinName = (host: string): string => `${host}-twin`;

/** A Swarm service name is a DNS label: at most 63 characters. */
const MAX_SERVICE_NAME = 63;

/**
 * The other nodes in the two halves a twin splits them into (issue 34): by default the first
 * ⌈(N−1)/2⌉ of them, in committee order, reach node k's own service and the rest its twin. Named
 * groups must hold every other node once; k itself, if named, is left out.
 */
export function twinGroups(k: number, n: number, named: number[][] | undefined, fail: Fail): number[][] {
  const others = Array.from({ length: n }, (_, i) => i + 1).filter((x) => x !== k);
  if (others.length < 2) throw fail(`a twin needs two other nodes or more to split, and the committee has ${n}`);
  if (!named) {
    const half = Math.ceil(others.length / 2);
    return [others.slice(0, half), others.slice(half)];
  }
  const groups = named.map((g) => g.filter((x) => x !== k));
  if (groups.length !== 2) throw fail(`a twin splits the other nodes in two groups, not ${groups.length}`);
  if (groups.some((g) => g.length === 0))
    throw fail(`each twin needs a group of nodes that reach it; a group holds only node ${k} itself`);
  const twice = others.filter((x) => groups[0]!.includes(x) && groups[1]!.includes(x));
  if (twice.length)
    throw fail(
      `node ${twice.join(', ')} ${twice.length > 1 ? 'are' : 'is'} in both groups; every other node reaches one twin`,
    );
  const missing = others.filter((x) => !groups.flat().includes(x));
  if (missing.length)
    throw fail(
      `node ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} in neither group; every other node reaches one twin`,
    );
  return groups;
}

/** "3" or "3,groups=1-4|5-8": one node run as two instances from the start. */
function parseTwin(rest: string, hosts: readonly string[], source: string, fail: Fail): FaultEvent {
  if (rest.includes('@')) throw fail(`a twin runs from the start, with no time; give ${EXAMPLES.twin}`);
  const [nodesText = '', ...keys] = rest.split(',');
  if (nodesText.trim() === '') throw fail(`no node; give ${EXAMPLES.twin}`);
  const nodes = parseNodeList(nodesText, hosts, fail);
  const keyText = keys.join(',');
  // "twin:3,4": the comma of a node list, which a twin does not take.
  if (nodes.length !== 1 || (keyText !== '' && !keyText.includes('=')))
    throw fail(`one node a twin: give twin:${nodes[0]}, and another node's twin as an event of its own`);
  let named: number[][] | undefined;
  if (keyText !== '') {
    const m = /^\s*groups\s*=(.*)$/.exec(keyText);
    if (!m) throw fail(`unknown key "${keyText.trim()}"; a twin takes groups=<nodes>|<nodes>`);
    named = parseGroups(m[1]!, hosts, fail);
  }
  return makeTwin(nodes[0]!, named, hosts, source, fail);
}

function makeTwin(
  k: number,
  named: number[][] | undefined,
  hosts: readonly string[],
  source: string,
  fail: Fail,
): FaultEvent {
  const host = hosts[k - 1]!;
  if (twinName(host).length > MAX_SERVICE_NAME)
    throw fail(
      `${host}'s twin would be the service ${twinName(host)}, over the ${MAX_SERVICE_NAME} characters of a service name; give the committee shorter host names`,
    );
  if (hosts.includes(twinName(host)))
    throw fail(
      `${host}'s twin would be the service ${twinName(host)}, which is already a committee host's; rename that host`,
    );
  return { kind: 'twin', nodes: [k], groups: twinGroups(k, hosts.length, named, fail), atMs: 0, source };
}

/**
 * random:K — K crashes, reproducible from the seed. The rule, so that any tool can redo it:
 * u_i = (the first 6 bytes of sha256("gomelctl faults\n" + seed + "\n" + i), big-endian) / 2^48,
 * i = 0, 1, 2, …. Nodes: a partial Fisher–Yates shuffle of 1..N, swapping position j with
 * j + ⌊u_j·(N−j)⌋ for j < K. Times: the j-th picked node crashes at 1 s + ⌊u_{K+j}·90⌋·100 ms,
 * spread over 1.0–9.9 s, when every node has started and the first rounds run.
 */
function randomCrashes(
  countText: string,
  n: number,
  seed: string | undefined,
  source: string,
  fail: Fail,
): FaultEvent[] {
  if (!/^\s*\d+\s*$/.test(countText) || Number(countText) < 1)
    throw fail('give random:K with K, the number of nodes to crash, from 1');
  const k = Number(countText);
  if (k > n) throw fail(`more crashes than nodes: ${k} of the ${n}-node committee`);
  if (seed === undefined) throw fail('random needs --seed (any text): the same seed picks the same nodes and times');
  const u = (i: number) =>
    createHash('sha256').update(`gomelctl faults\n${seed}\n${i}`).digest().readUIntBE(0, 6) / 2 ** 48;
  const order = Array.from({ length: n }, (_, i) => i + 1);
  for (let j = 0; j < k; j++) {
    const swap = j + Math.floor(u(j) * (n - j));
    [order[j], order[swap]] = [order[swap]!, order[j]!];
  }
  return order.slice(0, k).map((node, j) => ({
    kind: 'crash' as const,
    nodes: [node],
    atMs: 1000 + Math.floor(u(k + j) * 90) * 100,
    source,
    random: k,
  }));
}

/** Whether `--faults SPEC` names a JSON file of events rather than a plan in the short form. */
export const isFaultPlanFile = (spec: string): boolean =>
  spec.endsWith('.json') || (!spec.includes(':') && !spec.includes('@'));

/** Parses and checks `--faults SPEC`; a bad plan is one UsageError line naming the event (exit 2). A SPEC starting with "[" is read as JSON. */
export function parseFaultPlan(spec: string, nodes: readonly string[], seed?: string): FaultPlan {
  if (spec.trim().startsWith('[')) return parseFaultPlanJson(spec, '--faults', nodes, seed);
  const texts = spec
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (!texts.length) throw new UsageError('--faults: the plan is empty; give events like crash:7@3s;pause:2@2s-12s');
  const events = texts.flatMap((text) => parseShortEvent(text, nodes, seed));
  return checkPlan(
    events,
    nodes,
    seed,
    (e, problem) => new UsageError(`--faults "${e.source}": ${problem}`),
    (problem) => new UsageError(`--faults: ${problem}`),
  );
}

/**
 * The file `--faults SPEC` names, or undefined for a plan given inline. An empty plan is refused
 * first (it would otherwise read as a file named ""), in the words of an empty inline plan.
 */
export function faultsFlagFile(spec: string): string | undefined {
  if (spec.split(';').every((s) => s.trim() === ''))
    throw new UsageError(
      '--faults: the plan is empty; give events like crash:7@3s;pause:2@2s-12s, or a JSON file of them',
    );
  return isFaultPlanFile(spec) ? spec : undefined;
}

/**
 * `--faults SPEC` against the committee's hosts: inline, or the text of the file it names
 * (`fileText`, read at the edge). Whatever is wrong with the plan, inline or in its file, is a
 * usage problem: exit 2, and nothing changed.
 */
export function parseFaultsFlag(
  spec: string,
  fileText: string | undefined,
  hosts: readonly string[],
  seed: string | undefined,
): FaultPlan {
  try {
    return fileText !== undefined ? parseFaultPlanJson(fileText, spec, hosts, seed) : parseFaultPlan(spec, hosts, seed);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new UsageError(fileText !== undefined ? `--faults ${error.message}` : error.message);
  }
}

/**
 * A plan file: a JSON array of {kind, nodes, at, until?, cpu?} ({kind: "partition", groups, at, until},
 * {kind: "random", count}). nodes as in the short form ("7,8", "1-4", "node3") or a list of them; at and
 * until a time string ("3s") or a number of seconds. A bad event is an InputError naming the file and index.
 */
export function parseFaultPlanJson(text: string, file: string, nodes: readonly string[], seed?: string): FaultPlan {
  const fail = inputFail(file, 'a fault plan file is a JSON array: [{"kind": "crash", "nodes": "7,8", "at": "3s"}, …]');
  const value = parseJsonText(text, (problem) => fail(undefined, problem));
  // Before the types: JSON.parse kept only the last of a field given twice.
  const repeated = Array.isArray(value) ? repeatedKey(text) : undefined;
  if (repeated) throw new InputError(file, `[${repeated.index}].${repeated.key}`, 'given twice; give each field once');
  const doc = checkJson(value, PLAN_JSON, fail);
  if (doc.length === 0) throw new InputError(file, undefined, 'the plan is empty', 'give at least one event');
  const events = doc.flatMap((item, i) => parseJsonEvent(item, i, nodes, seed, file));
  return checkPlan(
    events,
    nodes,
    seed,
    (e, problem) => new InputError(file, e.source, problem),
    (problem) => new UsageError(`--faults ${file}: ${problem}`),
  );
}

/** Nodes as in the short form ("7,8", "1-4", "node3"), a number, or a list of them. */
export const NODES_JSON = z.union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))]);
const TIME_JSON = z.union([z.string(), z.number()]);
/** A plan file's events, each field of its JSON type; what the values mean is checked below. Other fields are refused by name there. */
const PLAN_JSON = z.array(
  z.looseObject(
    {
      kind: z.string(),
      nodes: NODES_JSON.optional(),
      groups: z.array(NODES_JSON).optional(),
      at: TIME_JSON.optional(),
      until: TIME_JSON.optional(),
      cpu: TIME_JSON.optional(),
      count: TIME_JSON.optional(),
      to: NODES_JSON.optional(),
    },
    {
      error: (issue) =>
        issue.code === 'invalid_type'
          ? 'an event is an object like {"kind": "crash", "nodes": "7", "at": "3s"}'
          : undefined,
    },
  ),
  { error: (issue) => (issue.code === 'invalid_type' ? 'expected a JSON array of events' : undefined) },
);
type EventJson = z.infer<typeof PLAN_JSON>[number];

const FIELDS = ['kind', 'nodes', 'groups', 'at', 'until', 'cpu', 'count', 'to'];

function parseJsonEvent(
  o: EventJson,
  i: number,
  hosts: readonly string[],
  seed: string | undefined,
  file: string,
): FaultEvent[] {
  const where = `[${i}]`;
  const fail: Fail = (problem) => new InputError(file, where, problem);
  const kindText = o.kind;
  const unknown = Object.keys(o).find((k) => !FIELDS.includes(k));
  if (unknown !== undefined)
    throw new InputError(file, `${where}.${unknown}`, `unknown field; an event has ${FIELDS.join(', ')}`);
  if (kindText === 'random') {
    const extra = Object.keys(o).find((k) => k !== 'kind' && k !== 'count');
    if (extra) throw new InputError(file, `${where}.${extra}`, 'random takes only count');
    return randomCrashes(String(o.count ?? ''), hosts.length, seed, where, fail);
  }
  const kind = KINDS.find((k) => k === kindText);
  if (!kind) throw fail(`unknown kind "${kindText}"; the kinds are ${KINDS.join(', ')}, random`);
  const listText = (v: z.infer<typeof NODES_JSON> | undefined) =>
    Array.isArray(v) ? v.map(String).join(',') : v === undefined ? '' : String(v);
  if (kind === 'twin') {
    const extra = Object.keys(o).find((k) => k !== 'kind' && k !== 'nodes' && k !== 'groups');
    if (extra) throw new InputError(file, `${where}.${extra}`, 'a twin takes nodes and groups: it runs from the start');
    const nodes = parseNodeList(listText(o.nodes), hosts, (p) => new InputError(file, `${where}.nodes`, p));
    if (nodes.length !== 1) throw new InputError(file, `${where}.nodes`, 'a twin is one node: give "nodes": "3"');
    const groupsFail: Fail = (p) => new InputError(file, `${where}.groups`, p);
    const named = o.groups === undefined ? undefined : parseGroups(o.groups.map(listText).join('|'), hosts, groupsFail);
    return [makeTwin(nodes[0]!, named, hosts, where, groupsFail)];
  }
  const allowed = [
    'kind',
    'at',
    kind === 'partition' ? 'groups' : 'nodes',
    ...(INSTANT.has(kind) ? [] : ['until']),
    ...(kind === 'slow' ? ['cpu'] : []),
    ...(kind === 'selective' ? ['to'] : []),
  ];
  const extra = Object.keys(o).find((k) => !allowed.includes(k));
  if (extra) throw new InputError(file, `${where}.${extra}`, `${kind} takes ${allowed.slice(1).join(', ')}`);
  const time = (v: string | number | undefined, key: string) => {
    const f: Fail = (p) => new InputError(file, `${where}.${key}`, p);
    if (typeof v === 'number') {
      if (!Number.isFinite(v) || v < 0) throw f('a time is ≥ 0 seconds, or a string like "3s"');
      if (v * 1000 > DAY_MS) throw f(`${v} s is more than 24 h after the start`);
      return Math.round(v * 1000);
    }
    if (typeof v !== 'string') throw f(`missing; give a time like "3s" (or a number of seconds)`);
    return parseTime(v, f);
  };
  let groups: number[][] | undefined;
  if (kind === 'partition') {
    if (!Array.isArray(o.groups))
      throw new InputError(file, `${where}.groups`, 'a partition gives its groups: ["1-4", "5-8"]');
    groups = parseGroups(o.groups.map(listText).join('|'), hosts, (p) => new InputError(file, `${where}.groups`, p));
  }
  const nodes = groups
    ? groups.flat().sort((a, b) => a - b)
    : parseNodeList(listText(o.nodes), hosts, (p) => new InputError(file, `${where}.nodes`, p));
  const at = time(o.at, 'at');
  const until = o.until === undefined ? undefined : time(o.until, 'until');
  const cpu = o.cpu === undefined ? undefined : parseCpu(String(o.cpu), (p) => new InputError(file, `${where}.cpu`, p));
  const e = makeEvent(kind, nodes, groups, at, until, cpu, where, fail);
  if (kind === 'selective') {
    const toFail: Fail = (p) => new InputError(file, `${where}.to`, p);
    if (o.to === undefined) throw toFail('selective gives the nodes it still talks to: "to": "1-4"');
    e.to = parseTalkedTo(listText(o.to), nodes, hosts, toFail);
  }
  return [e];
}

/** The first field an object of the (valid) JSON text repeats — JSON.parse keeps the last one silently — with its top-level index. */
function repeatedKey(text: string): { index: number; key: string } | undefined {
  const stack: { keys?: Set<string> }[] = [];
  let index = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const top = stack[stack.length - 1];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (top?.keys && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return { index, key };
        top.keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      stack.push(c === '{' ? { keys: new Set() } : {});
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      if (top?.keys) expectKey = true;
      else if (stack.length === 1) index++;
    }
  }
  return undefined;
}

/**
 * Checks the plan as a whole, per node, in time order. A node is down from a crash or stop until
 * its restart; a restart needs the node down (gomel is started again with the same key). Windows
 * (pause, partition, isolate, slow) on one node never overlap — their ends would undo each other —
 * and pause/slow act on gomel's process, so they cannot meet the node being down. A crash inside
 * a partition or isolate window is allowed: the peers' rules still cut the node off and heal.
 */
function checkPlan(
  events: FaultEvent[],
  hosts: readonly string[],
  seed: string | undefined,
  fail: (e: FaultEvent, problem: string) => Error,
  tooBig: Fail,
): FaultPlan {
  // An isolation of every node cuts nobody off (each node's "others" are none), yet would count all as faulty.
  const everyone = events.find((e) => e.kind === 'isolate' && e.nodes.length === hosts.length);
  if (everyone)
    throw fail(
      everyone,
      `isolates every node of the ${hosts.length}-node committee, which cuts nobody off; leave at least one out`,
    );
  const sorted = events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.atMs - b.e.atMs || a.i - b.i)
    .map((x) => x.e);
  for (let node = 1; node <= hosts.length; node++) {
    const mine = sorted.filter((e) => e.nodes.includes(node));
    const name = hosts[node - 1];
    // Its faults reach one instance only (run.sh of node<k>): the twin would not be the same node any more.
    const twin = mine.find((e) => e.kind === 'twin');
    const other = mine.find((e) => e !== twin);
    if (twin && other?.kind === 'twin')
      throw fail(other, `${name} is given a twin twice ("${twin.source}" and "${other.source}"); give its twin once`);
    if (twin && other)
      throw fail(
        other,
        `${name} runs as twins ("${twin.source}"); a twin takes no other fault (it would reach one of the two)`,
      );
    const spans: { from: number; to: number; e: FaultEvent }[] = [];
    let down: FaultEvent | undefined;
    for (const e of mine.filter((x) => INSTANT.has(x.kind))) {
      if (e.kind === 'restart') {
        if (!down)
          throw fail(
            e,
            `${name} is not down at ${human(e.atMs)}: restart starts gomel again after a crash or stop of that node before it`,
          );
        if (down.atMs === e.atMs)
          throw fail(e, `${name} is restarted at the moment it goes down ("${down.source}"); restart it later`);
        spans.push({ from: down.atMs, to: e.atMs, e: down });
        down = undefined;
      } else {
        if (down)
          throw fail(
            e,
            `${name} is already down at ${human(e.atMs)} ("${down.source}" at ${human(down.atMs)}, no restart before)`,
          );
        down = e;
      }
    }
    if (down) spans.push({ from: down.atMs, to: Infinity, e: down });
    const windows = mine
      .filter((x) => !INSTANT.has(x.kind))
      .map((e) => ({ from: e.atMs, to: e.untilMs ?? Infinity, e }));
    for (let i = 1; i < windows.length; i++) {
      for (const before of windows.slice(0, i)) {
        const w = windows[i]!;
        if (w.from < before.to)
          throw fail(
            w.e,
            `overlaps "${before.e.source}" on ${name} (${windowText(before.e)}); windows on one node must not overlap`,
          );
      }
    }
    for (const w of windows.filter((x) => PROCESS_WINDOW.has(x.e.kind))) {
      for (const d of spans) {
        if (w.from < d.to && d.from < w.to) {
          const [later, other] = w.from >= d.from ? [w.e, d.e] : [d.e, w.e];
          throw fail(
            later,
            `${name} is ${other.kind === 'pause' ? 'paused' : other.kind === 'slow' ? 'slowed' : 'down'} then ("${other.source}"); a node cannot be ${w.e.kind === 'pause' ? 'paused' : 'slowed'} while down`,
          );
        }
      }
    }
  }
  // A twin's second instance carries no schedule: a cut would reach its node's first instance only.
  const twin = sorted.find((e) => e.kind === 'twin');
  const cut = sorted.find((e) => e.kind === 'partition' || e.kind === 'isolate');
  if (twin && cut)
    throw fail(
      cut,
      `cuts nodes off in a plan with a twin ("${twin.source}"), whose second instance carries no schedule; run the cut without the twin`,
    );
  const plan: FaultPlan = { n: hosts.length, hosts: [...hosts], events: sorted };
  if (seed !== undefined && events.some((e) => e.random !== undefined)) plan.seed = seed;
  for (const e of sorted.filter((x) => x.kind === 'partition' || x.kind === 'isolate')) {
    if (cutGroups(plan, e).filter((g) => g.length > 0).length < 2)
      throw fail(
        e,
        `cuts nobody off: at ${human(e.atMs)} every node on one side of it is down for good (crashed or stopped, no restart before); cut before they go down, or leave them out`,
      );
  }
  checkFits(plan, tooBig);
  return plan;
}

/**
 * The largest fault record (the plan as JSON) deploy spawn puts on every service as a label. The label
 * is in each spec twice (service and container labels) beside the node's schedule (at most
 * MAX_ENV_STRING_BYTES), which keeps a spec under MAX_SERVICE_SPEC_BYTES (core/deploy/plan.ts).
 */
export const FAULT_RECORD_MAX_BYTES = 256 * 1024;

/**
 * What a node can be handed: its schedule is one environment string, GOMEL_FAULTS=<base64>, which
 * execve refuses over MAX_ARG_STRLEN (the container never starts), and the plan is a label of
 * every service. Refused with the figure, before anything is created.
 */
function checkFits(plan: FaultPlan, tooBig: Fail): void {
  const record = Buffer.byteLength(JSON.stringify(plan));
  if (record > FAULT_RECORD_MAX_BYTES)
    throw tooBig(
      `the plan's record is ${record} bytes of JSON, and every node's service carries it as a label of at most ${FAULT_RECORD_MAX_BYTES} bytes; give fewer events`,
    );
  faultSchedules(plan).forEach((schedule, i) => {
    const bytes = envStringBytes(`${NODE_ENV.faults}=${Buffer.from(schedule).toString('base64')}`);
    if (bytes > MAX_ENV_STRING_BYTES)
      throw tooBig(
        `${plan.hosts[i]}'s schedule takes ${bytes} bytes as its environment string ${NODE_ENV.faults} (base64), and Linux starts no process with one over ${MAX_ENV_STRING_BYTES} (MAX_ARG_STRLEN); give that node fewer events or smaller cuts`,
      );
  });
}

/** The fault plan a service label holds (deploy spawn, gomelctl fault), or undefined when it is not one gomelctl wrote. */
export function readFaultRecord(text: string): FaultPlan | undefined {
  return readJsonAs(text, FAULT_PLAN);
}

const FAULT_EVENT = z.object({
  kind: z.enum(KIND_NAMES),
  nodes: z.array(z.number()),
  groups: z.array(z.array(z.number())).optional(),
  atMs: z.number(),
  untilMs: z.number().optional(),
  cpu: z.number().optional(),
  to: z.array(z.number()).optional(),
  source: z.string(),
  random: z.number().optional(),
});
/**
 * The most events a run's fault record may hold when read back: twice what a plan gomelctl accepts
 * can hold (its record is at most FAULT_RECORD_MAX_BYTES of JSON, ~50 bytes the shortest event),
 * with room for live faults. A forged run.json of 200 k windows took the verdict 305 s beside faults.log
 * lines, and printed lines of 56 KB (hostile pass B8).
 */
export const MAX_RECORDED_FAULT_EVENTS = 10_000;

/** A FaultPlan as gomelctl writes it (the run record's faults: the services' label and run.json; faults.json's plan). */
export const FAULT_PLAN = z
  .object({
    n: z.number(),
    hosts: z.array(z.string()),
    events: z.array(FAULT_EVENT).max(MAX_RECORDED_FAULT_EVENTS, {
      error: (issue) =>
        `${Array.isArray(issue.input) ? issue.input.length : 'more'} events, more than the ${MAX_RECORDED_FAULT_EVENTS} a run's fault record can hold`,
    }),
    seed: z.string().optional(),
  })
  .superRefine((plan, ctx) => {
    // Read back from a file (run.json): its events must be of its own committee and time, or a node 99
    // reached code that indexes the committee by it (exit 70, hostile pass N7).
    if (plan.n !== plan.hosts.length)
      ctx.addIssue({
        code: 'custom',
        path: ['n'],
        message: `${plan.n}, but the record names ${plan.hosts.length} hosts`,
      });
    const inCommittee = (k: number) => Number.isInteger(k) && k >= 1 && k <= plan.hosts.length;
    plan.events.forEach((e, i) => {
      const nodes: [string, number][] = [
        ...e.nodes.map((k, j): [string, number] => [`nodes.${j}`, k]),
        ...(e.to ?? []).map((k, j): [string, number] => [`to.${j}`, k]),
        ...(e.groups ?? []).flatMap((g, gi) => g.map((k, j): [string, number] => [`groups.${gi}.${j}`, k])),
      ];
      const bad = nodes.find(([, k]) => !inCommittee(k));
      if (bad)
        ctx.addIssue({
          code: 'custom',
          path: ['events', i, ...bad[0].split('.').map((x) => (/^\d+$/.test(x) ? Number(x) : x))],
          message: `node ${bad[1]} is not in the ${plan.hosts.length}-node committee`,
        });
      if (!(e.atMs >= 0) || (e.untilMs !== undefined && !(e.untilMs >= e.atMs)))
        ctx.addIssue({
          code: 'custom',
          path: ['events', i, e.atMs >= 0 ? 'untilMs' : 'atMs'],
          message:
            e.atMs >= 0
              ? `${e.untilMs} ms, before the event's start (${e.atMs} ms)`
              : `${e.atMs} ms, before the common start`,
        });
    });
  });
const PLANNED_FAULT = z.object({ node: z.number(), host: z.string(), why: z.string(), atMs: z.number() });
/** deploy logs' faults.json before run.json (still read): the events in words, who the plan makes faulty or delayed, the plan. */
export const FAULT_RECORD_FILE = z.object({
  events: z.array(z.string()),
  faulty: z.array(PLANNED_FAULT),
  delayed: z.array(PLANNED_FAULT),
  plan: FAULT_PLAN,
});
export type FaultRecordFile = z.infer<typeof FAULT_RECORD_FILE>;

/** A plan as faults.json held it: the events in words, and who it makes faulty or delayed (what the report shows; run.json holds the plan only). */
export function faultRecordOf(plan: FaultPlan): FaultRecordFile {
  return { events: describeFaultPlan(plan), ...faultyNodes(plan), plan };
}

/** "3 s", "2.5 s", "250 ms": a time for people. */
export function human(ms: number): string {
  return ms < 1000 && ms > 0 ? `${ms} ms` : `${ms / 1000} s`;
}

const windowText = (e: FaultEvent) =>
  e.untilMs === undefined ? `from ${human(e.atMs)} for good` : `${human(e.atMs)}–${human(e.untilMs)}`;

/** The short-form time: "3s", "1.234s", "250ms", "0s". */
function shortTime(ms: number): string {
  return ms < 1000 && ms > 0 ? `${ms}ms` : `${ms / 1000}s`;
}

/** 1,2,3,4,7 → "1-4,7". */
function shortNodes(nodes: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < nodes.length;) {
    let j = i;
    while (j + 1 < nodes.length && nodes[j + 1] === nodes[j]! + 1) j++;
    parts.push(j > i ? `${nodes[i]}-${nodes[j]}` : `${nodes[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The event in the short form, which parseFaultPlan reads back to the same event. */
export function formatFaultEvent(e: FaultEvent): string {
  if (e.kind === 'twin') return `twin:${shortNodes(e.nodes)},groups=${(e.groups ?? []).map(shortNodes).join('|')}`;
  const who = e.groups ? e.groups.map(shortNodes).join('|') : shortNodes(e.nodes);
  const when = shortTime(e.atMs) + (e.untilMs !== undefined ? `-${shortTime(e.untilMs)}` : '');
  return `${e.kind}:${who}@${when}${e.cpu !== undefined ? `,cpu=${e.cpu}` : ''}${e.to ? `,to=${shortNodes(e.to)}` : ''}`;
}

/** One line per event, for printing: the short form, then what it does. */
export function describeFaultPlan(plan: FaultPlan): string[] {
  const names = (nodes: readonly number[]) => nodes.map((k) => plan.hosts[k - 1] ?? `node${k}`).join(', ');
  return plan.events.map((e) => {
    const end =
      e.untilMs !== undefined
        ? `, until ${human(e.untilMs)}`
        : e.kind === 'crash' || e.kind === 'stop' || e.kind === 'restart'
          ? ''
          : ', for good';
    const what: Record<FaultKind, string> = {
      crash: `${names(e.nodes)} crashed (SIGKILL) at ${human(e.atMs)}`,
      stop: `${names(e.nodes)} stopped (SIGTERM) at ${human(e.atMs)}`,
      pause: `${names(e.nodes)} paused (SIGSTOP) at ${human(e.atMs)}${end}`,
      partition: `no traffic between ${(e.groups ?? [])
        .map(names)
        .map((g) => `{${g}}`)
        .join(' and ')} from ${human(e.atMs)}${end}`,
      isolate: `${names(e.nodes)} cut off from the other nodes from ${human(e.atMs)}${end}`,
      slow: `${names(e.nodes)} slowed to ${Math.round((e.cpu ?? 0) * 100)}% of the CPU from ${human(e.atMs)}${end}`,
      restart: `${names(e.nodes)} started again with the same key at ${human(e.atMs)}`,
      mute: `${names(e.nodes)} muted (it hears its peers; nothing it sends reaches them) from ${human(e.atMs)}${end}`,
      selective: `${names(e.nodes)} talks only to ${names(e.to ?? [])}, mute to the others, from ${human(e.atMs)}${end}`,
      twin: twinText(plan.hosts, e),
    };
    const short = formatFaultEvent(e);
    const from =
      e.random !== undefined
        ? ` (random:${e.random}, seed "${plan.seed ?? ''}")`
        : e.source.startsWith('live:')
          ? ` (${e.source})`
          : '';
    return `${short}  ${what[e.kind]}${from}`;
  });
}

/** "node3 runs as two instances with one key from the start: node3 reached by node1, node2; node3-twin by node4, node5". */
export function twinText(hosts: readonly string[], e: FaultEvent): string {
  const host = hosts[e.nodes[0]! - 1] ?? `node${e.nodes[0]}`;
  const names = (g: readonly number[]) => g.map((k) => hosts[k - 1] ?? `node${k}`).join(', ');
  const [a = [], b = []] = e.groups ?? [];
  return `${host} runs as two instances with one key from the start: ${host} reached by ${names(a)}; ${twinName(host)} by ${names(b)}`;
}

/** Cuts, and twins' halves, are iptables rules inside the nodes' containers: the services need NET_ADMIN. */
export function needsNetAdmin(plan: FaultPlan): boolean {
  return plan.events.some(
    (e) => e.kind !== 'crash' && e.kind !== 'stop' && e.kind !== 'restart' && e.kind !== 'pause' && e.kind !== 'slow',
  );
}

/**
 * Each node's schedule (index k−1 for node k), the text GOMEL_FAULTS carries base64-encoded for
 * templates/faults.sh: one action a line, "<ms after start> <action> [args]", in time order —
 * at one moment, ends of windows first (a window may start where another ends), then crashes,
 * stops and restarts, then starts. "" for a node without actions.
 *   kill | term | stop | cont | restart | slow <fraction> | unslow | drop <host> … | undrop <host> …
 * Partition and isolate become drop/undrop of the peers' host names (`hosts`, default the
 * plan's) on both sides, so the cut holds even where one side's rule fails.
 */
export function faultSchedules(plan: FaultPlan, hosts: readonly string[] = plan.hosts): string[] {
  const lines: { ms: number; rank: number; seq: number; text: string }[][] = hosts.map(() => []);
  let seq = 0;
  const add = (node: number, ms: number, rank: number, text: string) =>
    lines[node - 1]!.push({ ms, rank, seq: seq++, text });
  const both = (node: number, e: FaultEvent, start: string, end: string) => {
    add(node, e.atMs, 2, start);
    if (e.untilMs !== undefined) add(node, e.untilMs, 0, end);
  };
  const names = (nodes: readonly number[]) => nodes.map((k) => hosts[k - 1]!).join(' ');
  const twinned = new Set(plan.events.flatMap((e) => (e.kind === 'twin' ? e.nodes : [])));
  for (const e of plan.events) {
    // Applied before gomel starts, not on the schedule (twinSetups, core/faults/twins.ts).
    if (e.kind === 'twin') continue;
    if (e.kind === 'partition' || e.kind === 'isolate') {
      const groups = cutGroups(plan, e);
      groups.forEach((group, g) => {
        const others = groups
          .filter((_, h) => h !== g)
          .flat()
          .sort((a, b) => a - b);
        if (others.length) for (const node of group) both(node, e, `drop ${names(others)}`, `undrop ${names(others)}`);
      });
      continue;
    }
    for (const node of e.nodes) {
      if (e.kind === 'crash') add(node, e.atMs, 1, 'kill');
      else if (e.kind === 'stop') add(node, e.atMs, 1, 'term');
      else if (e.kind === 'restart') add(node, e.atMs, 1, 'restart');
      else if (e.kind === 'pause') both(node, e, 'stop', 'cont');
      else if (e.kind === 'mute' || e.kind === 'selective') {
        // Toward every peer up then (a peer down for good no longer resolves), or those it does not talk to.
        const muted = mutedPeers(plan, e, node);
        // A twinned peer is two instances: it is mute to both (its twin by the twin's own name).
        const peers = muted.flatMap((k) =>
          twinned.has(k) ? [hosts[k - 1]!, twinName(hosts[k - 1]!)] : [hosts[k - 1]!],
        );
        if (peers.length) both(node, e, `mute ${peers.join(' ')}`, `unmute ${peers.join(' ')}`);
      } else both(node, e, `slow ${e.cpu}`, 'unslow');
    }
  }
  return lines.map((l) =>
    l
      .sort((a, b) => a.ms - b.ms || a.rank - b.rank || a.seq - b.seq)
      .map((x) => `${x.ms} ${x.text}\n`)
      .join(''),
  );
}

/**
 * When each node goes down for good (a crash or stop with no restart after it), by node number.
 * Its gomel is gone, and its container soon leaves the network (run.sh ships its logs and exits):
 * its name stops resolving, and a cut that names it fails on the nodes that drop it.
 */
function downForGood(plan: FaultPlan): Map<number, number> {
  const down = new Map<number, number>();
  for (const e of plan.events) {
    for (const k of e.nodes) {
      if (e.kind === 'crash' || e.kind === 'stop') down.set(k, e.atMs);
      else if (e.kind === 'restart') down.delete(k);
    }
  }
  return down;
}

/** The peers a muted or selective node is mute to: every other node up when it starts, less those it talks to. */
function mutedPeers(plan: FaultPlan, e: FaultEvent, node: number): number[] {
  const down = downForGood(plan);
  return plan.hosts
    .map((_, i) => i + 1)
    .filter((k) => k !== node && !e.to?.includes(k) && !((down.get(k) ?? Infinity) < e.atMs));
}

/**
 * The groups a partition or isolate cuts apart (an isolate: its nodes and all the others), less the
 * nodes down for good before it starts: there is nothing of theirs left to cut, and no peer could
 * name them. A node that goes down inside the window stays (its drops were made, its undrops
 * use the address they used).
 */
function cutGroups(plan: FaultPlan, e: FaultEvent): number[][] {
  const down = downForGood(plan);
  const up = (k: number) => !((down.get(k) ?? Infinity) < e.atMs);
  const groups = e.groups ?? [e.nodes, plan.hosts.map((_, i) => i + 1).filter((k) => !e.nodes.includes(k))];
  return groups.map((g) => g.filter(up));
}

export interface PlannedFault {
  node: number;
  host: string;
  /** For a verdict line: "crashed at 3 s", "paused 2 s–12 s". */
  why: string;
  /** When the node became faulty or delayed (ms after start). */
  atMs: number;
}

/**
 * Who the plan makes faulty, and who only delayed (issue 24 item 3). Faulty: crashed, stopped or
 * restarted (a restarted node lost its state mid-run), and paused, isolated or slowed for good. Delayed
 * but correct: paused, partitioned, isolated or slowed for a window — it must catch up. The verdict
 * compares the faulty count with f = ⌊(N−1)/3⌋ (faultTolerance).
 */
/**
 * The record's events by node (1-based), in the record's order, in one pass: what is asked of a
 * node is looked up in its own events, never in a pass over the record per node or per faults.log
 * line (a forged run.json of 200 k windows beside faults.log lines took the verdict 305 s: hostile pass B8).
 */
export function eventsByNode(plan: FaultPlan | undefined): Map<number, FaultEvent[]> {
  const byNode = new Map<number, FaultEvent[]>();
  for (const e of plan?.events ?? [])
    for (const k of new Set(e.nodes)) {
      const mine = byNode.get(k) ?? [];
      mine.push(e);
      byNode.set(k, mine);
    }
  return byNode;
}

export function faultyNodes(plan: FaultPlan): { faulty: PlannedFault[]; delayed: PlannedFault[] } {
  const faulty: PlannedFault[] = [];
  const delayed: PlannedFault[] = [];
  const verb: Record<FaultKind, string> = {
    crash: 'crashed',
    stop: 'stopped',
    restart: 'restarted',
    pause: 'paused',
    partition: 'partitioned',
    isolate: 'isolated',
    slow: 'slowed',
    mute: 'muted',
    selective: 'selective',
    twin: 'twinned',
  };
  for (const [node, mine] of [...eventsByNode(plan)].sort((a, b) => a[0] - b[0])) {
    if (!(node >= 1 && node <= plan.n)) continue;
    const bad = mine.filter((e) => INSTANT.has(e.kind) || e.untilMs === undefined);
    const list = bad.length ? bad : mine;
    // The first few, then how many more: a reason stays one short line whatever the record holds.
    const why = someNames(
      list.map((e) =>
        e.kind === 'twin'
          ? `a twin: two instances with one key (${plan.hosts[node - 1]}, ${twinName(plan.hosts[node - 1] ?? `node${node}`)}) from the start`
          : `${verb[e.kind]}${e.kind === 'slow' ? ` to cpu=${e.cpu}` : ''}${e.to ? ` (talks only to ${e.to.map((k) => plan.hosts[k - 1]).join(', ')})` : ''}${e.source.startsWith('live:') ? ` ${LIVE_BY}` : ''} ${e.untilMs !== undefined ? windowText(e) : `at ${human(e.atMs)}${INSTANT.has(e.kind) ? '' : ' for good'}`}`,
      ),
    );
    (bad.length ? faulty : delayed).push({
      node,
      host: plan.hosts[node - 1] ?? `node${node}`,
      why,
      atMs: list[0]!.atMs,
    });
  }
  return { faulty, delayed };
}

/** How a live fault (gomelctl fault, core/faults/live.ts) is named in a faulty node's reason. */
export const LIVE_BY = 'by gomelctl fault';

/** f = ⌊(N−1)/3⌋: how many faulty nodes a committee of N tolerates (N = 3f+1). */
export const faultTolerance = (n: number) => Math.max(0, Math.floor((n - 1) / 3));
