// How a node ended, judged apart from whether it reached consensus: gomel 2019-09
// often dies at exit after finishing (test/vectors/gomel-2019-09/logs/README.md,
// swarm-8: `panic: send on closed channel` in the fetch server, exit 2), and a
// node that exits 0 may lose the last lines of its log.
import type { LogStats } from './log-stats.js';
import { clip } from '../summary.js';
import { redactKeyMaterial } from '../keys/secrets.js';

export type ShutdownKind =
  | 'clean'
  | 'lost-last-lines'
  | 'crashed'
  | 'refused'
  | 'killed'
  | 'running'
  | 'lost'
  | 'swarm-stopped'
  | 'not-stopped'
  | 'unknown'
  | 'unreadable';

export interface Shutdown {
  kind: ShutdownKind;
  /** One line: "panic: send on closed channel at pkg/sync/fetch/server.go:79", "exit 137", … */
  detail: string;
  /** A crash in gomel's own shutdown race (isShutdownRace). */
  race?: boolean;
}

interface GoPanic {
  message: string; // "panic: send on closed channel"
  /** The topmost consensus-go frame, relative to the module: "pkg/sync/fetch/server.go:79". */
  frame: string | undefined;
}

/** Reads a Go panic (or fatal error) from a process's stderr. */
export function parseGoPanic(stderr: string | undefined): GoPanic | undefined {
  if (!stderr) return undefined;
  const lines = stderr.split('\n');
  const start = lines.findIndex((l) => /^(panic: |fatal error: )/.test(l));
  if (start < 0) return undefined;
  let frame: string | undefined;
  for (const line of lines.slice(start + 1)) {
    const m = /consensus-go\/((?:pkg|cmd)\/[^\s:]+\.go:\d+)/.exec(line);
    if (m) {
      frame = m[1];
      break;
    }
  }
  // A panic's message is one line of Go's, but a hostile stderr can make it megabytes: the head is enough.
  return { message: clip(redactKeyMaterial(lines[start]!.trim()), 200), frame };
}

/** gomel's own shutdown race: a unit arriving after a sync service closed its channel. */
export function isShutdownRace(p: GoPanic): boolean {
  return p.message === 'panic: send on closed channel' && (p.frame?.startsWith('pkg/sync/') ?? false);
}

// Exit statuses of a process ended from outside: timeout(1), SIGKILL, SIGTERM.
const KILLED = new Map([
  [124, 'killed by a timeout (exit 124)'],
  [137, 'killed (SIGKILL, exit 137)'],
  [143, 'terminated (SIGTERM, exit 143)'],
]);

interface ShutdownEvidence {
  stats: LogStats | undefined;
  exitStatus: number | undefined; // gomel's own, from run.sh's exit_status
  /** Why exit_status, present, is no exit status: gomel's end is then unknown, whatever the log shows. */
  exitStatusProblem?: string | undefined;
  stderr: string | undefined;
  /** The Swarm task's state when the logs were collected ("running", "complete", "failed", …), if known. */
  taskState: string | undefined;
  taskExitCode: number | undefined;
  /** The swarm node that ran the task went down (a worker that left or died). */
  hostDown?: { host: string | undefined };
  /** Swarm shut the task down itself (swarmStopped): its host declared down, its tasks stopped. */
  swarmStopped?: { host: string | undefined };
}

/**
 * Swarm stopped the task, not gomelctl and not its node: the task ended in state "shutdown" with
 * "shutdown" desired (gomelctl never sets a task's desired state, and a task that ends by itself is
 * "complete" or "failed" before Swarm marks it shutdown). Seen when a host that missed its heartbeats
 * (a loaded lab at --dispatcher-heartbeat 1s) registers again: the orchestrator had shut its tasks.
 */
export const stoppedBySwarm = (
  task: { state?: string; desiredState?: string; exitCode?: number } | undefined,
  hostDeclaredDown = false,
): boolean =>
  task?.desiredState === 'shutdown' &&
  (task.state === 'shutdown' ||
    // The agent of a host that registers again races its own shutdown: the container ends on the SIGTERM
    // while the agent still waits on it, and the task ends "failed" (exit 143), not "shutdown" (seen once
    // in four fresh-clone runs of the lab's 22 s freeze: one of the host's two nodes each way). Then only
    // the manager's record that the host was declared down tells the swarm's doing from a node's end.
    (hostDeclaredDown && task.state === 'failed' && (task.exitCode === 143 || task.exitCode === 137)));

