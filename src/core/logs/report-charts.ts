// Vega-Lite specs of `gomelctl report`'s charts: data in, a spec out (rendered to
// SVG by src/report/render.ts). One series per node; nodes that did not reach
// consensus, or did not shut down cleanly, say so in their legend label.
import type { NodeRunStats, RunFigures } from './run-stats.js';
import type { RunFaults } from '../report/run-faults.js';

export interface ChartSpec {
  title: string;
  spec: Record<string, unknown>;
}

export interface ReportNode {
  label: string;
  stats: NodeRunStats | undefined;
  reached: boolean;
  shutdown: string;
}

/** At most `max` evenly spaced points of a series: a 20k-line log still draws in a moment. */
function thin<T>(points: readonly T[], max = 200): T[] {
  if (points.length <= max) return [...points];
  const step = (points.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => points[Math.round(i * step)]!);
}

export function seriesLabel(n: ReportNode): string {
  const marks = [!n.reached && 'no consensus', n.shutdown !== 'clean' && n.shutdown].filter(Boolean);
  return marks.length ? `${n.label} (${marks.join(', ')})` : n.label;
}

const base = (title: string, width = 560, height = 260) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title,
  width,
  height,
  config: { font: 'sans-serif', legend: { labelLimit: 320 } },
});

/** The time axis: the run's common clock (t = 0, the first node's start), unless no node's start is known. */
export const timeTitle = (f: RunFigures) => (f.clock.source === 'own' ? "time since each node's own start (s)" : 'time since the common start (s)');

/** Node i's time T (ms on its own clock) on the run's common clock, in seconds. */
const onClock = (f: RunFigures, i: number) => (t: number) => (f.perNode[i]?.startOffsetSeconds ?? 0) + t / 1000;

/**
 * A time chart with the run's faults drawn under its series: a shaded band per window
 * (as applied, else as planned; to the chart's end when it never ends), a dashed rule
 * per crash, stop or restart, each labelled with its event. One colour for all, so the
 * faults never add legend entries.
 */
function withFaults(chart: Record<string, unknown>, faults: RunFaults | undefined, xTitle: string): Record<string, unknown> {
  if (!faults?.windows.length) return chart;
  const { data, mark, encoding, ...top } = chart;
  const windows = faults.windows.map((w) => ({ event: w.event, from: w.appliedFromSeconds ?? w.plannedFromSeconds, until: w.appliedUntilSeconds ?? w.plannedUntilSeconds, instant: w.kind === 'crash' || w.kind === 'stop' || w.kind === 'restart' }));
  const x = (field: string) => ({ field, type: 'quantitative', title: xTitle });
  const spans = windows.filter((w) => !w.instant);
  const layers: Record<string, unknown>[] = [];
  if (spans.length) {
    layers.push({ data: { values: spans.filter((w) => w.until !== undefined) }, mark: { type: 'rect', color: '#e45756', opacity: 0.12 }, encoding: { x: x('from'), x2: { field: 'until' } } });
    const forGood = spans.filter((w) => w.until === undefined);
    if (forGood.length) layers.push({ data: { values: forGood }, mark: { type: 'rule', color: '#e45756', strokeWidth: 2 }, encoding: { x: x('from') } });
  }
  if (windows.some((w) => w.instant)) layers.push({ data: { values: windows.filter((w) => w.instant) }, mark: { type: 'rule', color: '#e45756', strokeDash: [4, 3] }, encoding: { x: x('from') } });
  // Labels in three staggered rows from the top, on a y scale of their own, so neighbours do not overwrite each other.
  const labels = windows.map((w, i) => ({ ...w, row: i % 3 }));
  layers.push({ data: { values: labels }, mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, fontSize: 9, color: '#b03030' }, encoding: { x: x('from'), y: { field: 'row', type: 'quantitative', axis: null, scale: { domain: [0, 20], reverse: true } }, text: { field: 'event' } } });
  return { ...top, layer: [...layers, { data, mark, encoding }], resolve: { scale: { y: 'independent' } } };
}

