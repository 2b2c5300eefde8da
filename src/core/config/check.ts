// The rules gomel trips on, checked before anything is deployed
// (docs/gomel-formats.md, "config.json" and "Committee file").
import type { z } from 'zod';
import { ConfigurationSchema, SyncConfigurationSchema, type Configuration, type SyncConfiguration } from './model.js';
import { JsonSyntaxError, parseJson, type ParsedJson, type Span } from './json-text.js';
import { jsonPath, setOwnField } from '../json-input.js';
import { appendAll, clip, quoted, QUOTED_MAX, someOf } from '../bounded.js';

export interface Problem {
  severity: 'error' | 'warning';
  /** JSON path such as `Sync[0].Params.timeout`, or `line 3:5` for syntax errors. */
  path: string;
  message: string;
  fix: string;
}

export interface CommitteeShape {
  size: number;
  addressColumns: number;
  setupColumns: number;
}

interface CheckedConfig {
  parsed?: ParsedJson;
  config?: Configuration;
  problems: Problem[];
}

// What gomel reads from Params, per service type; anything else is ignored by gomel.
const KNOWN_PARAMS: Record<SyncConfiguration['Type'], readonly string[]> = {
  gossip: ['nIn', 'nOut', 'timeout'],
  fetch: ['nIn', 'nOut', 'timeout'],
  multicast: ['network', 'timeout'],
  rmc: ['network', 'timeout'],
};
const MULTICAST_NETWORKS = ['tcp', 'udp', 'pers'];

const NS_PER: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  µs: 1000n,
  μs: 1000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const TWO_63 = 1n << 63n;

type GoDuration =
  { ok: true; ns: bigint } | { ok: false; reason: 'invalid' | 'missing unit' | 'unknown unit' | 'overflow' };

/** Go 1.19's time.ParseDuration, step for step (the same overflow limits and fraction rounding). */
function parseGoDuration(text: string): GoDuration {
  let s = text;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, ns: 0n };
  if (s === '') return { ok: false, reason: 'invalid' };
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) return { ok: false, reason: 'invalid' };
    let i = 0;
    let v = 0n;
    for (; isDigit(s[i]); i++) {
      if (v > TWO_63 / 10n) return { ok: false, reason: 'overflow' };
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > TWO_63) return { ok: false, reason: 'overflow' };
    }
    const pre = i > 0;
    s = s.slice(i);
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      for (; isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > (TWO_63 - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
        if (y > TWO_63) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) return { ok: false, reason: 'invalid' };
    let k = 0;
    while (k < s.length && !(s[k] === '.' || isDigit(s[k]))) k++;
    if (k === 0) return { ok: false, reason: 'missing unit' };
    const unit = NS_PER[s.slice(0, k)];
    s = s.slice(k);
    if (unit === undefined) return { ok: false, reason: 'unknown unit' };
    if (v > TWO_63 / unit) return { ok: false, reason: 'overflow' };
    v *= unit;
    if (f > 0n) {
      // float64(f) * (float64(unit) / scale), truncated, as Go computes it.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > TWO_63) return { ok: false, reason: 'overflow' };
    }
    d += v;
    if (d > TWO_63) return { ok: false, reason: 'overflow' };
  }
  if (neg) return { ok: true, ns: -d };
  if (d > TWO_63 - 1n) return { ok: false, reason: 'overflow' };
  return { ok: true, ns: d };
}
export const isGoDuration = (s: string) => parseGoDuration(s).ok;

/** What is wrong with a duration gomel refuses, and the fix (`undefined` when Go accepts it). */
function durationProblem(value: string): { message: string; fix: string } | undefined {
  const parsed = parseGoDuration(value);
  if (parsed.ok) return undefined;
  const shown = quoted(value);
  switch (parsed.reason) {
    case 'missing unit':
      return {
        message: `${shown} is not a Go duration: it has no unit; gomel dies at start-up ("time: missing unit in duration")`,
        fix: `add a unit, e.g. ${quoted(`${value}s`)}`,
      };
    case 'overflow':
      return {
        message: `${shown} is not a Go duration: it is longer than Go's longest duration (2562047h47m16.854775807s); gomel dies at start-up ("time: invalid duration")`,
        fix: 'use a realistic duration, e.g. "2s"',
      };
    case 'unknown unit': {
      // "1e3s": Go durations have no exponent.
      const exp = /^([-+]?(?:\d+(?:\.\d*)?|\.\d+))[eE]([-+]?\d+)(ns|us|µs|μs|ms|s|m|h)$/.exec(value);
      const plain = exp ? Number(`${exp[1]}e${exp[2]}`) : NaN;
      if (exp && Number.isFinite(plain))
        return {
          message: `${shown} is not a Go duration: it has an exponent, which Go durations do not take; gomel dies at start-up ("time: unknown unit")`,
          fix: `write it out, e.g. "${plain}${exp[3]}"`,
        };
      return {
        message: `${shown} is not a Go duration: its unit is not one Go knows; gomel dies at start-up ("time: unknown unit")`,
        fix: 'use ns, us, ms, s, m or h, e.g. "2s"',
      };
    }
    default:
      return {
        message: `${shown} is not a Go duration; gomel dies at start-up ("time: invalid duration")`,
        fix: 'write a number and a unit, e.g. "2s" or "500ms"',
      };
  }
}

