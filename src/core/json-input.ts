// JSON a user hands us (a fault plan, a zones file, what a logs or keys folder holds),
// typed by a zod schema before any of it is used (issue 30, class 4): a value of the
// wrong type — {"toString": 1} where a string belongs — is one line naming the file
// and the JSON path (`plan.json:[0].kind: expected a string, not an object`), never
// a TypeError from String() or a template literal. No message quotes the value: it
// may be anything the user passed, a key included (issue 25, mechanism 9).
import { z } from 'zod';
import { clip, QUOTED_MAX } from './bounded.js';
import { InputError } from './errors.js';

/** Makes the error for a problem at a JSON path (`[0].kind`; undefined: the whole document). */
export type JsonFail = (where: string | undefined, problem: string) => Error;

/** Problems in the JSON file `file`, each with `fix`, as InputErrors. */
export const inputFail =
  (file: string, fix?: string): JsonFail =>
  (where, problem) =>
    new InputError(file, where, problem, fix);

/** A name of one entry of a folder: no separator, no NUL, not "." or "..". */
export const PLAIN_NAME_JSON = z.string().regex(/^(?!\.\.?$)[^/\\\0]+$/);

/**
 * zod's path as a JSON path: `[0].kind`, `zones.eu[1]`, `Sync[0].Params.timeout`. A field name is
 * the file's own text, clipped: a 10 MB field name was a 10 MB error line (hostile pass B2).
 */
export function jsonPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => {
    if (typeof key === 'number') return `${acc}[${key}]`;
    const name = clip(String(key), QUOTED_MAX);
    return acc ? `${acc}.${name}` : name;
  }, '');
}

/** Where two JSON values first differ (in `a`'s key order, then `b`'s keys it lacks): the JSON path and both values. */
export function firstJsonDifference(
  a: unknown,
  b: unknown,
  at: readonly PropertyKey[] = [],
): { path: string; a: unknown; b: unknown } | undefined {
  if (Object.is(a, b)) return undefined;
  const isList = Array.isArray(a);
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && isList === Array.isArray(b)) {
    const x = a as Record<string, unknown>;
    const y = b as Record<string, unknown>;
    const keys = isList
      ? Array.from({ length: Math.max((a as unknown[]).length, (b as unknown[]).length) }, (_, i) => i)
      : [...new Set([...Object.keys(x), ...Object.keys(y)])];
    for (const key of keys) {
      const found = firstJsonDifference(x[key], y[key], [...at, key]);
      if (found) return found;
    }
    return undefined;
  }
  return { path: jsonPath(at), a, b };
}

/** What a JSON value is, in words. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return TYPE_WORDS[typeof value] ?? typeof value;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  record: 'an object',
};

/** A zod issue in words (not a schema's own message, which wins): the types only, never the value. */
function describe(issue: z.core.$ZodRawIssue): string | undefined {
  const found = issue.input === undefined ? 'missing' : `not ${kindOf(issue.input)}`;
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `missing; expected ${TYPE_WORDS[issue.expected] ?? issue.expected}`
        : `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}, ${found}`;
    case 'invalid_union': {
      const expected = [...new Set(issue.errors.map((e) => e[0]?.code === 'invalid_type' && e[0].expected))]
        .filter((x): x is string => typeof x === 'string')
        .map((x) => TYPE_WORDS[x] ?? x);
      return expected.length
        ? `expected ${expected.slice(0, -1).join(', ')}${expected.length > 1 ? ' or ' : ''}${expected.at(-1)}, ${found}`
        : undefined;
    }
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return 'unknown field';
    default:
      return undefined;
  }
}

/**
 * A JSON value as text, to key or count by: a string as it is, anything else as its JSON.
 * For the hot paths that read gomel's log lines field by field (20,000 lines a node) rather
 * than by a schema: String() and template literals throw on {"toString": 1}, this never does.
 */
export function jsonText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined');
}

