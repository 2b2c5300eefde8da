// An experiment's grid (issue 33): the product of its axes (or its points), each point
// checked as `up` checks its flags — the committee size, every config knob by `config
// check`'s rules on the config the nodes will run, the network conditions or zones and
// the fault plan for that committee — before anything runs. Each run is named by a hash
// of its point's canonical plan and its repeat: editing one point changes only its runs.
import { createHash } from 'node:crypto';
import { parseCommitteeSize, parseNetworkName } from '../args.js';
import { checkConfigText, type Problem } from '../config/check.js';
import type { Configuration } from '../config/model.js';
import { replaceTopLevel } from '../config/json-text.js';
import { planNodes } from '../deploy/run-plan.js';
import { isFaultPlanFile } from '../faults/plan.js';
import { InputError, UsageError } from '../errors.js';
import { checkImageRef, checkRegistryAddress } from '../image/payload.js';
import { fileProblem, KNOBS, MAX_RUNS, unknownKnob, type ExperimentFile, type NetValue } from './spec.js';

/** What runs, alike for every point: `up`'s flags, paths resolved. */
export interface RunSetting {
  binary?: string;
  code?: string;
  bn256?: string;
  tag?: string;
  registry: string;
  network: string;
  spread: boolean;
  timeout: number;
  stall?: number;
  strict: boolean;
  netImpl: 'auto' | 'netem' | 'userspace';
  seed?: string;
}

export interface ExperimentPoint {
  /** Its folder under the experiment's: its values in short and its plan's hash, e.g. n8_Txpu100_3fa2b1c0. */
  name: string;
  /** In words: "n 8, Txpu 100, net delay=40ms". */
  label: string;
  n: number;
  /** The knobs the point sets, as the file gives them. */
  knobs: Record<string, unknown>;
  /** "none", or the conditions of every node's egress. */
  net: string;
  /** A zones file (resolved path) instead of net. */
  zones?: string;
  /** "none", a plan in the short form, or a plan file (resolved path). */
  faults: string;
  /** The config the nodes run: the base with the knobs, NParents following N unless it is a knob. */
  configText: string;
  /** sha256 of the point's canonical plan, hex. */
  planHash: string;
}

export interface PlannedRun {
  /** sha256 of the point's plan and the repeat, 16 hex digits: what results.json knows the run by. */
  id: string;
  point: ExperimentPoint;
  /** 1, 2, …: the run's folder under its point's. */
  repeat: number;
}

export interface ExperimentPlan {
  setting: RunSetting;
  points: ExperimentPoint[];
  repeats: number;
  /** Every point's first repeat, then every point's second, …: an interrupted grid has covered every point sooner. */
  runs: PlannedRun[];
}

/** What the file points at, read by the caller (src/fs/experiment-file.ts): texts by resolved path. */
export interface ExperimentInputs {
  file: string;
  spec: ExperimentFile;
  setting: RunSetting;
  /** The config the knobs change (configs/<base>.json). */
  base: { file: string; text: string };
  /** Zones and fault plan files by their resolved path. */
  texts: ReadonlyMap<string, string>;
  /** A path as the file gives it, resolved against the file's folder. */
  resolve: (p: string) => string;
}

/** "none" and the absent value alike mean no network conditions, no faults. */
const NONE = 'none';

/** Files an experiment reads besides itself: zones files and fault plan files, each resolved and at the first field naming it. */
export function filesToRead(spec: ExperimentFile, resolve: (p: string) => string): { file: string; where: string }[] {
  const points = (spec.points ?? []).map((p, i) => ({ p, at: `points[${i}]` }));
  const nets = [
    ...(spec.net ?? []).map((v, i) => ({ v, where: `net[${i}]` })),
    ...points.flatMap(({ p, at }) => (p.net === undefined ? [] : [{ v: p.net, where: `${at}.net` }])),
  ];
  const faults = [
    ...(spec.faults ?? []).map((f, i) => ({ f, where: `faults[${i}]` })),
    ...points.flatMap(({ p, at }) => (p.faults ? [{ f: p.faults, where: `${at}.faults` }] : [])),
  ];
  const named = [
    ...nets.flatMap(({ v, where }) => (typeof v === 'object' ? [{ file: resolve(v.zones), where }] : [])),
    ...faults.filter(({ f }) => f !== NONE && isFaultPlanFile(f)).map(({ f, where }) => ({ file: resolve(f), where })),
  ];
  return named.filter((n, i) => named.findIndex((m) => m.file === n.file) === i);
}