/** strconv.Atoi on 64-bit Go: an optional sign, ASCII digits, within int64. */
function goAtoi(text: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const v = BigInt(text);
  return v >= -TWO_63 && v < TWO_63 ? v : undefined;
}

function schemaProblems(error: z.ZodError): Problem[] {
  return error.issues.map((issue): Problem => {
    const path = jsonPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const where = path ? `${path}.` : '';
      return {
        severity: 'error',
        path: someOf(issue.keys.map((k) => `${where}${clip(k, QUOTED_MAX)}`)),
        message: `unknown field${issue.keys.length > 1 ? 's' : ''}; gomel rejects fields it does not know`,
        fix: 'remove it (field names are case-sensitive)',
      };
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) {
      return {
        severity: 'error',
        path,
        message: 'missing field; gomel needs all 16 fields of Configuration',
        fix: `add "${String(issue.path[issue.path.length - 1])}"`,
      };
    }
    return {
      severity: 'error',
      path,
      message: issue.message.replace(/^Invalid input: /, ''),
      fix: 'use the type gomel expects (see gomel-formats.md)',
    };
  });
}

/** gomel's sync.NewService on one list: its checks, and what it parses from Params. */
function syncProblems(list: readonly SyncConfiguration[], field: 'Sync' | 'SyncSetup'): Problem[] {
  const problems: Problem[] = [];
  const dies = field === 'Sync' ? 'gomel dies at start-up' : "gomel's setup phase fails";
  if (list.length === 0)
    problems.push({
      severity: 'error',
      path: field,
      message: `no services; ${dies} ("empty sync configuration")`,
      fix:
        field === 'Sync'
          ? 'add the services, e.g. gossip, fetch and multicast'
          : 'add setup services, or use Setup "coin"',
    });
  const multicasts = list.flatMap((s, i) => (s.Type === 'multicast' || s.Type === 'rmc' ? [i] : []));
  if (multicasts.length > 1)
    problems.push({
      severity: 'error',
      path: `${field}[${multicasts[1]}]`,
      message: `a second multicast service; ${dies} ("multiple multicast servers defined")`,
      fix: 'keep one multicast or rmc service',
    });
  // gomel's fallbacks are gossip and fetch services of the same list; it has no "retrying" service at this version.
  const fallbacks = new Set(list.filter((s) => s.Type === 'gossip' || s.Type === 'fetch').map((s) => s.Type as string));
  list.forEach((sync, i) => {
    const at = `${field}[${i}]`;
    if (sync.Fallback && !fallbacks.has(sync.Fallback)) {
      problems.push({
        severity: 'error',
        path: `${at}.Fallback`,
        message: `${quoted(sync.Fallback)} is not a gossip or fetch service of ${field}; ${dies} ("defined ${clip(sync.Fallback, QUOTED_MAX)} as fallback, but there is no configuration for it")`,
        fix:
          fallbacks.size > 0
            ? `use one of ${[...fallbacks].map((f) => `"${f}"`).join(', ')}, or ""`
            : 'use "" (no fallback), or add a gossip or fetch service',
      });
    }
    const known = KNOWN_PARAMS[sync.Type];
    for (const [key, value] of Object.entries(sync.Params ?? {})) {
      if (!known.includes(key)) {
        // The shipped config.json says mcType, meaning network: its multicast silently runs on tcp.
        const fix =
          key === 'mcType' && sync.Type === 'multicast'
            ? `rename it to "network" (gomel reads network; without it multicast runs on tcp)`
            : `remove it; ${sync.Type} reads ${known.join(', ')}`;
        problems.push({
          severity: 'warning',
          path: `${at}.Params.${clip(key, QUOTED_MAX)}`,
          message: `gomel's ${sync.Type} service ignores this parameter`,
          fix,
        });
      } else if (key === 'network' && !MULTICAST_NETWORKS.includes(value)) {
        problems.push({
          severity: 'error',
          path: `${at}.Params.network`,
          message: `${quoted(value)} is not a multicast network`,
          fix: `use one of ${MULTICAST_NETWORKS.join(', ')}`,
        });
      }
    }
    const timeout = sync.Params?.timeout;
    if (timeout === undefined) {
      problems.push({
        severity: 'error',
        path: `${at}.Params`,
        message: `missing "timeout"; ${dies} ("time: invalid duration \\"\\"")`,
        fix: 'add "timeout": "2s"',
      });
    } else {
      const bad = durationProblem(timeout);
      const parsed = parseGoDuration(timeout);
      if (bad) problems.push({ severity: 'error', path: `${at}.Params.timeout`, ...bad });
      else if (parsed.ok && parsed.ns <= 0n) {
        problems.push({
          severity: 'error',
          path: `${at}.Params.timeout`,
          message: `${quoted(timeout)} is a timeout of zero or less: gomel accepts it, but every sync then times out at once and the node never syncs`,
          fix: 'use a positive duration, e.g. "2s"',
        });
      }
    }
    if (sync.Type === 'gossip' || sync.Type === 'fetch') {
      for (const key of ['nIn', 'nOut'] as const) {
        const value = sync.Params?.[key];
        if (value === undefined) {
          problems.push({
            severity: 'error',
            path: `${at}.Params`,
            message: `missing "${key}"; ${dies} (strconv.Atoi: parsing "")`,
            fix: `add "${key}": "1"`,
          });
          continue;
        }
        const n = goAtoi(value);
        if (n === undefined)
          problems.push({
            severity: 'error',
            path: `${at}.Params.${key}`,
            message: `${quoted(value)} is not a whole number Go's strconv.Atoi reads; ${dies}`,
            fix: 'use a whole number ≥ 1 as a string, e.g. "2"',
          });
        else if (n < 1n)
          problems.push({
            severity: 'error',
            path: `${at}.Params.${key}`,
            message: `${quoted(value)} is not a worker count of at least 1: gomel accepts it, but ${sync.Type} with fewer than one worker never syncs`,
            fix: 'use a whole number ≥ 1, e.g. "2"',
          });
      }
    }
    // gomel reads Retry with a parser that turns every error into 0: a bad Retry silently disables retrying.
    if (sync.Retry !== undefined && sync.Retry !== '') {
      const bad = durationProblem(sync.Retry);
      if (bad)
        problems.push({
          severity: 'error',
          path: `${at}.Retry`,
          message: `${bad.message.replace(/; gomel dies at start-up.*$/, '')}; gomel silently reads it as 0 and never retries`,
          fix: bad.fix,
        });
    }
  });
  return problems;
}

