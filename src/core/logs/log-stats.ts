// What one gomel log says, read line by line (test/vectors/gomel-2019-09/logs/README.md):
//   "E":"D" a prime unit was created, Q its level (a healthy node reaches LevelLimit);
//   "E":"E" a timing unit (round R);  "E":"Z" one ordered unit (creator C, height H);
//   "E":"A"/"B" a service started/stopped: a node that exits by itself stops all it started.
import { jsonText } from '../json-input.js';

export interface LogStats {
  lines: number;
  maxLevel: number | undefined;
  timingRounds: number;
  /** The highest round R of a timing unit ("E" lines), if any. */
  maxRound: number | undefined;
  /** Ordered units as "C:H", in order. */
  order: string[];
  servicesStarted: number;
  servicesStopped: number;
  errors: Map<string, number>;
  malformedLines: number;
}

export function newLogStats(): LogStats {
  return {
    lines: 0,
    maxLevel: undefined,
    timingRounds: 0,
    maxRound: undefined,
    order: [],
    servicesStarted: 0,
    servicesStopped: 0,
    errors: new Map(),
    malformedLines: 0,
  };
}

// Most lines are sync chatter; only the few event kinds we need are parsed.
const EVENT = /"E":"([^"]*)"/;
/** Longer lines are not gomel's (its longest are a few hundred bytes): counted as malformed, never parsed. */
export const MAX_LINE = 64 * 1024;

export function addLogLine(stats: LogStats, line: string): void {
  if (line.trim() === '') return;
  stats.lines++;
  const event = line.length > MAX_LINE ? undefined : EVENT.exec(line)?.[1];
  if (event === undefined) {
    stats.malformedLines++;
    return;
  }
  const wanted = event === 'D' || event === 'Z' || event === 'E' || event === 'A' || event === 'B';
  const isError = line.includes('"L":"3"');
  if (!wanted && !isError) return;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    stats.malformedLines++;
    return;
  }
  if (isError) {
    // Group errors by their text without addresses and numbers: "dial tcp …: connection refused".
    const key = jsonText(record.E)
      .replace(/\d+(\.\d+){3}(:\d+)?/g, '…')
      .replace(/\d+/g, 'N');
    stats.errors.set(key, (stats.errors.get(key) ?? 0) + 1);
    return;
  }
  switch (event) {
    case 'D':
      if (typeof record.Q === 'number') stats.maxLevel = Math.max(stats.maxLevel ?? -1, record.Q);
      break;
    case 'E':
      stats.timingRounds++;
      if (typeof record.R === 'number') stats.maxRound = Math.max(stats.maxRound ?? -1, record.R);
      break;
    case 'Z':
      stats.order.push(`${jsonText(record.C)}:${jsonText(record.H)}`);
      break;
    case 'A':
      stats.servicesStarted++;
      break;
    case 'B':
      stats.servicesStopped++;
      break;
  }
}

// Dialing, EOF and accept time-outs are normal while peers start and stop
// (logs/README.md): name the most frequent error that is not such noise.
const NETWORK_NOISE = /dial tcp|EOF|i\/o timeout|connection (refused|reset)|broken pipe/;

export function topError(stats: LogStats): string | undefined {
  const sorted = [...stats.errors].sort((a, b) => b[1] - a[1]);
  const [text, count] = sorted.find(([t]) => !NETWORK_NOISE.test(t)) ?? sorted[0] ?? [];
  return text ? `${count}× "${text}"` : undefined;
}