const firstLine = (s: string) => clip(redactKeyMaterial(s.trim().split('\n')[0]!), 200);

/**
 * gomel's own word that its log lost lines: its logger writes through zerolog's diode, a ring of
 * LogBuffer entries (conf.json), and when the writer falls that far behind the diode drops entries
 * and gomel prints "WARNING: Dropped <n> log entries" on stderr (consensus-go e8d0088,
 * pkg/logging/log_config.go). A loaded host or a small LogBuffer does it; ordered units' lines go
 * with the rest.
 */
const DROPPED_ENTRIES = /^WARNING: Dropped (\d{1,15}) log entries$/;

/** The log entries gomel says it dropped, by its stderr: 0 when it says none. */
export function droppedLogEntries(stderr: string | undefined): number {
  let dropped = 0;
  for (const line of (stderr ?? '').split('\n')) dropped += Number(DROPPED_ENTRIES.exec(line.trim())?.[1] ?? 0);
  return dropped;
}

/**
 * The diode's other word under the same pressure: a writer that found its slot not yet read tries the
 * next (zerolog's diode/internal/diodes/many_to_one.go, through Go's log package: a date and time
 * first). Nothing is lost by it; what is, "Dropped" says.
 */
const DIODE_COLLISION = /^(\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d )?Diode set collision: consider using a larger diode$/;

/** A stderr without gomel's log diode's warnings: what it says beside them (an error, a panic). */
export const stderrBesideDrops = (stderr: string | undefined): string =>
  (stderr ?? '')
    .split('\n')
    .filter((line) => !DROPPED_ENTRIES.test(line.trim()) && !DIODE_COLLISION.test(line.trim()))
    .join('\n')
    .trim();

export function judgeShutdown(e: ShutdownEvidence): Shutdown {
  if (e.hostDown && e.exitStatus === undefined)
    return { kind: 'lost', detail: `its host ${e.hostDown.host ?? '?'} went down: it left the swarm or died` };
  if (e.swarmStopped)
    return {
      kind: 'swarm-stopped',
      detail: `stopped by the swarm on host ${e.swarmStopped.host ?? '?'} (its task shut down; the host was declared down)`,
    };
  if (e.exitStatus === undefined && e.taskState === 'running')
    return { kind: 'running', detail: 'still running when the logs were collected' };
  const panic = parseGoPanic(e.stderr);
  if (panic)
    return {
      kind: 'crashed',
      detail: `${panic.message}${panic.frame ? ` at ${panic.frame}` : ''}`,
      race: isShutdownRace(panic),
    };
  if (e.exitStatusProblem) return { kind: 'unreadable', detail: e.exitStatusProblem };
  const status = e.exitStatus ?? (e.taskState && e.taskState !== 'running' ? e.taskExitCode : undefined);
  const stopped =
    e.stats !== undefined && e.stats.servicesStarted > 0 && e.stats.servicesStopped >= e.stats.servicesStarted;
  if (status === undefined) {
    if (stopped) return { kind: 'clean', detail: 'stopped its services' };
    return e.stats
      ? { kind: 'not-stopped', detail: 'no exit status, and its services never stopped' }
      : { kind: 'unknown', detail: 'no log and no exit status' };
  }
  const killed = KILLED.get(status);
  if (killed) return { kind: 'killed', detail: killed };
  const said = stderrBesideDrops(e.stderr);
  if (status !== 0) return { kind: 'crashed', detail: `exit ${status}${said ? `: ${firstLine(said)}` : ''}` };
  // gomel exits 0 also when it refuses its input, saying why on stderr.
  if (said) return { kind: 'refused', detail: `exit 0 after an error: ${firstLine(said)}` };
  if (stopped) return { kind: 'clean', detail: 'exit 0, services stopped' };
  return { kind: 'lost-last-lines', detail: 'exit 0, but the log ends before its services stopped (last lines lost)' };
}
