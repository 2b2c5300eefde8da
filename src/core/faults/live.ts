// Live faults (issue 24 item 2): `gomelctl fault <action> <nodes>` on a running
// deployment. Pure: turns an action into each node's request and folds what the
// nodes answered into the run's fault record, so that the verdict and the report
// judge a live fault as they judge a planned one. The nodes apply the requests
// themselves (templates/faults.sh control_request): the manager's engine cannot
// reach a worker's containers, but every node's control port is on the overlay.
import { NODE_PORTS } from '../deploy/node-contract.js';
import { UsageError } from '../errors.js';
import {
  parseCpu,
  parseGroups,
  parseNodeList,
  parseTalkedTo,
  type FaultEvent,
  type FaultPlan,
  type Fail,
} from './plan.js';
import type { FaultLogEvent } from './log.js';
import { minOf } from '../bounded.js';

export type LiveAction =
  'crash' | 'stop' | 'pause' | 'resume' | 'slow' | 'partition' | 'isolate' | 'heal' | 'mute' | 'selective' | 'unmute';
export const LIVE_ACTIONS: readonly LiveAction[] = [
  'crash',
  'stop',
  'pause',
  'resume',
  'slow',
  'partition',
  'isolate',
  'heal',
  'mute',
  'selective',
  'unmute',
];

/** Port of the control listener run.sh starts beside gomel (GOMEL_CONTROL_PORT). */
export const CONTROL_PORT = NODE_PORTS.control;

export interface LiveFault {
  action: LiveAction;
  /** The nodes it names (1-based); for a partition, every node of its groups. */
  nodes: number[];
  groups?: number[][];
  cpu?: number;
  /** selective: the nodes it still talks to. */
  to?: number[];
  /** Per node (1-based) that gets a request: its faults.sh action line. */
  requests: Map<number, string>;
  /** Partition and isolate run iptables in the containers: the services need NET_ADMIN. */
  needsNetAdmin: boolean;
  /** As the user wrote it, for the record and for errors. */
  source: string;
}

const USAGE: Record<LiveAction, string> = {
  crash: 'crash 7,8',
  stop: 'stop 2',
  pause: 'pause 2',
  resume: 'resume 2',
  slow: 'slow 3 --cpu 0.2',
  partition: "partition '1-4|5-8'",
  isolate: 'isolate 3',
  heal: 'heal (every node), or heal 1-4',
  mute: 'mute 7',
  selective: 'selective 3 --to 1-4',
  unmute: 'unmute 7',
};

/**
 * Parses `fault <action> [nodes] [--cpu F]`; a bad one is one UsageError line (exit 2) before anything is sent.
 * `hosts` undefined: before the committee is known, every check that needs none (gomelctl fault runs it first).
 */
