// What was run, in the report (issue 21 item 7): the config knobs the figures
// depend on, and the network conditions each node applied. A run's throughput
// means little without its LevelLimit, NParents or the 80 ms between zones.
import type { Configuration } from '../config/model.js';

export interface RunSetup {
  /** The config file the figures were read against (the logs folder's conf.json, or --config). */
  configFile: string;
  levelLimit: number;
  nParents: number;
  canSkipLevel: boolean;
  primeOnly: boolean;
  createDelaySeconds: number;
  orderStartLevel: number;
  setup: string;
  /** gomel's sync services in the config's order, with their parameters as written. */
  sync: { type: string; params: Record<string, string>; fallback: string }[];
  /** Nodes grouped by the conditions they applied (network.txt); empty when no node recorded any. */
  network: { conditions: string; nodes: string[] }[];
}

/**
 * One node's network.txt as one line: "<self> -> <link> (<peers>): <conditions>" a line,
 * the peers counted rather than listed (at 64 nodes a list is a page long).
 */
export function networkLine(text: string): string {
  return text
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) =>
      l
        .replace(/^\S+ -> /, '')
        .replace(/\(([^)]*)\)/, (_, peers: string) => `(${peers.trim().split(/\s+/).length} peers)`),
    )
    .join('; ');
}

export function runSetup(
  config: Configuration,
  configFile: string,
  nodes: readonly { label: string; network?: string | undefined }[],
): RunSetup {
  const groups = new Map<string, string[]>();
  if (nodes.some((n) => n.network))
    for (const n of nodes)
      groups.set(n.network ?? 'none recorded', [...(groups.get(n.network ?? 'none recorded') ?? []), n.label]);
  return {
    configFile,
    levelLimit: config.LevelLimit,
    nParents: config.NParents,
    canSkipLevel: config.CanSkipLevel,
    primeOnly: config.PrimeOnly,
    createDelaySeconds: config.CreateDelay,
    orderStartLevel: config.OrderStartLevel,
    setup: config.Setup,
    sync: config.Sync.map((s) => ({ type: s.Type, params: { ...s.Params }, fallback: s.Fallback ?? '' })),
    network: [...groups].map(([conditions, labels]) => ({ conditions, nodes: labels })),
  };
}