/** Checks `up`'s flags of the file once (registry, network, tag): a refusal names the field. */
export function runSetting(
  spec: ExperimentFile,
  file: string,
  payload: { binary?: string; code?: string; bn256?: string },
  defaults: { registry: string; network: string; timeout: number },
): RunSetting {
  const field = <T>(where: string, check: () => T): T => rewrapped(file, where, check);
  const registry = field('registry', () => checkRegistryAddress(spec.registry ?? defaults.registry));
  const network = field('network', () => parseNetworkName(spec.network ?? defaults.network));
  const tag = spec.tag === undefined ? undefined : field('tag', () => checkImageRef(spec.tag!, '--tag'));
  if (payload.binary === undefined && payload.code === undefined)
    throw fileProblem(
      file,
      undefined,
      'nothing to run',
      'give binary: (a static gomel) or code: (a consensus-go checkout) in the file, or --binary/--code',
    );
  return {
    ...payload,
    ...(tag ? { tag } : {}),
    registry,
    network,
    spread: spec.spread ?? false,
    timeout: spec.timeout ?? defaults.timeout,
    ...(spec.stall ? { stall: spec.stall } : {}),
    strict: spec.strict ?? false,
    netImpl: spec.netImpl ?? 'auto',
    ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
  };
}

/** A check's UsageError again, naming the experiment file and the field; its own "--flag value" prefix left out. */
function rewrapped<T>(file: string, where: string, check: () => T, context = ''): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof InputError)) throw error;
    throw fileProblem(file, where, `${context}${error.message.replace(/^--[\w-]+ /, '')}`);
  }
}

/** One point as the file gives it, each value with its JSON path (axes: n[1], config.Txpu[2]; points: points[3].n). */
interface PointSource {
  n: { value: number; where: string };
  knobs: { knob: string; value: unknown; where: string }[];
  net?: { value: NetValue; where: string };
  faults?: { value: string; where: string };
}

function pointSources(spec: ExperimentFile): PointSource[] {
  if (spec.points)
    return spec.points.map((p, i) => ({
      n: { value: p.n, where: `points[${i}].n` },
      knobs: Object.entries(p.config ?? {}).map(([knob, value]) => ({
        knob,
        value,
        where: `points[${i}].config.${knob}`,
      })),
      ...(p.net !== undefined ? { net: { value: p.net, where: `points[${i}].net` } } : {}),
      ...(p.faults !== undefined ? { faults: { value: p.faults, where: `points[${i}].faults` } } : {}),
    }));
  // The product, N outermost, then the knobs in the file's order, the network, the faults.
  let grid: PointSource[] = spec.n!.map((value, i) => ({ n: { value, where: `n[${i}]` }, knobs: [] }));
  const extend = <T>(values: readonly T[], add: (p: PointSource, value: T, i: number) => PointSource) => {
    grid = grid.flatMap((p) => values.map((v, i) => add(p, v, i)));
  };
  for (const [knob, values] of Object.entries(spec.config ?? {}))
    extend(values, (p, value, i) => ({ ...p, knobs: [...p.knobs, { knob, value, where: `config.${knob}[${i}]` }] }));
  if (spec.net) extend(spec.net, (p, value, i) => ({ ...p, net: { value, where: `net[${i}]` } }));
  if (spec.faults) extend(spec.faults, (p, value, i) => ({ ...p, faults: { value, where: `faults[${i}]` } }));
  return grid;
}

/** How many points pointSources makes: the product of the axes' lengths (exact, however many axes). */
function pointCount(spec: ExperimentFile): bigint {
  if (spec.points) return BigInt(spec.points.length);
  const axes = [
    spec.n!,
    ...Object.values(spec.config ?? {}),
    ...(spec.net ? [spec.net] : []),
    ...(spec.faults ? [spec.faults] : []),
  ];
  return axes.reduce((product, values) => product * BigInt(values.length), 1n);
}