export function parseLiveFault(
  actionText: string,
  nodesText: string | undefined,
  hosts: readonly string[] | undefined,
  cpuText?: string,
  toText?: string,
): LiveFault {
  const action = LIVE_ACTIONS.find((a) => a === actionText);
  const source = [actionText, nodesText].filter(Boolean).join(' ');
  const fail: Fail = (problem) => new UsageError(`fault ${source}: ${problem}`);
  if (!action) throw fail(`unknown action "${actionText}"; the actions are ${LIVE_ACTIONS.join(', ')}`);
  if (cpuText !== undefined && action !== 'slow') throw fail(`--cpu is for slow only`);
  if (toText !== undefined && action !== 'selective') throw fail(`--to is for selective only`);
  const all = (hosts ?? []).map((_, i) => i + 1);
  const name = (k: number) => hosts![k - 1]!;
  const requests = new Map<number, string>();
  if (action === 'heal') {
    const nodes = nodesText === undefined ? all : parseNodeList(nodesText, hosts, fail);
    for (const k of nodes) requests.set(k, 'heal');
    return { action, nodes, requests, needsNetAdmin: true, source };
  }
  if (nodesText === undefined || nodesText.trim() === '') throw fail(`no nodes; give e.g. fault ${USAGE[action]}`);
  if (action === 'partition') {
    const groups = parseGroups(nodesText, hosts, fail);
    for (const [g, group] of groups.entries()) {
      const others = groups
        .filter((_, h) => h !== g)
        .flat()
        .sort((a, b) => a - b);
      for (const k of group) requests.set(k, `drop ${others.map(name).join(' ')}`);
    }
    return { action, nodes: groups.flat().sort((a, b) => a - b), groups, requests, needsNetAdmin: true, source };
  }
  const nodes = parseNodeList(nodesText, hosts, fail);
  if (action === 'isolate') {
    const rest = all.filter((k) => !nodes.includes(k));
    if (hosts && rest.length === 0) throw fail('isolates every node; leave at least one out');
    for (const k of nodes) requests.set(k, `drop ${rest.map(name).join(' ')}`);
    for (const k of rest) requests.set(k, `drop ${nodes.map(name).join(' ')}`);
    return { action, nodes, requests, needsNetAdmin: true, source };
  }
  if (action === 'mute' || action === 'selective' || action === 'unmute') {
    // Mute to every other node, or to those it does not talk to (selective); unmute undoes every mute left.
    if (action === 'selective' && toText === undefined)
      throw fail('selective needs --to <nodes>, the nodes it still talks to, e.g. fault selective 3 --to 1-4');
    const to =
      action !== 'selective'
        ? undefined
        : hosts
          ? parseTalkedTo(toText!, nodes, hosts, (p) => fail(`--to: ${p}`))
          : parseNodeList(toText!, hosts, fail);
    for (const k of nodes)
      requests.set(
        k,
        action === 'unmute'
          ? 'unmute'
          : `mute ${all
              .filter((x) => x !== k && !to?.includes(x))
              .map(name)
              .join(' ')}`,
      );
    return { action, nodes, ...(to ? { to } : {}), requests, needsNetAdmin: true, source };
  }
  let cpu: number | undefined;
  if (action === 'slow') {
    if (cpuText === undefined) throw fail('slow needs --cpu <fraction>, e.g. fault slow 3 --cpu 0.2');
    cpu = parseCpu(cpuText, fail);
  }
  const line = { crash: 'kill', stop: 'term', pause: 'stop', resume: 'resume', slow: `slow ${cpu}` }[action];
  for (const k of nodes) requests.set(k, line);
  return { action, nodes, ...(cpu !== undefined ? { cpu } : {}), requests, needsNetAdmin: false, source };
}

/** A node's service as the deployment has it: its name and its committee slot (env SLOT). */
interface DeployedNode {
  node: string;
  slot: number | undefined;
  committeeHosts: string[] | undefined;
}

/**
 * The committee's hosts as deployed (the hosts label every service carries): node k is the k-th,
 * whichever services still exist. Undefined when no service carries the label (an older gomelctl)
 * or the services disagree (not one deployment of one committee).
 */
export function deployedHosts(services: readonly DeployedNode[]): string[] | undefined {
  const lists = new Set(services.map((s) => s.committeeHosts?.join(' ')));
  const [only] = lists;
  return lists.size === 1 && only ? only.split(' ') : undefined;
}

/**
 * Which service carries each request: node k is the service named hosts[k−1] whose SLOT is k (deploy
 * spawn names it so), never the k-th service that happens to exist. `missing`: each node asked for
 * that has no such service.
 */
export function aimLiveFault<S extends DeployedNode>(
  fault: LiveFault,
  hosts: readonly string[],
  services: readonly S[],
): { targets: (S & { k: number })[]; missing: number[] } {
  const targets: (S & { k: number })[] = [];
  const missing: number[] = [];
  for (const k of fault.requests.keys()) {
    const service = services.find((s) => s.slot === k && s.node === hosts[k - 1]);
    if (service) targets.push({ ...service, k });
    else missing.push(k);
  }
  return { targets, missing };
}

/** What one node answered: its faults.log line (parsed), or why there is none. */
export type LiveAnswer = { node: number; event: FaultLogEvent } | { node: number; problem: string };

