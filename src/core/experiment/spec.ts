// An experiment file (issue 33): what runs, what varies and what stays, read from YAML or
// JSON (src/fs/experiment-file.ts parses it) and typed here by a schema. What is wrong with
// it is one line naming the file and the field's path, exit 2: nothing has run.
//
//   binary: ../gomel            # or code: (and bn256:); or --binary/--code on the command line
//   spread: true                # the rest as `up`'s flags: registry, network, tag, timeout, stall,
//   configs: ../configs         #   strict, netImpl; base: the config in configs/ the knobs change
//   n: [4, 8, 16]               # the axes: their product is the grid
//   config: {Txpu: [1, 100, 1000]}
//   net: [none, "delay=40ms", {zones: zones.json}]
//   faults: [none, "crash:8@5s"]
//   repeats: 3
//   seed: lab-1                 # of faults random:K
//   points:                     # or the points themselves, instead of the axes
//     - {n: 8, faults: "crash:7,8@5s"}
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { checkJson } from '../json-input.js';
import { DELAY_IMPLS } from '../deploy/network-conditions.js';
import { ConfigurationSchema } from '../config/model.js';

/** The most runs one file may ask for: 200 runs of a minute or two are a few hours on one machine. */
export const MAX_RUNS = 200;
/** The most repeats of one point. */
export const MAX_REPEATS = 20;

/** One value of the net axis: "none", conditions for every node's egress, or a zones file. */
const NET = z.union([z.string(), z.strictObject({ zones: z.string() })]);
export type NetValue = z.infer<typeof NET>;

const POINT = z.strictObject({
  n: z.number(),
  config: z.record(z.string(), z.unknown()).optional(),
  net: NET.optional(),
  faults: z.string().optional(),
});

const WHAT_TO_RUN = {
  binary: z.string().optional(),
  code: z.string().optional(),
  bn256: z.string().optional(),
  tag: z.string().optional(),
  registry: z.string().optional(),
  network: z.string().optional(),
  spread: z.boolean().optional(),
  configs: z.string().optional(),
  base: z.string().optional(),
  timeout: z.number().optional(),
  stall: z.number().optional(),
  strict: z.boolean().optional(),
  netImpl: z.enum(DELAY_IMPLS).optional(),
};

const AXES = {
  n: z.array(z.number()).optional(),
  config: z.record(z.string(), z.array(z.unknown())).optional(),
  net: z.array(NET).optional(),
  faults: z.array(z.string()).optional(),
};

const EXPERIMENT = z.strictObject({
  ...WHAT_TO_RUN,
  ...AXES,
  repeats: z.number().optional(),
  seed: z.string().optional(),
  points: z.array(POINT).optional(),
});

export type ExperimentFile = z.infer<typeof EXPERIMENT>;
export type PointFile = z.infer<typeof POINT>;

const TOP_FIELDS = Object.keys(EXPERIMENT.shape);
const POINT_FIELDS = Object.keys(POINT.shape);

/** A problem in the experiment file: one line, exit 2 (nothing ran). */
export const fileProblem = (file: string, where: string | undefined, problem: string, fix?: string): UsageError =>
  new UsageError(`${file}${where ? `:${where}` : ''}: ${problem}${fix ? ` — ${fix}` : ''}`);

/** gomel's config knobs, as `config check` knows them (core/config/model.ts). */
export const KNOBS = Object.keys(ConfigurationSchema.shape);

/** A knob that is not one of gomel's config fields, at `where` (config.Foo, points[2].config.Foo). */
export const unknownKnob = (file: string, where: string, knob: string): UsageError =>
  fileProblem(
    file,
    where,
    `"${knob}" is not a gomel config knob`,
    `the knobs are ${KNOBS.join(', ')} (names as written, case-sensitive)`,
  );