function committeeProblems(config: Configuration, committee: CommitteeShape, fixColumns: string): Problem[] {
  const problems: Problem[] = [];
  if (config.Sync.length !== committee.addressColumns) {
    problems.push({
      severity: 'error',
      path: 'Sync',
      message: `${config.Sync.length} sync services, but the committee has ${committee.addressColumns} address columns; gomel refuses to start ("Wrong number of addresses") and exits 0`,
      fix: fixColumns,
    });
  }
  if (config.SyncSetup.length !== committee.setupColumns) {
    problems.push({
      severity: 'error',
      path: 'SyncSetup',
      message: `${config.SyncSetup.length} setup services, but the committee has ${committee.setupColumns} setup-address columns`,
      fix: `regenerate the committee's setup columns with \`gomelctl keys gen --setup-ports ...\` (keeps the keys), or edit SyncSetup`,
    });
  }
  if (config.NParents > committee.size) {
    problems.push({
      severity: 'error',
      path: 'NParents',
      message: `${config.NParents} exceeds the committee size ${committee.size}`,
      fix: `run \`gomelctl config sync\` or set it to at most ${committee.size}`,
    });
  }
  if (config.CRPFixedPrefix > committee.size) {
    // gomel runs with it (the shipped config.json has 10 for 8 nodes), but the prefix beyond N means nothing.
    problems.push({
      severity: 'warning',
      path: 'CRPFixedPrefix',
      message: `${config.CRPFixedPrefix} exceeds the committee size ${committee.size}`,
      fix: `run \`gomelctl config sync\` to cap it at ${committee.size}`,
    });
  }
  return problems;
}

