// Who was faulty, by evidence (issue 30): a plan says what was asked, a node's own
// faults.log says what was done. templates/faults.sh writes one line per action it
// applied, planned (its schedule) or live (a `gomelctl fault` request), so a node is
// faulty only by such a line: crashed, stopped or restarted, or left paused, slowed or
// cut off at its end. A planned fault with no line (the run ended before it, the node
// was gone, the action failed) counts for nothing and is named "planned, not applied".
// Host losses come from the engine (task.json) and are judged beside this. Pure.
import type { FaultLogEvent } from './log.js';
import {
  eventsByNode,
  faultSchedules,
  faultyNodes,
  human,
  LIVE_BY,
  type FaultEvent,
  type FaultKind,
  type FaultPlan,
} from './plan.js';
import { someNames } from '../logs/logs-folder.js';

export interface NodeFaultLog {
  label: string;
  /** The node's faults.log, parsed; undefined when it left none. */
  events: readonly FaultLogEvent[] | undefined;
  /** Wall-clock second gomel started (run.sh's started_at): the clock faults.sh counts from. */
  startedAt: number | undefined;
  /** The last moment its gomel log speaks of (ms since gomel started), when its log was read. */
  logEndMs?: number | undefined;
  /** Wall-clock second its task ended (task.json's state an end state, and since), when known. */
  taskEndedAt?: number | undefined;
  /** Its gomel's exit status (exit_status), when run.sh recorded one. */
  exitStatus?: number | undefined;
}

/**
 * The exit statuses a node ended by a kill, or stopped for good, can have (run.sh records gomel's, as
 * `wait` gives it: 128 + the signal): SIGKILL's 137; a stopped process ends only by a signal from
 * outside (a kill's 137, a term's 143, a timeout's 124). Any other status says its gomel ended itself:
 * such a line is not of this run (hostile pass 12: a kill line beside exit 0, or 143, was "crashed as
 * planned", exit 0).
 */
const EXIT_AFTER: Record<string, readonly number[]> = { kill: [137], stop: [137, 143, 124] };

export interface NodeFault {
  label: string;
  why: string;
}

export interface FaultFindings {
  /** Faulty by their own faults.log, in node order. */
  applied: NodeFault[];
  /** Planned to be faulty, without a line that says it was done. */
  notApplied: NodeFault[];
  /** faults.log lines that cannot be what faults.sh did in this run, with the reason. */
  inconsistent: NodeFault[];
  /** Faults applied and undone before the node's end (paused, then resumed): such a node is correct and must catch up. */
  undone?: NodeFault[];
}

/** faults.sh's actions that start and end each kind (faultSchedules; resume and heal are live only). */
const ACTION_KIND: Record<string, FaultKind> = { kill: 'crash', term: 'stop', restart: 'restart' };

/**
 * An action may be logged a little before the time it was planned for (faults.sh sleeps until
 * start + ms from a wall clock read a moment earlier): 1 s of slack, as for started_at itself.
 */
const CLOCK_SLACK_S = 1;

/**
 * How late an action's wall clock may be against its ms field. faults.sh reads the wall clock right
 * after sleeping until start + ms (a live action's ms is computed from that very reading), so the two
 * differ only by what the schedule's earlier actions took: a kill, a signal, an iptables rule per peer,
 * each well under a second (twin8's lines: within 2.5 s, the twin lines before the start included).
 * 5 s lets a slow host through; a line a day late (issue 30 B7) is not of this node's run.
 */
const LATE_SLACK_S = 5;

/** Why an applied line cannot be this run's, if it cannot. */
function inconsistency(
  e: FaultLogEvent,
  startedAt: number | undefined,
  endedAt: number | undefined,
): string | undefined {
  if (startedAt === undefined) return undefined;
  if (e.wall < startedAt - CLOCK_SLACK_S)
    return `line ${e.line}: ${e.action} applied at ${e.wall}, before gomel started (${startedAt})`;
  if (e.wall < startedAt + e.atMs / 1000 - CLOCK_SLACK_S)
    return `line ${e.line}: ${e.action} applied at ${e.wall}, before its time (${human(e.atMs)} after the start at ${startedAt})`;
  const late = e.wall - startedAt - e.atMs / 1000;
  if (late > LATE_SLACK_S)
    return `line ${e.line}: ${e.action} applied at ${e.wall}, ${human(Math.round(late * 1000))} after its time (${human(e.atMs)} after the start at ${startedAt}); faults.sh logs an action when it applies it`;
  if (endedAt !== undefined && e.wall > endedAt + LATE_SLACK_S)
    return `line ${e.line}: ${e.action} applied at ${e.wall}, after the node's task ended (${endedAt})`;
  return undefined;
}

