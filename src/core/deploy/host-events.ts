// When the swarm declared a host down (issue 36). The manager's engine records each
// change of a swarm node's state as an event (GET /events, type "node", action
// "update", Actor.Attributes "state.old" / "state.new" and the host's name):
//   {"Type":"node","Action":"update","Actor":{"ID":"…","Attributes":{"name":"gl-h3",
//    "state.new":"down","state.old":"ready"}},"time":1796623888,"timeNano":…}
// A host whose heartbeats the dispatcher missed goes down and, alive, ready again
// within seconds; its tasks the orchestrator has meanwhile shut down. Pure.
import { z } from 'zod';
import { readJsonAs } from '../json-input.js';

/** A node event as the engine streams it; anything else on the stream is skipped. */
const NODE_EVENT = z.object({
  Type: z.literal('node'),
  Actor: z.object({
    Attributes: z.object({ name: z.string(), 'state.old': z.string().optional(), 'state.new': z.string().optional() }),
  }),
  time: z.number().optional(),
  timeNano: z.number().optional(),
});

export interface HostStateChange {
  host: string;
  from: string;
  to: string;
  /** Epoch seconds, with the fraction timeNano gives. */
  atSeconds: number;
}

/** The node state changes in an events stream's JSON lines; other lines and events are skipped. */
export function parseHostStateChanges(text: string): HostStateChange[] {
  const changes: HostStateChange[] = [];
  for (const line of text.split('\n')) {
    const event = line.trim() ? readJsonAs(line, NODE_EVENT) : undefined;
    const a = event?.Actor.Attributes;
    if (!event || !a || a['state.new'] === undefined) continue;
    const at = event.timeNano !== undefined ? event.timeNano / 1e9 : event.time;
    if (at === undefined || !Number.isFinite(at)) continue;
    changes.push({ host: a.name, from: a['state.old'] ?? '', to: a['state.new'], atSeconds: at });
  }
  return changes.sort((x, y) => x.atSeconds - y.atSeconds);
}

/** The last time `host` was declared down at or before `beforeSeconds` (a task it ran was shut down then), if recorded. */
export function declaredDownAt(
  changes: readonly HostStateChange[],
  host: string | undefined,
  beforeSeconds: number,
): number | undefined {
  const downs = changes.filter((c) => c.host === host && c.to === 'down' && c.atSeconds <= beforeSeconds);
  return downs[downs.length - 1]?.atSeconds;
}

/**
 * The swarm's dispatcher heartbeat gomelctl's `cluster init` sets, in nanoseconds (the Engine
 * API's SwarmSpec.Dispatcher.HeartbeatPeriod). A host that misses three is declared down and
 * its tasks are shut down when it registers again. Docker's default, chosen by measurement
 * (issue 36): 32 real gomel nodes over 3 hosts on 2 cores came up to 3.3 s late, which at 1 s
 * shut healthy hosts' nodes down (docs/several-hosts.md#heartbeats).
 */
export const HEARTBEAT_PERIOD_NS = 5_000_000_000;

/** What `cluster init` says of an existing swarm's heartbeat; a warning below gomelctl's period. */
export function describeHeartbeat(periodNs: number | undefined): { text: string; warning?: string } {
  if (periodNs === undefined || !Number.isFinite(periodNs) || periodNs <= 0) return { text: 'heartbeat unknown' };
  const seconds = periodNs / 1e9;
  const text = `heartbeat ${seconds} s`;
  if (periodNs >= HEARTBEAT_PERIOD_NS) return { text };
  return {
    text,
    warning: `cluster: the swarm's heartbeat is ${seconds} s: a host busy for ${3 * seconds} s is declared down and the swarm stops its nodes; under load raise it with \`docker swarm update --dispatcher-heartbeat 5s\` (docs/several-hosts.md#heartbeats)`,
  };
}
