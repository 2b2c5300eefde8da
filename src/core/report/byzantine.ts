// The report's Byzantine section (issue 34): who lied and how, the heights it equivocated at, when each
// correct node's log first shows the fork (on the run's common clock), and the committee's throughput
// and latency before and after the first such moment. Pure; from the verdict's findings
// (core/logs/byzantine.ts) and the run's figures.
import type { NodeRunStats, RunFigures } from '../logs/run-stats.js';
import type { Verdict } from '../logs/verdict.js';
import { heightRanges } from '../logs/byzantine.js';
import { committeePeriods, type Period } from './run-faults.js';

export interface ByzantineReport {
  /** The verdict's lines: who lied and how, what the correct nodes' logs show, what gomel did. */
  lines: string[];
  liars: {
    label: string;
    twinLabel: string;
    /** Units each instance created. */
    created: [number, number];
    /** Heights some correct node ordered in both versions, as ranges ("5–6, 9"), and how many. */
    equivocated: string;
    equivocatedCount: number;
    /** Per correct node, on the common clock. */
    seenBy: {
      node: string;
      /** When its log first shows the fork: both versions ordered, or an error about a fork. */
      detectedSeconds?: number;
      bothVersionsBySeconds?: number;
      heightsOrderedTwice: number;
      forkErrors: number;
      /** The liar's units it ordered after it saw the fork. */
      orderedAfter: number;
    }[];
    /** The committee before and after the first correct node saw the fork. */
    before?: Period;
    after?: Period;
  }[];
}

export function byzantineReport(
  verdict: Pick<Verdict, 'byzantine' | 'byzantineLines' | 'nodes'>,
  stats: readonly (NodeRunStats | undefined)[],
  figures: RunFigures,
): ByzantineReport | undefined {
  if (!verdict.byzantine) return undefined;
  const { order, period } = committeePeriods(stats, figures);
  const end = order[order.length - 1] ?? 0;
  const offset = (label: string) =>
    figures.perNode[verdict.nodes.findIndex((v) => v.label === label)]?.startOffsetSeconds ?? 0;
  const onClock = (label: string, ms: number | undefined) => (ms === undefined ? undefined : offset(label) + ms / 1000);
  return {
    lines: verdict.byzantineLines,
    liars: verdict.byzantine.liars.map((l) => {
      const seenBy = l.seenBy.map((x) => ({
        node: x.label,
        detectedSeconds: onClock(x.label, x.detectedMs),
        bothVersionsBySeconds: onClock(x.label, x.bothByMs),
        heightsOrderedTwice: x.twiceHeights.length,
        forkErrors: x.forkErrors,
        orderedAfter: x.orderedAfter,
      }));
      const seen = seenBy.flatMap((x) => (x.detectedSeconds === undefined ? [] : [x.detectedSeconds]));
      const first = seen.length ? Math.min(...seen) : undefined;
      const before = first === undefined ? undefined : period(0, first);
      const after = first === undefined ? undefined : period(first, end);
      return {
        label: l.label,
        twinLabel: l.twinLabel,
        created: l.created,
        equivocated: heightRanges(l.equivocated),
        equivocatedCount: l.equivocated.length,
        seenBy,
        ...(before ? { before } : {}),
        ...(after ? { after } : {}),
      };
    }),
  };
}