/**
 * Why a planned mute line names other peers than the plan mutes its node to, if it does: the line is
 * the schedule's own ("<ms> mute <host> …", faultSchedules), so a different list is not that fault.
 */
function muteMismatch(e: FaultLogEvent, schedule: string | undefined): string | undefined {
  const planned = (schedule ?? '')
    .split('\n')
    .map((l) => l.split(' '))
    .filter(([ms, action]) => action === 'mute' && Number(ms) === e.atMs)
    .map(([, , ...peers]) => peers);
  const key = (peers: readonly string[]) => [...peers].sort().join(' ');
  if (planned.some((peers) => key(peers) === key(e.args))) return undefined;
  const expected = planned[0]?.length ?? 0;
  return `line ${e.line}: mute at ${human(e.atMs)} names ${e.args.length} peer(s), but the plan mutes this node to ${expected} then: not that fault`;
}

/** The record's event this applied action carries out on its node, if the record names one: `events` are the node's. */
function recordedEvent(events: readonly FaultEvent[], kind: FaultKind, atMs: number): FaultEvent | undefined {
  const mine = events.filter((e) => e.kind === kind);
  // A planned action is logged with its planned ms; a live one with the ms its node received it,
  // at or after the moment the record gives (the first node's).
  return (
    mine.find((e) => !e.source.startsWith('live:') && e.atMs === atMs) ??
    mine.filter((e) => e.source.startsWith('live:') && e.atMs <= atMs).sort((a, b) => b.atMs - a.atMs)[0]
  );
}

const VERB: Record<FaultKind, string> = {
  crash: 'crashed',
  stop: 'stopped',
  restart: 'restarted',
  pause: 'paused',
  slow: 'slowed',
  partition: 'partitioned',
  isolate: 'isolated',
  mute: 'muted',
  selective: 'selectively muted',
  twin: 'twinned',
};

/** What was done, as faultyNodes words it ("crashed at 3 s", "paused by gomelctl fault for good from 5 s"), and whether the plan asked it. */
function reason(
  kind: FaultKind,
  atMs: number,
  event: FaultEvent | undefined,
  forGood: boolean,
  cpu?: string,
): { text: string; planned: boolean } {
  const planned = event !== undefined && !event.source.startsWith('live:');
  const at = human(event?.atMs ?? atMs);
  const verb = `${VERB[kind]}${cpu ? ` to cpu=${cpu}` : ''}${planned ? '' : ` ${LIVE_BY}`}`;
  return { text: `${verb} ${forGood ? `for good from ${at}` : `at ${at}`}`, planned };
}

/** "paused by gomelctl fault 13.519 s–26.55 s": a fault that began with `from` and ended with `to`. */
function windowReason(kind: FaultKind, from: FaultLogEvent, to: FaultLogEvent, event: FaultEvent | undefined): string {
  const planned = event !== undefined && !event.source.startsWith('live:');
  return `${VERB[kind]}${planned ? '' : ` ${LIVE_BY}`} ${human(from.atMs)}–${human(to.atMs)}`;
}

/** "crashed at 2 s, restarted at 4 s as planned, paused by gomelctl fault for good from 9 s". */
function joinReasons(whys: readonly { text: string; planned: boolean }[]): string {
  // The first few of each, then how many more: one short line, however many actions faults.log holds.
  const planned = whys.filter((w) => w.planned).map((w) => w.text);
  const other = whys.filter((w) => !w.planned).map((w) => w.text);
  return [
    ...(planned.length ? [`${someNames(planned)} as planned`] : []),
    ...(other.length ? [someNames(other)] : []),
  ].join(', ');
}

/** The record's kind an applied action starts: the event it must belong to (faultSchedules, live.ts). */
const STARTS: Record<string, FaultKind[]> = {
  kill: ['crash'],
  term: ['stop'],
  restart: ['restart'],
  stop: ['pause'],
  slow: ['slow'],
  drop: ['partition', 'isolate'],
  mute: ['mute', 'selective'],
};

/**
 * gomel's log is written as it runs: a node killed or paused at t logs nothing after. Its last line
 * may come a little after the action's own line (both clocks count from its start; a buffered line
 * lands late), so this much is allowed.
 */
const LOG_AFTER_SLACK_MS = 5000;

