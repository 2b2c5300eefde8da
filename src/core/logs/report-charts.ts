// Vega-Lite specs of `gomelctl report`'s charts: data in, a spec out (rendered to
// SVG by src/report/render.ts). Time charts are quantile bands over the nodes on
// the run's common clock, with the run's faults drawn under them; latency is a CDF
// with its percentiles marked. No chart gets a legend entry per node: at 64 nodes
// such a legend cannot be read (the node table marks nodes that failed).
import { median, quantile, type NodeRunStats, type RunFigures } from './run-stats.js';
import type { RunFaults } from '../report/run-faults.js';
import { nodeBytesByService, type RunProtocolFigures } from './protocol-stats.js';

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

export const base = (title: string, width = 560, height = 260) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title,
  width,
  height,
  config: { font: 'sans-serif', legend: { labelLimit: 320 } },
});

/** The time axis: the run's common clock (t = 0, the first node's start), unless no node's start is known. */
const timeTitle = (f: RunFigures) =>
  f.clock.source === 'own' ? "time since each node's own start (s)" : 'time since the common start (s)';

/** Node i's time T (ms on its own clock) on the run's common clock, in seconds. */
const onClock = (f: RunFigures, i: number) => (t: number) => (f.perNode[i]?.startOffsetSeconds ?? 0) + t / 1000;

/**
 * A time chart with the run's faults drawn under its series: a shaded band per window
 * (as applied, else as planned; to the chart's end when it never ends), a dashed rule
 * per crash, stop or restart, each labelled with its event. One colour for all, so the
 * faults never add legend entries.
 */
function withFaults(
  chart: Record<string, unknown>,
  faults: RunFaults | undefined,
  xTitle: string,
): Record<string, unknown> {
  if (!faults?.windows.length) return chart;
  const { data, mark, encoding, layer, ...top } = chart;
  const own = (layer as Record<string, unknown>[] | undefined) ?? [{ data, mark, encoding }];
  const windows = faults.windows.map((w) => ({
    event: w.event,
    from: w.appliedFromSeconds ?? w.plannedFromSeconds,
    until: w.appliedUntilSeconds ?? w.plannedUntilSeconds,
    instant: w.kind === 'crash' || w.kind === 'stop' || w.kind === 'restart',
  }));
  const x = (field: string) => ({ field, type: 'quantitative', title: xTitle });
  const spans = windows.filter((w) => !w.instant);
  const layers: Record<string, unknown>[] = [];
  if (spans.length) {
    layers.push({
      data: { values: spans.filter((w) => w.until !== undefined) },
      mark: { type: 'rect', color: '#e45756', opacity: 0.12 },
      encoding: { x: x('from'), x2: { field: 'until' } },
    });
    const forGood = spans.filter((w) => w.until === undefined);
    if (forGood.length)
      layers.push({
        data: { values: forGood },
        mark: { type: 'rule', color: '#e45756', strokeWidth: 2 },
        encoding: { x: x('from') },
      });
  }
  if (windows.some((w) => w.instant))
    layers.push({
      data: { values: windows.filter((w) => w.instant) },
      mark: { type: 'rule', color: '#e45756', strokeDash: [4, 3] },
      encoding: { x: x('from') },
    });
  // Labels in three staggered rows from the top (one layer each, a fixed offset), so neighbours do not
  // overwrite each other; drawn over the series, the shading and rules under them.
  const labels: Record<string, unknown>[] = [];
  for (let row = 0; row < 3; row++) {
    const values = windows.filter((_, i) => i % 3 === row);
    if (values.length)
      labels.push({
        data: { values },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 2 + 11 * row, fontSize: 9, color: '#b03030' },
        encoding: { x: x('from'), y: { value: 0 }, text: { field: 'event' } },
      });
  }
  return { ...top, layer: [...layers, ...own, ...labels] };
}

