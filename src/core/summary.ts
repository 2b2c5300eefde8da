// What a command says about many nodes is a summary (issue 35): how many of each
// kind, the first few names (someNames), and where the full list is — never a
// line that grows with N. A failed probe verdict at 128 nodes was one line of
// about 40 KB (every node with three addresses), printed twice.
import { someNames } from './logs/logs-folder.js';
import { clip } from './bounded.js';

/**
 * Up to this many nodes a command prints a line for each; beyond, it summarises and
 * the lines go to a file or a flag. 16 is the largest committee of the vendored real
 * runs (test/vectors/real-runs/lab16): its lines and a summary fit one screen.
 */
export const PER_NODE_LINES_UP_TO = 16;

export { clip };

export interface NameGroup {
  key: string;
  names: string[];
}

/** Names grouped by a key, the largest group first, equal ones in the order first seen. */
export function groupNames<T>(items: Iterable<T>, key: (x: T) => string, name: (x: T) => string): NameGroup[] {
  const groups = new Map<string, string[]>();
  for (const x of items) {
    const k = key(x);
    const names = groups.get(k) ?? [];
    names.push(name(x));
    groups.set(k, names);
  }
  return [...groups].map(([k, names]) => ({ key: k, names })).sort((a, b) => b.names.length - a.names.length);
}

/**
 * One line per group, '<count> <key>: a, b, c and 5 more' (the key clipped), at most
 * `max` of them, then how many groups more: as many lines whatever N.
 */
export function groupLines(groups: readonly NameGroup[], max = 3): string[] {
  const lines = groups.slice(0, max).map((g) => `${g.names.length} ${clip(g.key)}: ${someNames(g.names)}`);
  const rest = groups.slice(max);
  if (rest.length)
    lines.push(
      `${rest.reduce((sum, g) => sum + g.names.length, 0)} more in ${rest.length} other kind(s): ${someNames(rest.flatMap((g) => g.names))}`,
    );
  return lines;
}

/** '250 running, 3 complete, 3 failed': how many of each kind, the largest first. */
export function countsLine(groups: readonly NameGroup[]): string {
  return groups.map((g) => `${g.names.length} ${g.key}`).join(', ');
}