export function runCharts(nodes: readonly ReportNode[], figures: RunFigures, faults?: RunFaults): ChartSpec[] {
  const levels = nodes.flatMap((n, i) => thin(n.stats?.levels ?? []).map(([t, level]) => ({ node: seriesLabel(n), t: onClock(figures, i)(t), level })));
  const ordered = nodes.flatMap((n, i) => thin((n.stats?.ordered ?? []).map((t, k) => [t, k + 1] as const)).map(([t, count]) => ({ node: seriesLabel(n), t: onClock(figures, i)(t), count })));
  const latencies = nodes.flatMap((n) => (n.stats?.latencies ?? []).map((ms) => ({ node: seriesLabel(n), latency: ms / 1000 })));
  const traffic = figures.perNode.flatMap((n) =>
    Object.entries(n.traffic).flatMap(([service, v]) => [
      { node: n.label, direction: 'sent', service, mb: v.sent / 1e6 },
      { node: n.label, direction: 'received', service, mb: v.received / 1e6 },
    ]),
  );
  const nodeColor = { field: 'node', type: 'nominal', title: 'node', sort: nodes.map(seriesLabel) };
  return [
    {
      title: 'Prime level reached over time',
      spec: withFaults({ ...base('Prime level reached over time, per node'), data: { values: levels }, mark: { type: 'line', interpolate: 'step-after' }, encoding: { x: { field: 't', type: 'quantitative', title: timeTitle(figures) }, y: { field: 'level', type: 'quantitative', title: 'prime level' }, color: nodeColor } }, faults, timeTitle(figures)),
    },
    {
      title: 'Units ordered over time',
      spec: withFaults({ ...base('Units ordered over time, per node'), data: { values: ordered }, mark: 'line', encoding: { x: { field: 't', type: 'quantitative', title: timeTitle(figures) }, y: { field: 'count', type: 'quantitative', title: 'units ordered' }, color: nodeColor } }, faults, timeTitle(figures)),
    },
    {
      title: 'Ordering latency of own units',
      spec: { ...base('Ordering latency of each node\'s own units'), data: { values: latencies }, mark: 'bar', encoding: { x: { field: 'latency', type: 'quantitative', bin: { maxbins: 40 }, title: 'latency from creation to order (s)' }, y: { aggregate: 'count', type: 'quantitative', title: 'units' }, color: nodeColor } },
    },
    {
      title: 'Traffic per node',
      spec: { ...base('Bytes sent and received per node, by sync service', 560, 300), data: { values: traffic }, mark: 'bar', encoding: { x: { field: 'node', type: 'nominal', title: 'node', sort: nodes.map((n) => n.label) }, xOffset: { field: 'direction' }, y: { field: 'mb', type: 'quantitative', aggregate: 'sum', title: 'traffic (MB)' }, color: { field: 'service', type: 'nominal', title: 'service' }, opacity: { field: 'direction', type: 'nominal', title: 'direction', sort: ['sent', 'received'], scale: { range: [1, 0.5] } } } },
    },
  ];
}

export interface ComparedRun {
  name: string;
  nodes: ReportNode[];
  figures: RunFigures;
}

/** Several runs side by side: one series per run (all its nodes' points). */
export function comparisonCharts(runs: readonly ComparedRun[]): ChartSpec[] {
  const ordered = runs.flatMap((r) =>
    r.nodes.flatMap((n, i) => thin((n.stats?.ordered ?? []).map((t, k) => [t, k + 1] as const), 60).map(([t, count]) => ({ run: r.name, node: `${r.name}/${n.label}`, t: onClock(r.figures, i)(t), count }))),
  );
  const latencies = runs.flatMap((r) => r.nodes.flatMap((n) => (n.stats?.latencies ?? []).map((ms) => ({ run: r.name, latency: ms / 1000 }))));
  const runColor = { field: 'run', type: 'nominal', title: 'run', sort: runs.map((r) => r.name) };
  return [
    {
      title: 'Units ordered over time, by run',
      spec: { ...base('Units ordered over time (every node of each run)'), data: { values: ordered }, mark: { type: 'line', opacity: 0.6 }, encoding: { x: { field: 't', type: 'quantitative', title: runs.every((r) => r.figures.clock.source !== 'own') ? "time since the run's common start (s)" : "time since each node's own start (s)" }, y: { field: 'count', type: 'quantitative', title: 'units ordered' }, color: runColor, detail: { field: 'node' } } },
    },
    {
      title: 'Ordering latency, by run',
      spec: { ...base('Ordering latency of own units, by run'), data: { values: latencies }, mark: 'boxplot', encoding: { x: { field: 'run', type: 'nominal', title: 'run', sort: runs.map((r) => r.name) }, y: { field: 'latency', type: 'quantitative', title: 'latency from creation to order (s)' }, color: runColor } },
    },
  ];
}