/**
 * Faulty nodes by evidence, and planned faults without it. `nodes` is in committee order (node k
 * is nodes[k−1], as in the plan). A line counts only when it belongs to the run: the node's
 * started_at is known and the line comes after it, the run's record (run.json; faults.json in an older folder) names an event
 * of that kind on that node (planned at that moment, or live at or before it), a restart follows
 * a crash or stop of that node, and a node killed or paused for good logged nothing long after.
 * A cut that holds at a node's end makes it faulty only where the record says the cut was for
 * good on that node (an isolation's isolated nodes, a partition never healed), or where the node
 * is cut from every other node: the peers that drop an isolated node are correct nodes that
 * stopped hearing a faulty one. Lines that undo (cont, unslow, undrop, resume, heal) always count:
 * they only ever make a node correct, which the verdict then holds to consensus.
 */
export function faultsApplied(plan: FaultPlan | undefined, nodes: readonly NodeFaultLog[]): FaultFindings {
  const applied: NodeFault[] = [];
  const inconsistent: NodeFault[] = [];
  // A twin's lie is judged from its two instances' logs (core/logs/byzantine.ts), not from faults.log.
  const twins = new Set((plan?.events ?? []).flatMap((e) => (e.kind === 'twin' ? e.nodes : [])));
  const faultyByPlan = plan ? faultyNodes(plan).faulty.filter((p) => !twins.has(p.node)) : [];
  const notApplied: NodeFault[] = [];
  const undone: NodeFault[] = [];
  const byNode = eventsByNode(plan);
  const schedules = plan && faultSchedules(plan);
  nodes.forEach((node, i) => {
    const k = i + 1;
    const mine = byNode.get(k) ?? [];
    const whys: { text: string; planned: boolean }[] = [];
    const windows: string[] = [];
    const ended = (kind: FaultKind, from: FaultLogEvent | undefined, to: FaultLogEvent) => {
      if (from) windows.push(windowReason(kind, from, to, recordedEvent(mine, kind, from.atMs)));
    };
    let paused: FaultLogEvent | undefined;
    let slowed: FaultLogEvent | undefined;
    let down: FaultLogEvent | undefined;
    const cut = new Map<string, FaultLogEvent>();
    // Peers it is mute to (mute, selective), like a cut: it counts at the node's end only.
    const muted = new Map<string, FaultLogEvent>();
    const refuse = (why: string) => inconsistent.push({ label: node.label, why });
    for (const e of node.events ?? []) {
      if (!e.ok) continue;
      const kinds = STARTS[e.action];
      if (kinds) {
        if (node.startedAt === undefined) {
          refuse(
            `line ${e.line}: ${e.action}, but the node's started_at is missing or unreadable: the line cannot be placed in the run`,
          );
          continue;
        }
        const bad = inconsistency(e, node.startedAt, node.taskEndedAt);
        if (bad) {
          refuse(bad);
          continue;
        }
        if (!kinds.some((kind) => recordedEvent(mine, kind, e.atMs))) {
          refuse(
            `line ${e.line}: ${e.action} at ${human(e.atMs)}, but ${plan ? "the run's fault record names no such event on this node" : 'the run has no fault record (none in run.json)'}`,
          );
          continue;
        }
        const muteEvent =
          e.action === 'mute'
            ? (recordedEvent(mine, 'mute', e.atMs) ?? recordedEvent(mine, 'selective', e.atMs))
            : undefined;
        const wrongPeers = muteEvent && !muteEvent.source.startsWith('live:') && muteMismatch(e, schedules?.[i]);
        if (wrongPeers) {
          refuse(wrongPeers);
          continue;
        }
        if (e.action === 'restart' && !down) {
          refuse(`line ${e.line}: restart at ${human(e.atMs)}, but the node was not crashed or stopped before`);
          continue;
        }
      }
      const instant = ACTION_KIND[e.action];
      if (instant) {
        whys.push(reason(instant, e.atMs, recordedEvent(mine, instant, e.atMs), false));
        down = instant === 'restart' ? undefined : e;
      } else if (e.action === 'stop') paused = e;
      else if (e.action === 'cont') {
        ended('pause', paused, e);
        paused = undefined;
      } else if (e.action === 'slow') slowed = e;
      else if (e.action === 'unslow') {
        ended('slow', slowed, e);
        slowed = undefined;
      } else if (e.action === 'resume') {
        ended('pause', paused, e);
        ended('slow', slowed, e);
        paused = slowed = undefined;
      } else if (e.action === 'drop') for (const host of e.args) cut.set(host, cut.get(host) ?? e);
      else if (e.action === 'undrop' || e.action === 'heal') {
        const healed = e.action === 'heal' ? [...cut.keys()] : e.args.filter((h) => cut.has(h));
        const from = healed.map((h) => cut.get(h)!).sort((a, b) => a.atMs - b.atMs)[0];
        if (from && healed.length === cut.size)
          windows.push(`cut off from ${fewHosts(healed)} ${human(from.atMs)}–${human(e.atMs)}`);
        for (const host of healed) cut.delete(host);
      } else if (e.action === 'mute') for (const host of e.args) muted.set(host, muted.get(host) ?? e);
      // A live unmute names no peer: every mute still in place is undone.
      else if (e.action === 'unmute') {
        const unmuted = e.args.length ? e.args.filter((h) => muted.has(h)) : [...muted.keys()];
        const from = unmuted.map((h) => muted.get(h)!).sort((a, b) => a.atMs - b.atMs)[0];
        if (from && unmuted.length === muted.size) windows.push(`muted ${human(from.atMs)}–${human(e.atMs)}`);
        for (const host of unmuted) muted.delete(host);
      }
    }
    // Killed, stopped or paused for good, the node's log ends there; one that goes on was not.
    const stillLogging = [down, paused].find(
      (e) => e && node.logEndMs !== undefined && node.logEndMs > e.atMs + LOG_AFTER_SLACK_MS,
    );
    if (stillLogging) {
      refuse(
        `line ${stillLogging.line}: ${stillLogging.action} at ${human(stillLogging.atMs)}, but its gomel log goes on to ${human(node.logEndMs!)}`,
      );
      return;
    }
    const wrongExit = [down, paused].find(
      (e) => e && node.exitStatus !== undefined && EXIT_AFTER[e.action]?.includes(node.exitStatus) === false,
    );
    if (wrongExit) {
      refuse(
        `line ${wrongExit.line}: ${wrongExit.action} at ${human(wrongExit.atMs)}, but its gomel exited ${node.exitStatus}, not as a ${wrongExit.action === 'kill' ? 'killed' : 'stopped'} process does (${EXIT_AFTER[wrongExit.action]!.join(' or ')})`,
      );
      return;
    }
    // A planned window its node's log ended inside (a node paused, slowed or cut from 0 s to 20 s that
    // died at 6 s) says nothing for good: the fault was to end, so the node is judged by its own end.
    const windowOpen = (event: FaultEvent | undefined) =>
      event !== undefined &&
      !event.source.startsWith('live:') &&
      event.untilMs !== undefined &&
      (node.logEndMs === undefined || node.logEndMs < event.untilMs);
    const pauseEvent = paused && recordedEvent(mine, 'pause', paused.atMs);
    if (paused && !windowOpen(pauseEvent)) whys.push(reason('pause', paused.atMs, pauseEvent, true));
    const slowEvent = slowed && recordedEvent(mine, 'slow', slowed.atMs);
    if (slowed && !windowOpen(slowEvent)) whys.push(reason('slow', slowed.atMs, slowEvent, true, slowed.args[0]));
    if (cut.size) {
      const from = Math.min(...[...cut.values()].map((e) => e.atMs));
      const forGood = mine.find((e) => (e.kind === 'isolate' || e.kind === 'partition') && e.untilMs === undefined);
      // Cut from every other node: its cut must hold that many hosts, checked first (N × N at a large N).
      const cutFromAll =
        nodes.length > 1 && cut.size >= nodes.length - 1 && nodes.every((n, j) => j === i || cut.has(n.label));
      const first = [...cut.values()].find((e) => e.atMs === from)!;
      const cutEvent = recordedEvent(mine, 'isolate', first.atMs) ?? recordedEvent(mine, 'partition', first.atMs);
      if (forGood) whys.push(reason(forGood.kind, from, forGood, true));
      else if (!windowOpen(cutEvent) && cutFromAll)
        whys.push({ text: `cut off from every other node for good from ${human(from)}`, planned: false });
    }
    if (muted.size) {
      // Mute to some peer at its end: its peers missed what it said, whichever event (mute or selective) it was.
      const first = [...muted.values()].sort((a, b) => a.atMs - b.atMs)[0]!;
      const event = recordedEvent(mine, 'mute', first.atMs) ?? recordedEvent(mine, 'selective', first.atMs);
      whys.push(reason(event?.kind ?? 'mute', first.atMs, event, true));
    }
    if (windows.length) undone.push({ label: node.label, why: someNames(windows) });
    if (whys.length) applied.push({ label: node.label, why: joinReasons(whys) });
    else {
      const planned = faultyByPlan.find((p) => p.node === k);
      if (planned) notApplied.push({ label: node.label, why: planned.why });
    }
  });
  return { applied, notApplied, inconsistent, undone };
}

/** "node5, node6 and 2 more": the peers a node was cut from. */
function fewHosts(hosts: readonly string[]): string {
  return hosts.length <= 3 ? hosts.join(', ') : `${hosts.slice(0, 2).join(', ')} and ${hosts.length - 2} more`;
}
