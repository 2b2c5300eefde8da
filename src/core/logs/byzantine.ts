// A node that lied (issue 34): a twin — one key run as two instances, each reachable by part of the
// committee (Bano et al., "Twins", arXiv 2004.10617) — and what the other nodes' logs say about it.
// Pure. What gomel e8d0088 logs, from its source:
//   - no unit hash anywhere a unit is created or ordered: "C"/"D" (created, with its level),
//     "Z" (ordered, with creator C and height H only: pkg/process/tx/validate/service.go:43);
//   - both versions of a forked unit are ordered: the order keeps units by hash
//     (pkg/linear/ordering.go TimingRound), so a node that holds both orders (C, H) twice;
//   - a unit that shows a fork where the rules forbid it is refused with a ComplianceError,
//     logged as an error line ("A unit is evidence of self forking", "Some parent has evidence
//     of another parent being a forker": pkg/dag/check/parental_compliance.go); correct nodes
//     also stop choosing a forker's units as parents (pkg/creating/creating.go getCandidatesAtLevel).
// So a twin's equivocation shows as both instances creating units under one pid, and a correct
// node's sight of it as a (C, H) of that pid ordered twice, or a fork error. Two correct nodes that
// ordered different versions at one (C, H) look alike in these logs: agreement is judged by (C, H).
import { unitText, type LogStats } from './log-stats.js';

export interface TwinRun {
  /** The twinned node's pid (gomel's creator C of its units). */
  pid: number;
  /** Its own instance's label ("node3") and its twin's ("node3-twin"). */
  label: string;
  twinLabel: string;
  own: LogStats | undefined;
  twin: LogStats | undefined;
  /** The nodes (1-based) that reach each instance, as the run's record says. */
  groups?: number[][];
  /** Why the twin did not run as planned by its instances' own faults.log (their drop rules missing). */
  unapplied?: string;
}

/** What one correct node's log shows of one liar. */
export interface Sighting {
  label: string;
  /** Heights of the liar's units this node ordered twice: both versions. */
  twiceHeights: number[];
  /** T (ms since its gomel started) of the first unit it ordered in its second version: it held both by then. */
  bothByMs: number | undefined;
  forkErrors: number;
  firstForkErrorMs: number | undefined;
  /** The earlier of the two: when its log first shows the fork. */
  detectedMs: number | undefined;
  /** The liar's units it ordered strictly after detectedMs, and the last of the liar's units it ordered. */
  orderedAfter: number;
  last: { height: number; ms: number } | undefined;
}

export interface Liar {
  pid: number;
  label: string;
  twinLabel: string;
  /** Units each instance created: both created, so both signed units as this pid. */
  created: [number, number];
  groups?: number[][];
  /** Heights ordered in two versions by some correct node, ascending. */
  equivocated: number[];
  seenBy: Sighting[];
}

export interface ByzantineFindings {
  liars: Liar[];
  /** A twin planned that did not run as two instances: it lied to nobody, and the node is judged as any. */
  notRun: { label: string; why: string }[];
}

const HEIGHTS = 2 ** 32;

/** The twins that ran as two instances that both created units: the liars, by their own logs. */
export function twinsThatRan(twins: readonly TwinRun[]): {
  ran: TwinRun[];
  notRun: ByzantineFindings['notRun'];
} {
  const ran: TwinRun[] = [];
  const notRun: ByzantineFindings['notRun'] = [];
  for (const t of twins) {
    const missing = [t.own ? undefined : t.label, t.twin ? undefined : t.twinLabel].filter(Boolean);
    const idle = [t.own, t.twin].flatMap((s, i) => (s && s.created === 0 ? [i ? t.twinLabel : t.label] : []));
    if (missing.length) notRun.push({ label: t.label, why: `twin planned, but ${missing.join(' and ')} left no log` });
    else if (t.unapplied) notRun.push({ label: t.label, why: `twin planned, but ${t.unapplied}` });
    else if (idle.length)
      notRun.push({ label: t.label, why: `twin planned, but ${idle.join(' and ')} created no unit` });
    else ran.push(t);
  }
  return { ran, notRun };
}

/** One correct node's order read for the liar's units (creator `pid`). */
export function sighting(label: string, s: LogStats, pid: number): Sighting {
  const seen = new Set<number>();
  const twice: number[] = [];
  let bothByMs: number | undefined;
  let last: Sighting['last'];
  s.order.forEach((unit, i) => {
    if (Math.floor(unit / HEIGHTS) !== pid) return;
    const height = unit % HEIGHTS;
    const ms = s.orderMs[i] ?? -1;
    if (seen.has(height)) {
      twice.push(height);
      if (bothByMs === undefined && ms >= 0) bothByMs = ms;
    }
    seen.add(height);
    if (ms >= 0) last = { height, ms };
  });
  const signs = [bothByMs, s.firstForkErrorMs].filter((t): t is number => t !== undefined);
  const detectedMs = signs.length ? Math.min(...signs) : undefined;
  const orderedAfter =
    detectedMs === undefined
      ? 0
      : s.order.filter((unit, i) => Math.floor(unit / HEIGHTS) === pid && (s.orderMs[i] ?? -1) > detectedMs).length;
  return {
    label,
    twiceHeights: twice.sort((a, b) => a - b),
    bothByMs,
    forkErrors: s.forkErrors,
    firstForkErrorMs: s.firstForkErrorMs,
    detectedMs,
    orderedAfter,
    last,
  };
}