/** `text` as JSON, or `fail` with the position only (the parser's message quotes the text). */
export function parseJsonText(text: string, fail: (problem: string) => Error): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    throw fail(`not valid JSON${at ? ` (at character ${at})` : ''}`);
  }
}

/**
 * Sets `key` as an own field of `obj`, as JSON.parse does. `obj[key] = value` with the key
 * "__proto__" sets the object's prototype instead: the field vanishes and a strict schema
 * never sees it (hostile pass 5, B4: a config's `"__proto__": {...}` passed `config check`).
 */
export function setOwnField(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * The JSON path of the first field named "__proto__" in a parsed value, if any. JSON.parse and
 * the yaml package keep it as an own field, but zod's records and loose objects drop it unseen
 * (zod 4: "skip __proto__ so it can't replace the result prototype"), so an experiment's
 * `config: {__proto__: [1]}` passed as no knob at all. No file gomelctl reads has such a field.
 * Walked without recursion: the value may nest as deep as its parser allows.
 */
export function protoFieldPath(value: unknown): string | undefined {
  // Each value with a link to where it sits, the path spelled only for the field found: copying the
  // path at every level cost N² on N nested arrays (hostile pass 13: 80 KB of "[" took 29 s).
  interface At {
    key: PropertyKey;
    parent: At | undefined;
  }
  const pathOf = (at: At | undefined, last: PropertyKey): string => {
    const keys: PropertyKey[] = [last];
    for (let a = at; a; a = a.parent) keys.push(a.key);
    return jsonPath(keys.reverse());
  };
  const pending: [unknown, At | undefined][] = [[value, undefined]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [v, at] = next;
    if (v === null || typeof v !== 'object') continue;
    if (!Array.isArray(v) && Object.hasOwn(v, '__proto__')) return pathOf(at, '__proto__');
    const entries: [PropertyKey, unknown][] = Array.isArray(v)
      ? v.map((item, i) => [i, item])
      : Object.entries(v as Record<string, unknown>);
    for (const [key, item] of entries.reverse()) pending.push([item, { key, parent: at }]);
  }
  return undefined;
}

/** `value` typed by `schema`, or `fail` for zod's first issue, at its JSON path. */
export function checkJson<T>(value: unknown, schema: z.ZodType<T>, fail: JsonFail): T {
  const proto = protoFieldPath(value);
  if (proto !== undefined) throw fail(proto, 'unknown field');
  const result = schema.safeParse(value, { error: describe });
  if (result.success) return result.data;
  const { issue, path } = innermost(result.error.issues[0]!, []);
  // An unknown field is named by its own path.
  const where = jsonPath(issue.code === 'unrecognized_keys' ? [...path, issue.keys[0]!] : path);
  throw fail(where || undefined, issue.message);
}

/**
 * The issue to name: where a value had the right type for one alternative of a union
 * (a list where a list of strings belongs) the problem is inside it, at its own path.
 */
function innermost(issue: z.core.$ZodIssue, prefix: PropertyKey[]): { issue: z.core.$ZodIssue; path: PropertyKey[] } {
  const path = [...prefix, ...issue.path];
  if (issue.code !== 'invalid_union') return { issue, path };
  const deeper = issue.errors.find((branch) => branch[0] && branch[0].path.length > 0)?.[0];
  return deeper ? innermost(deeper, path) : { issue, path };
}

/** JSON text typed by `schema`; a syntax error is `fail` for the whole document. */
export function parseJsonWith<T>(text: string, schema: z.ZodType<T>, fail: JsonFail): T {
  return checkJson(
    parseJsonText(text, (problem) => fail(undefined, problem)),
    schema,
    fail,
  );
}

/** JSON text typed by `schema`, or undefined for anything else (a record gomelctl wrote, judged silently). */
export function readJsonAs<T>(text: string, schema: z.ZodType<T>): T | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    if (protoFieldPath(value) !== undefined) return undefined;
    const result = schema.safeParse(value);
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
