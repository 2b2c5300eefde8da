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
  /** Transactions per unit of gomel's load generator (core/report/throughput.ts). */
  txpu: number;
  /** gomel's sync services in the config's order, with their parameters as written. */
  sync: { type: string; params: Record<string, string>; fallback: string }[];
  /** Nodes grouped by the conditions they applied (network.txt); empty when no node recorded any. */
  network: { conditions: string; nodes: string[] }[];
  /** The images the nodes ran (deploy logs' task.json), each once; empty for logs collected before it was recorded. */
  images: string[];
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
  nodes: readonly { label: string; network?: string | undefined; image?: string | undefined }[],
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
    txpu: config.Txpu,
    sync: config.Sync.map((s) => ({ type: s.Type, params: { ...s.Params }, fallback: s.Fallback ?? '' })),
    network: [...groups].map(([conditions, labels]) => ({ conditions, nodes: labels })),
    images: [...new Set(nodes.flatMap((n) => (n.image ? [n.image] : [])))],
  };
}

/** A sync service's parameters and fallback in words: "nIn=2, nOut=1; fallback gossip". */
const syncText = (x: RunSetup['sync'][number]): string =>
  `${
    Object.entries(x.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ') || 'no parameters'
  }; fallback ${x.fallback || 'none'}`;

/** The config's knobs besides LevelLimit, in words, in the config's order. */
export const configKnobs = (s: RunSetup): [string, string][] => [
  ['NParents', String(s.nParents)],
  ['CanSkipLevel', String(s.canSkipLevel)],
  ['PrimeOnly', String(s.primeOnly)],
  ['CreateDelay', `${s.createDelaySeconds} s`],
  ['OrderStartLevel', String(s.orderStartLevel)],
  ['Setup', s.setup],
  ['Txpu', `${s.txpu} (transactions of 100 bytes per unit)`],
  ...s.sync.map((x): [string, string] => [x.type, syncText(x)]),
];

/**
 * The knobs to compare runs by. NParents equal to the committee size reads "N (the committee
 * size)": runs of 8 and 64 nodes that both take every node as a parent are alike in it.
 */
function knobs(s: RunSetup, n: number): Map<string, string> {
  return new Map(
    configKnobs(s).map(([k, v]) => [k, k === 'NParents' && s.nParents === n ? 'N (the committee size)' : v]),
  );
}

/** Several runs' setups side by side: what they share is said once, what differs per run. */
export interface ComparedSetups {
  /** Knobs with one value in every run whose config was found, in the config's order. */
  shared: [string, string][];
  /** Per run, the knobs whose values differ between runs; undefined for a run whose config was not found. */
  differing: ([string, string][] | undefined)[];
}

/**
 * Splits runs' config knobs into those alike in all and those that differ (a sync
 * service one run has and another has not differs: "not run"). LevelLimit is left
 * to the caller, which shows it for every run: it is what the figures are read against.
 */
export function compareSetups(runs: readonly { setup: RunSetup | undefined; nodes: number }[]): ComparedSetups {
  const each = runs.map((r) => (r.setup ? knobs(r.setup, r.nodes) : undefined));
  const found = each.filter((k): k is Map<string, string> => k !== undefined);
  const names = [...new Set(found.flatMap((k) => [...k.keys()]))];
  const valueIn = (k: Map<string, string>, name: string) => k.get(name) ?? 'not run';
  const alike = (name: string) => new Set(found.map((k) => valueIn(k, name))).size === 1;
  return {
    shared: found.length ? names.filter(alike).map((name) => [name, valueIn(found[0]!, name)]) : [],
    differing: each.map((k) => k && names.filter((name) => !alike(name)).map((name) => [name, valueIn(k, name)])),
  };
}

/** The network conditions of a run in one line: one group's conditions, or each group's with its size. */
export function networkSummary(s: RunSetup): string {
  if (s.network.length === 0) return 'none';
  if (s.network.length === 1) return s.network[0]!.conditions;
  return s.network
    .map((g) => `${g.nodes.length === 1 ? g.nodes[0] : `${g.nodes.length} nodes`}: ${g.conditions}`)
    .join('; ');
}

/** An image reference with its digest cut to 12 hex digits, as docker prints image ids: enough to tell builds apart. */
export const shortImage = (ref: string): string => ref.replace(/@sha256:([0-9a-f]{12})[0-9a-f]{52}$/, '@sha256:$1');
