// The experiment's charts (issue 33): transactions/s against latency, one curve per N with
// the load along it — the curve gomel's authors drew (consensus-go README; their Python
// version swept N 32–512 × transactions per unit 1/100/1000) — and each figure against each
// axis that varies. Repeats are one point at their median, with a bar over their range;
// a point any of whose runs was host-bound is drawn as a cross: it measured this machine.
import { median } from '../logs/run-stats.js';
import { base, type ChartSpec } from '../logs/report-charts.js';
import type { RunResult } from './results.js';
import { minOf, maxOf } from '../bounded.js';

/** One point of the grid over its finished runs: each figure's median and range. */
export interface PointSummary {
  point: string;
  label: string;
  n: number;
  /** The point's values but N, in words ("Txpu 100"); "(none)" for a point that is only its N. */
  load: string;
  /** Its place in the results: the order the file gave the points. */
  order: number;
  /** Its value on each axis, in words: n, each knob it sets, net, faults. */
  values: Record<string, string>;
  runs: number;
  hostBound: boolean;
  tx?: Range;
  latency?: Range;
  unitsPerSecond?: Range;
}

interface Range {
  median: number;
  min: number;
  max: number;
}

const range = (xs: readonly (number | undefined)[]): Range | undefined => {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return v.length ? { median: median(v)!, min: minOf(v)!, max: maxOf(v)! } : undefined;
};

/** A run's point on each axis: N, the knobs it sets (strings as they are, else JSON), its network and faults. */
function valuesOf(r: RunResult): Record<string, string> {
  return {
    n: String(r.n),
    ...Object.fromEntries(Object.entries(r.knobs).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
    net: r.net.split('/').pop()!,
    faults: r.faults.split('/').pop()!,
  };
}

/** The label without its N: what moves along a curve of one N. */
const loadOf = (label: string) => label.replace(/^n \d+(, )?/, '') || '(none)';

/** The finished runs grouped by point, in the order the points first appear. */
export function summarisePoints(results: readonly RunResult[]): PointSummary[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of results) if (r.status === 'finished') groups.set(r.point, [...(groups.get(r.point) ?? []), r]);
  return [...groups.values()].map((runs, order) => ({
    point: runs[0]!.point,
    label: runs[0]!.label,
    n: runs[0]!.n,
    load: loadOf(runs[0]!.label),
    order,
    values: valuesOf(runs[0]!),
    runs: runs.length,
    hostBound: runs.some((r) => r.hostBound === true),
    ...optional('tx', range(runs.map((r) => r.transactionsPerSecond))),
    ...optional('latency', range(runs.map((r) => r.latencySeconds?.p50))),
    ...optional('unitsPerSecond', range(runs.map((r) => r.unitsPerSecond))),
  }));
}

