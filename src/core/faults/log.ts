// faults.log, as templates/faults.sh writes it beside gomel's logs (one line per
// applied action), read back for the verdict and the report. Pure. A malformed
// line (a node killed mid-write, a hand-edited file) is reported with its reason,
// never thrown: the rest of the record still counts.
//   <wall clock s.micros> <ms after start> <action> [args] ok
//   <wall clock s.micros> <ms after start> <action> [args] failed: <reason>

import { clip } from '../summary.js';

export interface FaultLogEvent {
  /** Line number in faults.log (1-based). */
  line: number;
  /** Wall-clock seconds (epoch) when the node applied it. */
  wall: number;
  /** Planned time, ms after the common start. */
  atMs: number;
  action: string;
  args: string[];
  ok: boolean;
  /** Why it failed, as the node saw it (e.g. iptables' message). */
  reason?: string;
}

export interface FaultLogProblem {
  line: number;
  text: string;
  reason: string;
}

export interface FaultsLog {
  events: FaultLogEvent[];
  malformed: FaultLogProblem[];
}

/** Actions and how many arguments each takes ("schedule" is faults.sh's own: GOMEL_FAULTS did not decode). */
const ARITY: Record<string, [number, number]> = {
  kill: [0, 0],
  term: [0, 0],
  stop: [0, 0],
  cont: [0, 0],
  restart: [0, 0],
  unslow: [0, 0],
  slow: [1, 1],
  drop: [1, Infinity],
  undrop: [1, Infinity],
  mute: [1, Infinity],
  // Planned: the peers it was mute to; live (gomelctl fault unmute): none, every mute undone.
  unmute: [0, Infinity],
  schedule: [0, 0],
  // Live only (gomelctl fault, core/faults/live.ts): a pause or slow let go; every drop undone.
  resume: [0, 0],
  heal: [0, 0],
  // A twin's halves, set before gomel starts (faults.sh apply_twin): "twin drop <host> …", "twin alias <name> <host>".
  twin: [1, Infinity],
};

export function parseFaultsLog(text: string): FaultsLog {
  const events: FaultLogEvent[] = [];
  const malformed: FaultLogProblem[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const bad = (reason: string) => malformed.push({ line: i + 1, text: line, reason });
    // Lazy args: the status is the first " failed: " (its reason may say anything) or a final " ok".
    const m = /^(\d+(?:\.\d+)?) (\d+) ([a-z]+)((?: \S+)*?) (ok|failed: .*)$/.exec(line);
    if (!m) return bad('not "<wall seconds> <ms> <action> [args] ok|failed: <reason>"');
    const [, wall, ms, action, argText, status] = m as unknown as [string, string, string, string, string, string];
    const arity = ARITY[action];
    if (!arity) return bad(`unknown action "${clip(action, 20)}"`);
    const args = argText.split(' ').filter((a) => a !== '');
    if (args.length < arity[0] || args.length > arity[1])
      return bad(
        `${action} takes ${arity[0] === arity[1] ? arity[0] : `at least ${arity[0]}`} argument(s), not ${args.length}`,
      );
    if (action === 'slow' && !(Number(args[0]) > 0 && Number(args[0]) < 1))
      return bad(`slow ${args[0]}: not a CPU fraction between 0 and 1`);
    const event: FaultLogEvent = {
      line: i + 1,
      wall: Number(wall),
      atMs: Number(ms),
      action,
      args,
      ok: status === 'ok',
    };
    if (status !== 'ok') event.reason = status.slice('failed: '.length).trim();
    events.push(event);
  });
  return { events, malformed };
}