/** A JSON value with its object keys sorted: the same plan is the same text, whatever order it was written in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A run's id: its point's plan and its repeat. */
export const runId = (planHash: string, repeat: number): string => sha256(`${planHash}#${repeat}`).slice(0, 16);

/** A knob's value in a name or a label: a string as it is, anything else as its JSON. */
const valueText = (v: unknown) => (typeof v === 'string' ? v : canonical(v));

/** A folder name: the values in short, safe in a path, then the plan's hash. */
function pointName(parts: readonly string[], planHash: string): string {
  const short = parts
    .join('_')
    .replace(/[^A-Za-z0-9._=@+-]+/g, '-')
    .slice(0, 64);
  return `${short}_${planHash.slice(0, 8)}`;
}

/** The config the point's nodes run, as `config check` reads it against its committee: its errors, and its fields. */
function checkPointConfig(text: string, n: number): { errors: Problem[]; config: Configuration | undefined } {
  const alone = checkConfigText(text, undefined);
  const shape = alone.config
    ? { size: n, addressColumns: alone.config.Sync.length, setupColumns: alone.config.SyncSetup.length }
    : undefined;
  const checked = shape ? checkConfigText(text, shape) : alone;
  return { errors: checked.problems.filter((p) => p.severity === 'error'), config: checked.config };
}

/** Expands and checks the grid: every point as `up` would check its flags, nothing run. */
export function planExperiment(inputs: ExperimentInputs): ExperimentPlan {
  const { file, spec, base } = inputs;
  const baseChecked = checkConfigText(base.text, undefined);
  const baseError = baseChecked.problems.find((p) => p.severity === 'error');
  if (baseError || !baseChecked.config || !baseChecked.parsed)
    throw fileProblem(
      base.file,
      baseError?.path,
      `the experiment's base config: ${baseError?.message ?? 'unreadable'}`,
      baseError?.fix,
    );
  const spans = baseChecked.parsed.topLevel;
  const baseConfig = baseChecked.config;
  for (const [knob, where] of [
    ...Object.keys(spec.config ?? {}).map((k) => [k, `config.${k}`]),
    ...(spec.points ?? []).flatMap((p, i) => Object.keys(p.config ?? {}).map((k) => [k, `points[${i}].config.${k}`])),
  ] as [string, string][])
    if (!KNOBS.includes(knob)) throw unknownKnob(file, where, knob);
  const repeats = spec.repeats ?? 1;
  // Counted before the grid is built: 40 × 40 × 40 × 40 points (a 536-byte file) took 1.3 GB to build and refuse.
  const count = pointCount(spec);
  if (count * BigInt(repeats) > BigInt(MAX_RUNS))
    throw fileProblem(
      file,
      undefined,
      `the grid is ${count * BigInt(repeats)} runs (${count} points × ${repeats} repeats), more than ${MAX_RUNS}`,
      'cut an axis, or split the grid over several files',
    );
  const sources = pointSources(spec);
  const points: ExperimentPoint[] = [];
  const seen = new Map<string, string>();
  for (const source of sources) {
    const point = checkPoint(inputs, source, spans, baseConfig.CRPFixedPrefix);
    const earlier = seen.get(point.planHash);
    if (earlier !== undefined)
      throw fileProblem(
        file,
        undefined,
        `the point ${point.label} is given twice`,
        'give each point once (repeats: runs every point again)',
      );
    seen.set(point.planHash, point.label);
    points.push(point);
  }
  const runs: PlannedRun[] = [];
  for (let repeat = 1; repeat <= repeats; repeat++)
    for (const point of points) runs.push({ id: runId(point.planHash, repeat), point, repeat });
  return { setting: inputs.setting, points, repeats, runs };
}