/** faults.sh's reason when a heal finds nothing to undo on a node: no failure, nothing to do. */
export const NOTHING_TO_HEAL = 'no peer is cut off from this node';

/** A node a heal leaves with no cut: it undid its drops, had none, or no longer runs. */
export function healedBy(a: LiveAnswer): boolean {
  if ('event' in a) return a.event.ok || a.event.reason === NOTHING_TO_HEAL;
  return a.problem.startsWith('not running');
}

const OPENS: Partial<Record<LiveAction, FaultEvent['kind']>> = {
  pause: 'pause',
  slow: 'slow',
  partition: 'partition',
  isolate: 'isolate',
  mute: 'mute',
  selective: 'selective',
};

/** What a live release closes on the nodes it released: resume a pause or slow, unmute a mute. */
const RELEASES: Partial<Record<LiveAction, FaultEvent['kind'][]>> = {
  resume: ['pause', 'slow'],
  unmute: ['mute', 'selective'],
};

/**
 * The run's fault record with this live fault in it (deploy logs writes it into run.json, and
 * the verdict judges it like a plan): crash and stop at the moment the first node applied them;
 * pause, slow, partition and isolate open a window ("for good" until closed). resume closes the
 * pause or slow of the nodes it released (an event over several nodes is split: the others stay
 * paused); heal closes a partition once every node of it is healed, an isolation once every node
 * is (all of them drop the isolated ones). Only what some node applied counts. Times are ms after
 * the common start, as each node counted them.
 */
export function recordLiveFault(
  record: FaultPlan | undefined,
  hosts: readonly string[],
  fault: LiveFault,
  answers: readonly LiveAnswer[],
): FaultPlan {
  const plan: FaultPlan = record
    ? { ...record, events: record.events.map((e) => ({ ...e })) }
    : { n: hosts.length, hosts: [...hosts], events: [] };
  const applied = answers.filter((a): a is { node: number; event: FaultLogEvent } => 'event' in a && a.event.ok);
  if (applied.length === 0) return plan;
  const atMs = minOf(applied.map((a) => a.event.atMs))!;
  const done = applied.map((a) => a.node);
  const inTime = (events: FaultEvent[]) => events.sort((a, b) => a.atMs - b.atMs);
  const releases = RELEASES[fault.action];
  if (releases) {
    plan.events = inTime(
      plan.events.flatMap((e) => {
        if (
          !releases.includes(e.kind) ||
          e.untilMs !== undefined ||
          e.atMs > atMs ||
          !e.nodes.some((k) => done.includes(k))
        )
          return [e];
        const rest = e.nodes.filter((k) => !done.includes(k));
        const closed = { ...e, nodes: e.nodes.filter((k) => done.includes(k)), untilMs: Math.max(atMs, e.atMs + 1) };
        return rest.length ? [closed, { ...e, nodes: rest }] : [closed];
      }),
    );
    return plan;
  }
  if (fault.action === 'heal') {
    const healed = new Set(answers.filter(healedBy).map((a) => a.node));
    const everyone = hosts.map((_, i) => i + 1);
    for (const e of plan.events) {
      if ((e.kind !== 'partition' && e.kind !== 'isolate') || e.untilMs !== undefined || e.atMs > atMs) continue;
      const holders = e.kind === 'partition' ? e.nodes : everyone;
      if (holders.every((k) => healed.has(k))) e.untilMs = Math.max(atMs, e.atMs + 1);
    }
    return plan;
  }
  const kind = OPENS[fault.action] ?? (fault.action as 'crash' | 'stop');
  const nodes =
    fault.action === 'partition' || fault.action === 'isolate'
      ? fault.nodes
      : fault.nodes.filter((k) => done.includes(k));
  const event: FaultEvent = { kind, nodes, atMs, source: `live: fault ${fault.source}` };
  if (fault.groups) event.groups = fault.groups;
  if (fault.cpu !== undefined) event.cpu = fault.cpu;
  if (fault.to) event.to = fault.to;
  plan.events = inTime([...plan.events, event]);
  return plan;
}
