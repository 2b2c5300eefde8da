// Was the machine, not gomel, the limit? Each node records its container's CPU time
// (its cgroup's cpu.stat usage_usec, cgroup v2; cpuacct.usage on v1) and the CPUs it
// sees, when gomel starts and when it ends (templates/node-lib.sh record_cpu, the file
// cpu_usage). The nodes of one host together kept `busy` of its CPUs busy over the run:
// their CPU time over the host's CPU time available from the first start to the last end.
// A lower bound of the host's load: the engine, the overlay and anything else on the host
// are not counted. At 32 real nodes on this lab's 2 cores gomel's latency grew with N
// because the host was saturated, not the protocol: such a run is marked host-bound.
import { minOf, maxOf } from '../bounded.js';

/** A host whose nodes kept at least this share of its CPUs busy over the run made the run host-bound. */
export const HOST_BOUND_BUSY = 0.9;

export interface CpuReading {
  /** Wall clock, epoch seconds. */
  wallSeconds: number;
  /** The container's CPU time so far, µs. */
  usageMicros: number;
  /** The CPUs the container sees (nproc). */
  cpus: number;
}

export interface CpuUsage {
  start: CpuReading;
  end: CpuReading;
}

/**
 * A node's cpu_usage: lines "<phase> <wall seconds> <usage µs> <cpus>", phase start or end
 * (a restarted gomel's readings come later: the first start and the last end count).
 * Undefined unless both a start and an end read, in order.
 */
export function parseCpuUsage(text: string): CpuUsage | undefined {
  let start: CpuReading | undefined;
  let end: CpuReading | undefined;
  for (const line of text.split('\n')) {
    const m = /^(start|end) (\d+(?:\.\d+)?) (\d+) (\d+)\s*$/.exec(line);
    if (!m) continue;
    const reading = { wallSeconds: Number(m[2]), usageMicros: Number(m[3]), cpus: Number(m[4]) };
    if (m[1] === 'start') start ??= reading;
    else end = reading;
  }
  if (!start || !end || end.wallSeconds < start.wallSeconds || end.usageMicros < start.usageMicros || start.cpus < 1)
    return undefined;
  // A container uses at most its CPUs for the time between: more is no reading (one node's cpu_usage
  // of 400 digits made the report call the run HOST-BOUND at Infinity %: hostile pass 20). A second
  // of slack for the two clocks read apart.
  const seconds = (end.usageMicros - start.usageMicros) / 1e6;
  if (!(seconds <= (end.wallSeconds - start.wallSeconds + 1) * Math.max(start.cpus, end.cpus))) return undefined;
  return { start, end };
}

export interface HostLoadFigures {
  /** The swarm node the nodes ran on (deploy logs' task.json), '?' when not recorded. */
  host: string;
  /** How many of the run's nodes ran there and recorded their CPU time. */
  nodes: number;
  cpus: number;
  /** The nodes' CPU time, summed. */
  cpuSeconds: number;
  /** From the first node's start to the last node's end there. */
  wallSeconds: number;
  /** cpuSeconds / (wallSeconds × cpus): 1 is every CPU busy all the time. */
  busy: number;
}

export interface HostLoad {
  hosts: HostLoadFigures[];
  /** The busiest host's share. */
  busiest: number;
  /** Some host was at least HOST_BOUND_BUSY busy: the figures measured the machine as much as gomel. */
  hostBound: boolean;
  /** Nodes with a log but no CPU record (an older image, no cgroup): their load is not counted. */
  unrecorded: number;
}

/** The run's host load from each node's CPU record, grouped by host; undefined when no node recorded one. */
export function hostLoad(
  nodes: readonly { cpu?: CpuUsage | undefined; host?: string | undefined; logged: boolean }[],
): HostLoad | undefined {
  const groups = new Map<string, CpuUsage[]>();
  for (const n of nodes) if (n.cpu) groups.set(n.host ?? '?', [...(groups.get(n.host ?? '?') ?? []), n.cpu]);
  if (groups.size === 0) return undefined;
  const hosts = [...groups].flatMap(([host, cpus]): HostLoadFigures[] => {
    const wallSeconds = maxOf(cpus.map((c) => c.end.wallSeconds))! - minOf(cpus.map((c) => c.start.wallSeconds))!;
    // The host's CPUs as most of its nodes saw them, and no node more CPU time than those CPUs had over
    // its own run: one node's record (its own file) cannot make its host idle or HOST-BOUND (hostile pass 21:
    // a cpu_usage of 99999999999 CPUs made a loaded host 0 % busy).
    const counts = cpus.map((c) => c.start.cpus).sort((a, b) => a - b);
    const count = counts[Math.floor((counts.length - 1) / 2)]!;
    const cpuSeconds = cpus.reduce(
      (sum, c) =>
        sum +
        Math.min(
          (c.end.usageMicros - c.start.usageMicros) / 1e6,
          (c.end.wallSeconds - c.start.wallSeconds + 1) * count,
        ),
      0,
    );
    if (!(wallSeconds > 0)) return [];
    return [
      { host, nodes: cpus.length, cpus: count, cpuSeconds, wallSeconds, busy: cpuSeconds / (wallSeconds * count) },
    ];
  });
  if (hosts.length === 0) return undefined;
  const busiest = maxOf(hosts.map((h) => h.busy))!;
  return {
    hosts,
    busiest,
    hostBound: busiest >= HOST_BOUND_BUSY,
    unrecorded: nodes.filter((n) => n.logged && !n.cpu).length,
  };
}

/** The headline's part: "HOST-BOUND: the nodes kept 96% of the host's 2 CPUs busy", or "host 41% busy". */
export function hostLoadText(load: HostLoad): string {
  const top = load.hosts.find((h) => h.busy === load.busiest)!;
  const where = load.hosts.length > 1 ? `host ${top.host}'s` : "the host's";
  const pct = `${Math.round(load.busiest * 100)}%`;
  return load.hostBound
    ? `HOST-BOUND: the nodes kept ${pct} of ${where} ${top.cpus} CPUs busy`
    : `host ${pct} busy (${top.cpus} CPUs)`;
}