/** A path at a knob (config.<knob>, points[i].config.<knob>), or inside its value (then group 2 is the rest). */
const KNOB_PATH = /^(?:points\[\d+\]\.)?config\.([^.[]+)(.*)$/;
const KNOB_VALUE_FIX = "gomel rejects fields it does not know (config check names a config's fields)";

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Refuses an axis, or the points, of more than MAX_RUNS values before anything is typed or
 * expanded: the grid holds every value of each axis (an empty one is refused too), so such a list
 * alone is too many runs. A list of a million values took 1 GB and 5 s to type and count (hostile
 * pass N6); the file's size cap (src/fs/input.ts) bounds everything else in it.
 */
function refuseLongLists(value: unknown, file: string): void {
  if (!isObject(value)) return;
  const config = isObject(value.config) ? value.config : {};
  const lists: [string, unknown][] = [
    ...(['n', 'net', 'faults', 'points'] as const).map((key): [string, unknown] => [key, value[key]]),
    ...Object.entries(config).map(([knob, values]): [string, unknown] => [`config.${knob}`, values]),
  ];
  for (const [where, list] of lists)
    if (Array.isArray(list) && list.length > MAX_RUNS)
      throw fileProblem(
        file,
        where,
        `a list of ${list.length} values, more than the ${MAX_RUNS} runs an experiment may have`,
        'cut it, or split the grid over several files',
      );
}

/**
 * The deepest the file's value may nest: a knob's value in the deepest place it goes,
 * points[0].config.Sync[0].Params.timeout, is 7 deep. A knob value of 100,000 nested lists (200 KB)
 * overflowed the stack of the point's JSON.stringify: a Node stack trace, exit 70.
 */
export const MAX_DEPTH = 16;

/**
 * The most values the file may hold, its aliases written out: 256 KiB of JSON or YAML without aliases
 * holds at most ~130,000 ("1," each). YAML's aliases share one value many times: 199 uses of a
 * 15,000-knob mapping walked 3 M values in 30 s (hostile pass 10's alias case, once the yaml package's
 * own alias bound was raised for 120 points sharing one config).
 */
export const MAX_VALUES = 200_000;

/**
 * Refuses a value nested deeper than MAX_DEPTH, and a number that is not finite, at its path; walked
 * without recursion, as it may be that deep. YAML and JSON read a literal beyond a 64-bit float
 * (1e400) as Infinity, and YAML has .inf and .nan: a knob of either went to gomel's config as
 * JSON's null ("Txpu: expected number, received null", hostile pass 9).
 */
function refuseDeepOrInfiniteValues(value: unknown, file: string): void {
  const pending: [unknown, string, number][] = [[value, '', 0]];
  let values = 0;
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [v, where, depth] = next;
    if (++values > MAX_VALUES)
      throw fileProblem(
        file,
        undefined,
        `more than ${MAX_VALUES} values once its aliases (*) are written out`,
        'an experiment needs far fewer: share less through & and *',
      );
    if (typeof v === 'number' && !Number.isFinite(v))
      throw fileProblem(
        file,
        where,
        `${v} is not a finite number (a literal beyond a 64-bit float, as 1e400, reads as infinite)`,
        'write a finite number',
      );
    if (v === null || typeof v !== 'object') continue;
    if (depth === MAX_DEPTH)
      throw fileProblem(file, where, `nested more than ${MAX_DEPTH} deep, far deeper than any gomel config`);
    if (Array.isArray(v)) v.forEach((item, i) => pending.push([item, `${where}[${i}]`, depth + 1]));
    else for (const [k, item] of Object.entries(v)) pending.push([item, where ? `${where}.${k}` : k, depth + 1]);
  }
}

/** The experiment file's value (parsed YAML or JSON) typed; an unknown field names the known ones. */
export function checkExperimentFile(value: unknown, file: string): ExperimentFile {
  // The whole file read as one value: zod would name a list's or a string's first item an "unknown field" ("bin.yaml:0").
  if (!isObject(value) || Object.getPrototypeOf(value) !== Object.prototype)
    throw fileProblem(
      file,
      undefined,
      `the file is ${value === null ? 'empty' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a tagged value' : `a ${typeof value}`}, not a mapping of the experiment's fields`,
      'write them as a YAML mapping or a JSON object, e.g. n: [4, 8]',
    );
  refuseLongLists(value, file);
  refuseDeepOrInfiniteValues(value, file);
  const spec = checkJson(value, EXPERIMENT, (where, problem) => {
    if (problem !== 'unknown field') return fileProblem(file, where, problem);
    // A field named "__proto__", which zod's record of knobs would drop unseen (json-input.ts, protoFieldPath):
    // as a knob's name, or inside a knob's value (a config's object).
    const knob = where !== undefined ? KNOB_PATH.exec(where) : null;
    if (knob)
      return knob[2] ? fileProblem(file, where, 'unknown field', KNOB_VALUE_FIX) : unknownKnob(file, where!, knob[1]!);
    const fields = where && /^points\[\d+\]\./.test(where) ? POINT_FIELDS : TOP_FIELDS;
    return fileProblem(file, where, 'unknown field', `the fields are ${fields.join(', ')}`);
  });
  const axes = (['n', 'config', 'net', 'faults'] as const).filter((k) => spec[k] !== undefined);
  if (spec.points !== undefined && axes.length)
    throw fileProblem(
      file,
      axes[0],
      'axes and points together',
      'give the axes (their product is the grid) or the points, not both',
    );
  // An empty axis makes the product empty: said where it is, not as "0 runs".
  const empty = (where: string, list: readonly unknown[] | undefined) => {
    if (list?.length === 0)
      throw fileProblem(file, where, 'an empty list makes the grid empty', 'give at least one value, or leave it out');
  };
  empty('n', spec.n);
  empty('net', spec.net);
  empty('faults', spec.faults);
  empty('points', spec.points);
  for (const [knob, values] of Object.entries(spec.config ?? {})) empty(`config.${knob}`, values);
  if (spec.points === undefined && spec.n === undefined)
    throw fileProblem(file, 'n', 'missing', 'give the committee sizes, e.g. n: [4, 8, 16] (or points:)');
  if (
    spec.repeats !== undefined &&
    !(Number.isInteger(spec.repeats) && spec.repeats >= 1 && spec.repeats <= MAX_REPEATS)
  )
    throw fileProblem(file, 'repeats', `expected a whole number from 1 to ${MAX_REPEATS}`);
  for (const key of ['timeout', 'stall'] as const) {
    const v = spec[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= (key === 'stall' ? 3600 : 86_400)))
      throw fileProblem(file, key, `expected a whole number of seconds from 1 to ${key === 'stall' ? 3600 : 86_400}`);
  }
  if (spec.binary !== undefined && spec.code !== undefined)
    throw fileProblem(file, 'code', 'binary and code together', 'give one: what the nodes run');
  if (spec.bn256 !== undefined && spec.code === undefined)
    throw fileProblem(file, 'bn256', 'bn256 goes with code', 'it is the bn256 checkout gomel is compiled with');
  return spec;
}