const optional = <K extends string, V>(key: K, value: V | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;

const BOUND = 'host-bound (≥ 90% of its CPUs busy)';
const shape = {
  field: 'host',
  type: 'nominal',
  title: 'host',
  scale: { domain: ['not saturated', BOUND], range: ['circle', 'cross'] },
};
const sizes = (points: readonly PointSummary[]) => [...new Set(points.map((p) => p.n))].sort((a, b) => a - b);

/** Transactions/s against latency p50, log x; one curve per N, the points along it in the file's order. */
function throughputLatency(points: readonly PointSummary[]): ChartSpec | undefined {
  const drawn = points.filter((p) => p.tx && p.latency && p.latency.min > 0);
  if (!drawn.length) return undefined;
  const values = drawn.map((p) => ({
    N: p.n,
    load: p.load,
    order: p.order,
    host: p.hostBound ? BOUND : 'not saturated',
    runs: p.runs,
    tx: p.tx!.median,
    txMin: p.tx!.min,
    txMax: p.tx!.max,
    latency: p.latency!.median,
    latencyMin: p.latency!.min,
    latencyMax: p.latency!.max,
  }));
  // A load over orders of magnitude (Txpu 1, 100, 1000) reads on a log axis; a log axis has no 0.
  const txs = values.map((v) => v.tx);
  const logY = minOf(txs)! > 0 && maxOf(txs)! / minOf(txs)! >= 100;
  const color = { field: 'N', type: 'nominal', title: 'committee size N', sort: sizes(drawn) };
  const x = { field: 'latency', type: 'quantitative', title: 'own-unit latency p50 (s, log)', scale: { type: 'log' } };
  const y = {
    field: 'tx',
    type: 'quantitative',
    title: `transactions per second${logY ? ' (log)' : ''}`,
    scale: logY ? { type: 'log' } : { zero: true },
  };
  const title = 'Transactions per second against latency, one curve per N';
  return {
    title,
    spec: {
      ...base(title, 620, 380),
      data: { values },
      layer: [
        { mark: { type: 'line' }, encoding: { x, y, color, order: { field: 'order' } } },
        {
          mark: { type: 'rule' },
          encoding: { x: { ...x, field: 'latencyMin' }, x2: { field: 'latencyMax' }, y, color },
        },
        { mark: { type: 'rule' }, encoding: { x, y: { ...y, field: 'txMin' }, y2: { field: 'txMax' }, color } },
        {
          mark: { type: 'point', filled: true, size: 90 },
          encoding: {
            x,
            y,
            color,
            shape,
            tooltip: [{ field: 'N' }, { field: 'load' }, { field: 'runs' }, { field: 'tx' }, { field: 'latency' }],
          },
        },
        {
          mark: { type: 'text', align: 'left', dx: 7, dy: -7, fontSize: 10 },
          encoding: { x, y, text: { field: 'load' } },
        },
      ],
    },
  };
}

/** The axes along which the points differ: N, knobs, net, faults (a knob a point leaves unset reads "base"). */
function axes(points: readonly PointSummary[]): string[] {
  const names = [...new Set(points.flatMap((p) => Object.keys(p.values)))];
  return names.filter((name) => new Set(points.map((p) => p.values[name] ?? 'base')).size > 1);
}

/** A figure's median and range against one axis, a series per the points' values on the other axes. */
function againstAxis(
  points: readonly PointSummary[],
  axis: string,
  others: readonly string[],
  figure: { title: string; unit: string; get: (p: PointSummary) => Range | undefined },
): ChartSpec | undefined {
  const values = points.flatMap((p) => {
    const r = figure.get(p);
    const series = others.map((o) => `${o} ${p.values[o] ?? 'base'}`).join(', ') || 'all';
    return r ? [{ at: p.values[axis] ?? 'base', series, host: p.hostBound ? BOUND : 'not saturated', ...r }] : [];
  });
  if (values.length < 2) return undefined;
  const axisName = axis === 'n' ? 'committee size N' : axis;
  const title = `${figure.title} against ${axisName}`;
  const numeric = values.every((v) => /^\d+(\.\d+)?$/.test(v.at));
  const order = [...new Set(values.map((v) => v.at))];
  const x = {
    field: 'at',
    type: 'ordinal',
    title: axisName,
    sort: numeric ? order.sort((a, b) => Number(a) - Number(b)) : order,
  };
  const y = { field: 'median', type: 'quantitative', title: figure.unit };
  const color = { field: 'series', type: 'nominal', title: '' };
  return {
    title,
    spec: {
      ...base(title, 380, 240),
      data: { values },
      layer: [
        { mark: { type: 'line' }, encoding: { x, y, color } },
        { mark: { type: 'rule' }, encoding: { x, y: { ...y, field: 'min' }, y2: { field: 'max' }, color } },
        { mark: { type: 'point', filled: true, size: 70 }, encoding: { x, y, color, shape } },
      ],
    },
  };
}

/** The page's charts, from the finished runs. */
export function experimentCharts(results: readonly RunResult[]): ChartSpec[] {
  const points = summarisePoints(results);
  const figures = [
    {
      title: 'Transactions per second',
      unit: 'transactions/s (median, range over repeats)',
      get: (p: PointSummary) => p.tx,
    },
    { title: 'Own-unit latency p50', unit: 'latency p50 (s; median, range)', get: (p: PointSummary) => p.latency },
  ];
  return [
    throughputLatency(points),
    ...axes(points).flatMap((axis, _, all) =>
      figures.map((f) =>
        againstAxis(
          points,
          axis,
          all.filter((o) => o !== axis),
          f,
        ),
      ),
    ),
  ].filter((c): c is ChartSpec => c !== undefined);
}