/** The fix for a Sync/address-column mismatch: new address columns for the committee, or an edit of the config. */
function fixForColumns(configName: string, syncCount: number): string {
  if (syncCount === 0) return 'add at least one Sync service';
  // One port per service; a config with thousands of services would otherwise make a line of hundreds of kB.
  const first = Array.from({ length: Math.min(syncCount, 4) }, (_, i) => 9000 + 1000 * i).join(',');
  const ports = syncCount > 4 ? `${first},… (${syncCount} ports)` : first;
  return `rewrite the committee's address columns with \`gomelctl keys gen --config ${configName}\` (ports ${ports}; keeps the keys), or edit Sync to match the committee`;
}

// gomel's number fields and their Go types. encoding/json parses the literal as written:
// int64 and uint16 take only whole-number literals (no 1e2, 2.0, and no sign at all for
// uint16, not even -0), float32 refuses what rounds beyond its largest value.
const NUMBER_FIELDS: Record<string, 'int' | 'uint16' | 'float32' | 'float64'> = {
  NParents: 'uint16',
  CreateDelay: 'float32',
  StepSize: 'float64',
  Txpu: 'int',
  LevelLimit: 'int',
  LogLevel: 'int',
  LogBuffer: 'int',
  LogMemInterval: 'int',
  OrderStartLevel: 'int',
  CRPFixedPrefix: 'uint16',
};
/** Halfway between float32's largest value and 2^128: Go's ParseFloat(s, 32) overflows from here on. */
const FLOAT32_LIMIT = (1n << 128n) - (1n << 103n);

/** Is |literal| ≥ limit? Exact, on the decimal text (a JSON number literal). */
function literalAtLeast(literal: string, limit: bigint): boolean {
  const m = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal)!;
  const digits = (m[1]! + (m[2] ?? '')).replace(/^0+/, '');
  if (digits === '') return false;
  const exp = Number(m[3] ?? '0') - (m[2] ?? '').length;
  const magnitude = digits.length + exp; // decimal digits before the point
  const limitDigits = limit.toString().length;
  if (magnitude > limitDigits) return true;
  if (magnitude < limitDigits) return false;
  return exp >= 0 ? BigInt(digits) * 10n ** BigInt(exp) >= limit : BigInt(digits) >= limit * 10n ** BigInt(-exp);
}

function numberLiteralProblems(text: string, parsed: ParsedJson, value: Record<string, unknown>): Problem[] {
  return Object.entries(NUMBER_FIELDS).flatMap(([field, type]): Problem[] => {
    const span = parsed.topLevel.get(field);
    if (!span || typeof value[field] !== 'number') return [];
    const literal = text.slice(span.start, span.end);
    const shown = clip(literal, QUOTED_MAX); // a literal of a million digits is still one line
    const error = (message: string, fix: string): Problem[] => [{ severity: 'error', path: field, message, fix }];
    if (type === 'float32') {
      return literalAtLeast(literal, FLOAT32_LIMIT)
        ? error(
            `${shown} is beyond Go's float32 (largest 3.4028235e38); gomel refuses the file ("cannot unmarshal number ${shown} … of type float32")`,
            'use a number of seconds such as 0.2',
          )
        : [];
    }
    if (type === 'float64') {
      return Number.isFinite(Number(literal))
        ? []
        : error(`${shown} is beyond Go's float64; gomel refuses the file`, 'use a small number such as 0');
    }
    if (!/^-?(?:0|[1-9]\d*)$/.test(literal)) {
      const whole = Number(literal);
      return error(
        `${shown} is not a whole-number literal; gomel (Go's encoding/json) refuses it for an integer field`,
        Number.isSafeInteger(whole) ? `write it as ${whole}` : 'write a whole number without "." or exponent',
      );
    }
    const v = BigInt(literal);
    if (type === 'uint16') {
      if (literal.startsWith('-') || v > 65535n)
        return error(
          `${shown} is not a Go uint16 (0..65535)${literal === '-0' ? ': Go refuses any sign, even on 0' : ''}; gomel refuses the file`,
          `use a whole number in 0..65535${literal === '-0' ? ', e.g. 0' : ''}`,
        );
      return [];
    }
    if (v < -TWO_63 || v >= TWO_63)
      return error(
        `${shown} is beyond Go's int (-9223372036854775808..9223372036854775807); gomel refuses the file`,
        'use a smaller whole number',
      );
    if (field === 'LogLevel' && (v < 0n || v > 5n)) {
      return error(
        `${shown} is not a log level 0..5: gomel casts it to zerolog's 8-bit level (256 is debug, 7 disables the log)`,
        'use 0 (debug) … 5 (panic); gomelctl reads the info-level log',
      );
    }
    return [];
  });
}