function checkPoint(
  inputs: ExperimentInputs,
  source: PointSource,
  spans: Parameters<typeof replaceTopLevel>[1],
  basePrefix: number,
): ExperimentPoint {
  const { file, resolve, texts } = inputs;
  const n = rewrapped(file, source.n.where, () => parseCommitteeSize(String(source.n.value), '--n'));
  const at = `at n ${n}: `;
  const hosts = Array.from({ length: n }, (_, i) => `node${i + 1}`);
  // The config the nodes run: the base with the knobs; NParents follows N and CRPFixedPrefix is
  // capped at N (as `config sync` after a resize) unless the point sets them.
  const knobs = Object.fromEntries(source.knobs.map((k) => [k.knob, k.value]));
  const replacements: Record<string, string> = {};
  for (const k of source.knobs) replacements[k.knob] = JSON.stringify(k.value) ?? 'null';
  if (!('NParents' in knobs)) replacements.NParents = String(n);
  if (!('CRPFixedPrefix' in knobs)) replacements.CRPFixedPrefix = String(Math.min(basePrefix, n));
  const configText = replaceTopLevel(inputs.base.text, spans, replacements);
  const { errors, config } = checkPointConfig(configText, n);
  const problem = errors[0];
  if (problem) {
    // Named at the knob whose field the problem is in (Sync[0].Params.timeout is the Sync knob's), else at N.
    const knob = source.knobs.find(
      (k) => problem.path === k.knob || problem.path.startsWith(`${k.knob}[`) || problem.path.startsWith(`${k.knob}.`),
    );
    throw fileProblem(file, knob?.where ?? source.n.where, `${at}${problem.path}: ${problem.message}`, problem.fix);
  }
  const netValue = source.net?.value;
  const zones = typeof netValue === 'object' ? resolve(netValue.zones) : undefined;
  const net = typeof netValue === 'string' ? netValue : NONE;
  // Checked by the run plan's own parse (planNodes), each at its field of the file.
  const netImpl = 'userspace' as const;
  if (source.net)
    rewrapped(
      file,
      source.net.where,
      () =>
        planNodes(
          {
            net: net === NONE ? undefined : net,
            zones: zones ? { text: texts.get(zones)!, file: zones } : undefined,
            netImpl,
            faults: undefined,
            seed: undefined,
          },
          hosts,
        ),
      at,
    );
  const faultsGiven = source.faults?.value ?? NONE;
  const faultsFile = faultsGiven !== NONE && isFaultPlanFile(faultsGiven) ? resolve(faultsGiven) : undefined;
  if (source.faults && faultsGiven !== NONE)
    rewrapped(
      file,
      source.faults.where,
      () =>
        planNodes(
          {
            net: undefined,
            zones: undefined,
            netImpl,
            faults: faultsFile
              ? { spec: faultsFile, fileText: texts.get(faultsFile)! }
              : { spec: faultsGiven, fileText: undefined },
            seed: inputs.setting.seed,
          },
          hosts,
        ),
      at,
    );
  const faults = faultsFile ?? faultsGiven;
  // The plan: everything that makes this point's runs what they are, files by their content.
  const plan = {
    setting: inputs.setting,
    n,
    config,
    net,
    zones: zones && { file: zones, text: sha256(texts.get(zones)!) },
    faults,
    faultsText: faultsFile && sha256(texts.get(faultsFile)!),
  };
  const planHash = sha256(canonical(plan));
  const netWords = zones ? ['zones', zones.split('/').pop()!] : source.net ? ['net', net] : undefined;
  const faultWords = source.faults ? ['faults', faultsGiven] : undefined;
  const knobWords = source.knobs.map((k) => [k.knob, valueText(k.value)]);
  return {
    // n8_Txpu100_net-delay=40ms_faults-crash-7,8@5s_3fa2b1c0
    name: pointName(
      [
        `n${n}`,
        ...knobWords.map(([k, v]) => `${k}${v}`),
        ...[netWords, faultWords].flatMap((w) => (w ? [w.join('-')] : [])),
      ],
      planHash,
    ),
    label: [`n ${n}`, ...[...knobWords, netWords, faultWords].flatMap((w) => (w ? [w.join(' ')] : []))].join(', '),
    n,
    knobs,
    net,
    ...(zones ? { zones } : {}),
    faults,
    configText,
    planHash,
  };
}