/** The liars (twins that ran), each with what the correct nodes' logs show of it. */
export function judgeTwins(
  twins: readonly TwinRun[],
  correct: readonly { label: string; stats: LogStats | undefined }[],
): ByzantineFindings {
  const { ran, notRun } = twinsThatRan(twins);
  const liars = ran.map((t): Liar => {
    const seenBy = correct.flatMap((c) => (c.stats ? [sighting(c.label, c.stats, t.pid)] : []));
    return {
      pid: t.pid,
      label: t.label,
      twinLabel: t.twinLabel,
      created: [t.own!.created, t.twin!.created],
      ...(t.groups ? { groups: t.groups } : {}),
      equivocated: [...new Set(seenBy.flatMap((x) => x.twiceHeights))].sort((a, b) => a - b),
      seenBy,
    };
  });
  return { liars, notRun };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** 1,2,3,7 → "1–3, 7" (a few runs, and how many more). */
export function heightRanges(heights: readonly number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < heights.length;) {
    let j = i;
    while (j + 1 < heights.length && heights[j + 1] === heights[j]! + 1) j++;
    runs.push(j > i ? `${heights[i]}–${heights[j]}` : `${heights[i]}`);
    i = j + 1;
  }
  return runs.length > 4 ? `${runs.slice(0, 4).join(', ')} and ${runs.length - 4} more runs` : runs.join(', ');
}

/** "node3 lied: equivocated — …": who lied and how, from the twins' own logs and the record. */
export function liarLine(l: Liar, hosts: readonly string[]): string {
  const names = (g: readonly number[]) => g.map((k) => hosts[k - 1] ?? `node${k}`);
  const few = (g: readonly number[]) => {
    const n = names(g);
    return n.length > 4 ? `${n.slice(0, 3).join(', ')} and ${n.length - 3} more` : n.join(', ');
  };
  const halves = l.groups
    ? ` (${l.label} reached by ${few(l.groups[0] ?? [])}; ${l.twinLabel} by ${few(l.groups[1] ?? [])})`
    : '';
  return `byzantine: ${l.label} lied: it equivocated — two instances with its one key${halves}, and both created units as pid ${l.pid} (${l.created[0]} and ${l.created[1]})`;
}

/** What the correct nodes' logs show of the liar, and what gomel did: a line or two, at any N. */
export function gomelLines(l: Liar): string[] {
  const seen = l.seenBy.filter((x) => x.detectedMs !== undefined);
  const total = l.seenBy.length;
  const heights = l.equivocated.length
    ? `${l.label}'s units at ${l.equivocated.length} height(s) (${heightRanges(l.equivocated)}) were ordered in both versions`
    : `no correct node ordered two versions of a ${l.label} unit`;
  if (!seen.length)
    return [
      `byzantine: ${heights}, and none logged an error about a fork: the correct nodes' logs show no sign that ${l.label} forked`,
    ];
  const first = seen.reduce((a, b) => (b.detectedMs! < a.detectedMs! ? b : a));
  const lastSeen = seen.reduce((a, b) => (b.detectedMs! > a.detectedMs! ? b : a));
  const errors = seen.filter((x) => x.forkErrors > 0);
  const after = seen.filter((x) => x.orderedAfter > 0);
  const lastOrdered = Math.max(...after.map((x) => x.last?.ms ?? 0));
  return [
    `byzantine: ${heights}; ${errors.length} of ${total} correct nodes logged errors about a fork (${errors.reduce((n, x) => n + x.forkErrors, 0)} in all)`,
    `gomel: ${seen.length === total ? 'every correct node' : `${seen.length} of ${total} correct nodes`} saw the fork (first ${first.label} at ${seconds(first.detectedMs!)}, last ${lastSeen.label} at ${seconds(lastSeen.detectedMs!)}); ${
      after.length
        ? `${l.label}'s units were still ordered after that by ${after.length} of them (up to ${Math.max(...after.map((x) => x.orderedAfter))} units, the last at ${seconds(lastOrdered)})`
        : `none ordered a ${l.label} unit after it saw the fork (muted)`
    }`,
  ];
}

/** One correct node's sight of the liar, for verdict.txt and --json readers. */
export function sightingLine(l: Liar, x: Sighting): string {
  if (x.detectedMs === undefined) return `byzantine: ${x.label}: no sign of ${l.label}'s fork in its log`;
  const both =
    x.bothByMs !== undefined
      ? `held both versions by ${seconds(x.bothByMs)} (${x.twiceHeights.length} height(s) ordered twice, first ${unitText(l.pid * HEIGHTS + x.twiceHeights[0]!)})`
      : 'ordered no unit twice';
  const errors = x.forkErrors ? `, ${x.forkErrors} error(s) about a fork from ${seconds(x.firstForkErrorMs!)}` : '';
  return `byzantine: ${x.label}: ${both}${errors}; ${x.orderedAfter} of ${l.label}'s units ordered after${x.last ? ` (its last: height ${x.last.height} at ${seconds(x.last.ms)})` : ''}`;
}