// Go's encoding/json matches a JSON key to a struct field case-insensitively, folding
// as Unicode's simple folding does (so "ſ" is "s" and the Kelvin sign "K" is "k").
const goFold = (s: string) => s.toLowerCase().replace(/\u017f/g, 's');
const TOP_FIELDS = Object.keys(ConfigurationSchema.shape);
const SYNC_FIELDS = Object.keys(SyncConfigurationSchema.shape);

/** The object with its keys renamed to the fields gomel fills from them; problems for names gomel reads differently. */
function goFieldNames(
  obj: Record<string, unknown>,
  fields: readonly string[],
  at: string,
  topLevel?: Map<string, Span>,
): { value: Record<string, unknown>; problems: Problem[] } {
  const value: Record<string, unknown> = {};
  const problems: Problem[] = [];
  const seen = new Map<string, string>();
  for (const [key, v] of Object.entries(obj)) {
    const field = fields.includes(key) ? key : fields.find((f) => goFold(f) === goFold(key));
    if (field === undefined) {
      setOwnField(value, key, v); // unknown: the schema names it
      continue;
    }
    const path = at ? `${at}.${clip(key, QUOTED_MAX)}` : clip(key, QUOTED_MAX);
    const before = seen.get(field);
    if (before !== undefined && topLevel) {
      // gomel counts the JSON object's keys: two names for one field make 17.
      problems.push({
        severity: 'error',
        path,
        message: `${quoted(before)} and ${quoted(key)} are the same field ${field} to gomel (Go matches field names case-insensitively); gomel refuses the file ("incorrect number of fields")`,
        fix: `keep only "${field}"`,
      });
    } else if (key !== field) {
      problems.push({
        severity: 'warning',
        path,
        message: `gomel reads ${quoted(key)} as ${field} (Go matches field names case-insensitively)`,
        fix: `write "${field}"`,
      });
    }
    seen.set(field, key);
    value[field] = v;
    // config sync edits the value by the field's name.
    const span = topLevel?.get(key);
    if (topLevel && span) topLevel.set(field, span);
  }
  return { value, problems };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates the text of one config, alone and (when given) against the committee. */
export function checkConfigText(
  text: string,
  committee: CommitteeShape | undefined,
  configName = 'config',
): CheckedConfig {
  let parsed: ParsedJson;
  try {
    parsed = parseJson(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    return {
      problems: [
        {
          severity: 'error',
          path: `line ${e.line}:${e.column}`,
          message: `invalid JSON: ${e.message}`,
          fix: 'fix the syntax at that position',
        },
      ],
    };
  }
  const problems: Problem[] = [];
  let value = parsed.value;
  if (isObject(value)) {
    const top = goFieldNames(value, TOP_FIELDS, '', parsed.topLevel);
    appendAll(problems, top.problems);
    value = top.value;
    for (const list of ['Sync', 'SyncSetup'] as const) {
      const entries = top.value[list];
      if (!Array.isArray(entries)) continue;
      top.value[list] = entries.map((entry: unknown, i) => {
        if (!isObject(entry)) return entry;
        const sync = goFieldNames(entry, SYNC_FIELDS, `${list}[${i}]`);
        appendAll(problems, sync.problems);
        return sync.value;
      });
    }
    appendAll(problems, numberLiteralProblems(text, parsed, top.value));
  }
  const result = ConfigurationSchema.safeParse(value, { reportInput: true });
  if (!result.success) return { parsed, problems: appendAll(problems, schemaProblems(result.error)) };
  const config = result.data;
  appendAll(problems, syncProblems(config.Sync, 'Sync'));
  // gomel builds the setup services only for Setup "beacon"; with "coin" it never reads SyncSetup.
  const setup = syncProblems(config.SyncSetup, 'SyncSetup');
  if (config.Setup === 'beacon') appendAll(problems, setup);
  else if (config.SyncSetup.length > 0)
    appendAll(
      problems,
      setup
        .filter((p) => p.severity === 'error')
        .map((p): Problem => ({
          ...p,
          severity: 'warning',
          message: `${p.message.replace(/; gomel's setup phase fails.*$/, '')} (unused while Setup is "${config.Setup}"; gomel would refuse it with "beacon")`,
        })),
    );
  if (committee)
    appendAll(problems, committeeProblems(config, committee, fixForColumns(configName, config.Sync.length)));
  return { parsed, config, problems };
}

export const hasErrors = (problems: readonly Problem[]) => problems.some((p) => p.severity === 'error');
