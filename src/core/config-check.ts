// The rules gomel trips on, checked before anything is deployed
// (docs/gomel-formats.md, "config.json" and "Committee file").
import type { z } from 'zod';
import { ConfigurationSchema, type Configuration, type SyncConfiguration } from './config-model.js';
import { JsonSyntaxError, parseJson, type ParsedJson } from './json-text.js';

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

export interface CheckedConfig {
  parsed?: ParsedJson;
  config?: Configuration;
  problems: Problem[];
}

// What gomel reads from Params, per service type; anything else is ignored by gomel.
const KNOWN_PARAMS: Record<SyncConfiguration['Type'], readonly string[]> = {
  gossip: ['nIn', 'nOut', 'timeout'],
  fetch: ['nIn', 'nOut', 'timeout'],
  multicast: ['network', 'timeout'],
};
const MULTICAST_NETWORKS = ['tcp', 'udp', 'pers'];

// Go's time.ParseDuration: a sequence of decimal numbers each with a unit; "0" alone needs none.
const GO_DURATION = /^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
export const isGoDuration = (s: string) => s === '0' || GO_DURATION.test(s);

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');
}

function schemaProblems(error: z.ZodError): Problem[] {
  return error.issues.map((issue): Problem => {
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const where = path ? `${path}.` : '';
      return { severity: 'error', path: issue.keys.map((k) => `${where}${k}`).join(', '), message: `unknown field${issue.keys.length > 1 ? 's' : ''}; gomel rejects fields it does not know`, fix: 'remove it (field names are case-sensitive)' };
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) {
      return { severity: 'error', path, message: 'missing field; gomel needs all 16 fields of Configuration', fix: `add "${String(issue.path[issue.path.length - 1])}"` };
    }
    return { severity: 'error', path, message: issue.message.replace(/^Invalid input: /, ''), fix: 'use the type gomel expects (see gomel-formats.md)' };
  });
}

function syncProblems(list: readonly SyncConfiguration[], field: 'Sync' | 'SyncSetup'): Problem[] {
  const problems: Problem[] = [];
  list.forEach((sync, i) => {
    const at = `${field}[${i}]`;
    const known = KNOWN_PARAMS[sync.Type];
    for (const [key, value] of Object.entries(sync.Params)) {
      if (!known.includes(key)) {
        // The shipped config.json says mcType, meaning network: its multicast silently runs on tcp.
        const fix = key === 'mcType' && sync.Type === 'multicast' ? `rename it to "network" (gomel reads network; without it multicast runs on tcp)` : `remove it; ${sync.Type} reads ${known.join(', ')}`;
        problems.push({ severity: 'warning', path: `${at}.Params.${key}`, message: `gomel's ${sync.Type} service ignores this parameter`, fix });
      } else if (key === 'timeout' && !isGoDuration(value)) {
        problems.push({ severity: 'error', path: `${at}.Params.timeout`, message: `"${value}" is not a Go duration; gomel dies at start-up ("time: missing unit in duration")`, fix: `add a unit, e.g. "${value}s"` });
      } else if ((key === 'nIn' || key === 'nOut') && !(/^\d+$/.test(value) && Number(value) >= 1)) {
        problems.push({ severity: 'error', path: `${at}.Params.${key}`, message: `"${value}" is not a worker count of at least 1`, fix: 'use a whole number ≥ 1 as a string, e.g. "2"' });
      } else if (key === 'network' && !MULTICAST_NETWORKS.includes(value)) {
        problems.push({ severity: 'error', path: `${at}.Params.network`, message: `"${value}" is not a multicast network`, fix: `use one of ${MULTICAST_NETWORKS.join(', ')}` });
      }
    }
    if (sync.Type !== 'multicast') {
      for (const key of ['nIn', 'nOut'] as const) {
        if (!(key in sync.Params)) problems.push({ severity: 'error', path: `${at}.Params`, message: `missing "${key}"; gomel's ${sync.Type} service needs its worker count`, fix: `add "${key}": "1"` });
      }
    }
    if (sync.Retry !== undefined && !isGoDuration(sync.Retry)) {
      problems.push({ severity: 'error', path: `${at}.Retry`, message: `"${sync.Retry}" is not a Go duration`, fix: `add a unit, e.g. "${sync.Retry}s"` });
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
    problems.push({ severity: 'error', path: 'NParents', message: `${config.NParents} exceeds the committee size ${committee.size}`, fix: `run \`gomelctl config sync\` or set it to at most ${committee.size}` });
  }
  if (config.CRPFixedPrefix > committee.size) {
    // gomel runs with it (the shipped config.json has 10 for 8 nodes), but the prefix beyond N means nothing.
    problems.push({ severity: 'warning', path: 'CRPFixedPrefix', message: `${config.CRPFixedPrefix} exceeds the committee size ${committee.size}`, fix: `run \`gomelctl config sync\` to cap it at ${committee.size}` });
  }
  return problems;
}

/** The fix for a Sync/address-column mismatch: new address columns for the committee, or an edit of the config. */
export function fixForColumns(configName: string, syncCount: number): string {
  if (syncCount === 0) return 'add at least one Sync service';
  const ports = Array.from({ length: syncCount }, (_, i) => 9000 + 1000 * i).join(',');
  return `rewrite the committee's address columns with \`gomelctl keys gen --config ${configName}\` (ports ${ports}; keeps the keys), or edit Sync to match the committee`;
}

/** Validates the text of one config, alone and (when given) against the committee. */
/** gomel's integer fields (Go uint16/int): encoding/json takes only whole-number literals for them. */
const INTEGER_FIELDS = ['NParents', 'Txpu', 'LevelLimit', 'LogLevel', 'LogBuffer', 'LogMemInterval', 'OrderStartLevel', 'CRPFixedPrefix'];

/**
 * JSON.parse reads 1e2 and 2.0 as the integers 100 and 2, but Go's encoding/json
 * refuses both for an integer field ("cannot unmarshal number 1e2 into … of type int"):
 * look at the literal as written.
 */
function integerLiteralProblems(text: string, parsed: ParsedJson): Problem[] {
  return INTEGER_FIELDS.flatMap((field) => {
    const span = parsed.topLevel.get(field);
    const literal = span ? text.slice(span.start, span.end) : '';
    return /[.eE]/.test(literal)
      ? [{ severity: 'error' as const, path: field, message: `${literal} is not a whole-number literal; gomel (Go's encoding/json) refuses it for an integer field`, fix: `write it as ${String(Math.trunc(Number(literal)))}` }]
      : [];
  });
}

export function checkConfigText(text: string, committee: CommitteeShape | undefined, configName = 'config'): CheckedConfig {
  let parsed: ParsedJson;
  try {
    parsed = parseJson(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    return { problems: [{ severity: 'error', path: `line ${e.line}:${e.column}`, message: `invalid JSON: ${e.message}`, fix: 'fix the syntax at that position' }] };
  }
  const result = ConfigurationSchema.safeParse(parsed.value, { reportInput: true });
  if (!result.success) return { parsed, problems: schemaProblems(result.error) };
  const config = result.data;
  const problems = [...integerLiteralProblems(text, parsed), ...syncProblems(config.Sync, 'Sync'), ...syncProblems(config.SyncSetup, 'SyncSetup')];
  if (committee) problems.push(...committeeProblems(config, committee, fixForColumns(configName, config.Sync.length)));
  return { parsed, config, problems };
}

export const hasErrors = (problems: readonly Problem[]) => problems.some((p) => p.severity === 'error');