/** A step series — [time, value] in time order — at time t: its last value by then, 0 before its first. */
function valueAt(series: readonly (readonly [number, number])[], t: number): number {
  let lo = 0;
  let hi = series.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (series[mid]![0] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : series[lo - 1]![1];
}

interface BandPoint {
  t: number;
  min: number;
  p10: number;
  median: number;
  p90: number;
  max: number;
}

/**
 * Quantiles over the nodes at each time of `grid` (issue 21): the chart reads the
 * same at 8 or 128 nodes, where one line per node is a tangle with a legend that
 * cannot list them. Median the midpoint for an even count; p10 and p90 nearest-rank.
 */
export function quantileBands(
  series: readonly (readonly (readonly [number, number])[])[],
  grid: readonly number[],
): BandPoint[] {
  if (!series.length) return [];
  return grid.map((t) => {
    const values = series.map((s) => valueAt(s, t)).sort((a, b) => a - b);
    return {
      t,
      min: values[0]!,
      p10: quantile(values, 0.1)!,
      median: median(values)!,
      p90: quantile(values, 0.9)!,
      max: values[values.length - 1]!,
    };
  });
}

const BAND_COLORS = { domain: ['min–max', 'p10–p90', 'median'], range: ['#c6dbef', '#6baed6', '#08519c'] };

/** Layers drawing bands: min–max and p10–p90 as areas, the median as a line; a legend of three. */
function bandLayers(
  points: readonly BandPoint[],
  xTitle: string,
  yTitle: string,
  nodes: number,
): Record<string, unknown>[] {
  const color = { type: 'nominal', scale: BAND_COLORS, title: `over ${nodes} nodes` };
  const x = { field: 't', type: 'quantitative', title: xTitle };
  // One layer per band, each one colour: an area coloured by a field would be stacked.
  const band = (name: string, lo: keyof BandPoint, hi: keyof BandPoint) => ({
    data: { values: points.map((p) => ({ t: p.t, lo: p[lo], hi: p[hi] })) },
    mark: { type: 'area', interpolate: 'step-after' },
    encoding: {
      x,
      y: { field: 'lo', type: 'quantitative', title: yTitle },
      y2: { field: 'hi' },
      color: { ...color, datum: name },
    },
  });
  return [
    band('min–max', 'min', 'max'),
    band('p10–p90', 'p10', 'p90'),
    {
      data: { values: points.map((p) => ({ t: p.t, median: p.median })) },
      mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
      encoding: {
        x,
        y: { field: 'median', type: 'quantitative', title: yTitle },
        color: { ...color, datum: 'median' },
      },
    },
  ];
}

/**
 * Node × time cells of the highest prime level each node had reached by then (a
 * step series), `bins` cells per node over the run: one row per node at any N.
 */
export function levelHeatmap(
  labels: readonly string[],
  series: readonly (readonly (readonly [number, number])[])[],
  bins: number,
): { node: string; from: number; to: number; level: number }[] {
  const end = Math.max(0, ...series.map((s) => s[s.length - 1]?.[0] ?? 0));
  if (end === 0) return [];
  const width = end / bins;
  return series.flatMap((points, i) => {
    let k = 0;
    let level = 0;
    const cells = [];
    for (let b = 0; b < bins; b++) {
      const to = (b + 1) * width;
      while (k < points.length && points[k]![0] <= to) level = Math.max(level, points[k++]![1]);
      cells.push({ node: labels[i]!, from: b * width, to, level });
    }
    return cells;
  });
}

/** 200 evenly spaced times from 0 to the last point of any series. */
function timeGrid(series: readonly (readonly (readonly [number, number])[])[], points = 200): number[] {
  const end = Math.max(0, ...series.map((s) => s[s.length - 1]?.[0] ?? 0));
  return Array.from({ length: points + 1 }, (_, i) => (end * i) / points);
}

/** One bar of the traffic chart: a node's bytes on one service, as it wrote them or as it read them. */
export interface TrafficBar {
  node: string;
  service: string;
  direction: 'written' | 'read';
  bytes: number;
  mb: number;
}

/**
 * The traffic chart's bars, from gomel's own figures (protocol-stats): each sync
 * session's bytes on its service, so the bars add up to the Inside gomel traffic
 * table — written over the nodes is its sent, read over the nodes its delivered.
 */
export function trafficBars(protocol: RunProtocolFigures | undefined): TrafficBar[] {
  return (protocol?.perNode ?? []).flatMap((n) =>
    nodeBytesByService(n).flatMap(({ service, written, read }) => [
      { node: n.label, service, direction: 'written' as const, bytes: written, mb: written / 1e6 },
      { node: n.label, service, direction: 'read' as const, bytes: read, mb: read / 1e6 },
    ]),
  );
}

export function runCharts(
  nodes: readonly ReportNode[],
  figures: RunFigures,
  faults?: RunFaults,
  protocol?: RunProtocolFigures,
): ChartSpec[] {
  // Each node's series on the common clock; nodes without a log have none (and are not in the bands).
  const logged = nodes.map((n, i) => ({ n, i })).filter(({ n }) => n.stats);
  const levelSeries = logged.map(({ n, i }) =>
    n.stats!.levels.map(([t, level]) => [onClock(figures, i)(t), level] as const),
  );
  const orderSeries = logged.map(({ n, i }) =>
    n.stats!.ordered.map((t, k) => [onClock(figures, i)(t), k + 1] as const),
  );
  const levels = quantileBands(levelSeries, timeGrid(levelSeries));
  const ordered = quantileBands(orderSeries, timeGrid(orderSeries));
  const sorted = nodes.flatMap((n) => n.stats?.latencies ?? []).sort((a, b) => a - b);
  const cdf = thin(
    sorted.map((ms, k) => ({ latency: ms / 1000, fraction: (k + 1) / sorted.length })),
    400,
  );
  const marks = figures.latencyMs
    ? (['p50', 'p90', 'p99'] as const).map((q) => ({
        q,
        latency: figures.latencyMs![q] / 1000,
        label: `${q} ${(figures.latencyMs![q] / 1000).toFixed(2)} s`,
      }))
    : [];
  const traffic = trafficBars(protocol);
  const heat = levelHeatmap(
    logged.map(({ n }) => n.label),
    levelSeries,
    60,
  );
  return [
    {
      title: 'Prime level reached over time',
      spec: withFaults(
        {
          ...base('Prime level reached over time, quantiles over the nodes'),
          layer: bandLayers(levels, timeTitle(figures), 'prime level', logged.length),
        },
        faults,
        timeTitle(figures),
      ),
    },
    {
      title: 'Units ordered over time',
      spec: withFaults(
        {
          ...base('Units ordered over time, quantiles over the nodes'),
          layer: bandLayers(ordered, timeTitle(figures), 'units ordered', logged.length),
        },
        faults,
        timeTitle(figures),
      ),
    },
    {
      title: 'Ordering latency of own units',
      spec: {
        ...base('Ordering latency of own units, all nodes (CDF)'),
        layer: [
          {
            data: { values: cdf },
            mark: { type: 'line', interpolate: 'step-after' },
            encoding: {
              x: { field: 'latency', type: 'quantitative', title: 'latency from creation to order (s)' },
              y: { field: 'fraction', type: 'quantitative', title: 'fraction of own units', axis: { format: '%' } },
            },
          },
          {
            data: { values: marks },
            mark: { type: 'rule', color: '#e45756', strokeDash: [4, 3] },
            encoding: { x: { field: 'latency', type: 'quantitative' } },
          },
          {
            data: { values: marks.map((m, k) => ({ ...m, y: 0.3 - 0.1 * k })) },
            mark: { type: 'text', align: 'left', dx: 3, fontSize: 10, color: '#b03030' },
            encoding: {
              x: { field: 'latency', type: 'quantitative' },
              y: { field: 'y', type: 'quantitative' },
              text: { field: 'label' },
            },
          },
        ],
      },
    },
    {
      title: 'Prime level per node over time',
      spec: {
        ...base(
          'Prime level per node over time (a stuck node is a pale row)',
          560,
          Math.max(200, Math.min(640, 10 * logged.length)),
        ),
        data: { values: heat },
        mark: 'rect',
        encoding: {
          x: { field: 'from', type: 'quantitative', title: timeTitle(figures) },
          x2: { field: 'to' },
          y: {
            field: 'node',
            type: 'ordinal',
            title: 'node',
            sort: logged.map(({ n }) => n.label),
            axis: logged.length > 32 ? { labels: false, ticks: false } : {},
          },
          color: { field: 'level', type: 'quantitative', title: 'prime level', scale: { scheme: 'viridis' } },
        },
      },
    },
    {
      title: 'Traffic per node',
      // Bars sorted by the node's total: at 64 nodes the outliers stand at either end.
      spec: {
        ...base('Bytes each node wrote and read, by service, nodes sorted by total', 560, 300),
        data: { values: traffic },
        mark: 'bar',
        encoding: {
          x: {
            field: 'node',
            type: 'nominal',
            title: 'node',
            sort: { op: 'sum', field: 'mb', order: 'descending' },
            axis: nodes.length > 32 ? { labels: false } : {},
          },
          xOffset: { field: 'direction', sort: ['written', 'read'] },
          y: { field: 'mb', type: 'quantitative', aggregate: 'sum', title: 'traffic (MB)' },
          color: {
            field: 'service',
            type: 'nominal',
            title: 'service',
            sort: ['gossip', 'fetch', 'multicast', 'rmc', 'unattributed'],
          },
          opacity: {
            field: 'direction',
            type: 'nominal',
            title: 'direction',
            sort: ['written', 'read'],
            scale: { range: [1, 0.5] },
          },
        },
      },
    },
  ];
}

export interface ComparedRun {
  name: string;
  nodes: ReportNode[];
  figures: RunFigures;
  /** The run's network conditions in words (what was run), to draw runs of one N against them. */
  network?: string;
}

/**
 * The headline figures of several runs against committee size N — the experiment gomel is run
 * for — or, when every run has the same N, against their network conditions. Undefined when
 * the runs differ in neither.
 */
export function againstCharts(runs: readonly ComparedRun[]): ChartSpec[] {
  const sizes = new Set(runs.map((r) => r.figures.nodes));
  const nets = new Set(runs.map((r) => r.network ?? 'none'));
  const byN = sizes.size > 1;
  if (!byN && nets.size < 2) return [];
  const against = byN ? 'N' : 'network conditions';
  const x = byN
    ? { field: 'x', type: 'quantitative', title: 'committee size N', scale: { zero: false } }
    : { field: 'x', type: 'nominal', title: 'network conditions', sort: runs.map((r) => r.network ?? 'none') };
  const point = (r: ComparedRun) => ({ run: r.name, x: byN ? r.figures.nodes : (r.network ?? 'none') });
  const figure = (
    title: string,
    yTitle: string,
    values: { run: string; x: number | string; y: number | undefined; series?: string }[],
  ): ChartSpec => {
    const present = values.filter((v) => v.y !== undefined);
    const series = new Set(present.map((v) => v.series)).size > 1;
    return {
      title: `${title} against ${against}`,
      spec: {
        ...base(`${title} against ${against}`, 380, 240),
        data: { values: present },
        mark: { type: 'line', point: true },
        encoding: {
          x,
          y: { field: 'y', type: 'quantitative', title: yTitle },
          ...(series ? { color: { field: 'series', type: 'nominal', title: '' } } : {}),
          tooltip: [{ field: 'run' }],
        },
      },
    };
  };
  return [
    figure(
      'Units ordered per second',
      'units/s',
      runs.map((r) => ({ ...point(r), y: r.figures.unitsPerSecond })),
    ),
    figure(
      'Own-unit latency',
      'latency (s)',
      runs.flatMap((r) =>
        (['p50', 'p90'] as const).map((q) => ({
          ...point(r),
          series: q,
          y: r.figures.latencyMs ? r.figures.latencyMs[q] / 1000 : undefined,
        })),
      ),
    ),
    figure(
      'Time to reach LevelLimit',
      'median over the nodes (s)',
      runs.map((r) => ({ ...point(r), y: r.figures.levelLimitSeconds?.median })),
    ),
  ];
}

/** Several runs side by side: one series per run (all its nodes' points). */
export function comparisonCharts(runs: readonly ComparedRun[]): ChartSpec[] {
  const ordered = runs.flatMap((r) =>
    r.nodes.flatMap((n, i) =>
      thin(
        (n.stats?.ordered ?? []).map((t, k) => [t, k + 1] as const),
        60,
      ).map(([t, count]) => ({ run: r.name, node: `${r.name}/${n.label}`, t: onClock(r.figures, i)(t), count })),
    ),
  );
  const latencies = runs.flatMap((r) =>
    r.nodes.flatMap((n) => (n.stats?.latencies ?? []).map((ms) => ({ run: r.name, latency: ms / 1000 }))),
  );
  const runColor = { field: 'run', type: 'nominal', title: 'run', sort: runs.map((r) => r.name) };
  return [
    ...againstCharts(runs),
    {
      title: 'Units ordered over time, by run',
      spec: {
        ...base('Units ordered over time (every node of each run)'),
        data: { values: ordered },
        mark: { type: 'line', opacity: 0.6 },
        encoding: {
          x: {
            field: 't',
            type: 'quantitative',
            title: runs.every((r) => r.figures.clock.source !== 'own')
              ? "time since the run's common start (s)"
              : "time since each node's own start (s)",
          },
          y: { field: 'count', type: 'quantitative', title: 'units ordered' },
          color: runColor,
          detail: { field: 'node' },
        },
      },
    },
    {
      title: 'Ordering latency, by run',
      spec: {
        ...base('Ordering latency of own units, by run'),
        data: { values: latencies },
        mark: 'boxplot',
        encoding: {
          x: { field: 'run', type: 'nominal', title: 'run', sort: runs.map((r) => r.name) },
          y: { field: 'latency', type: 'quantitative', title: 'latency from creation to order (s)' },
          color: runColor,
        },
      },
    },
  ];
}
