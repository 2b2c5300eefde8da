// `config sync`: bring a config in line with the committee with the smallest edit.
// Rules (issue "config check and config sync"): NParents follows the committee
// size where it equalled the previous size (the 8-node test sets NParents = N),
// and is capped at N otherwise; CRPFixedPrefix is capped at N; nothing else moves.
import { checkConfigText, type CommitteeShape, type Problem } from './check.js';
import { replaceTopLevel } from './json-text.js';

interface FieldChange {
  field: 'NParents' | 'CRPFixedPrefix';
  from: number;
  to: number;
}

export interface ConfigSyncPlan {
  text: string;
  changes: FieldChange[];
  /** Problems a sync cannot fix, such as a Sync count that differs from the committee's columns. */
  blocking: Problem[];
  /** False when the config could not be read at all (syntax or schema errors): nothing was planned. */
  readable: boolean;
}

export function planConfigSync(
  text: string,
  committee: CommitteeShape,
  previousSize: number | undefined,
  configName: string,
): ConfigSyncPlan {
  const checked = checkConfigText(text, undefined, configName);
  const { config, parsed } = checked;
  if (!config || !parsed)
    return { text, changes: [], blocking: checked.problems.filter((p) => p.severity === 'error'), readable: false };

  const changes: FieldChange[] = [];
  const n = committee.size;
  const nParents = previousSize !== undefined && config.NParents === previousSize ? n : Math.min(config.NParents, n);
  if (nParents !== config.NParents) changes.push({ field: 'NParents', from: config.NParents, to: nParents });
  const prefix = Math.min(config.CRPFixedPrefix, n);
  if (prefix !== config.CRPFixedPrefix)
    changes.push({ field: 'CRPFixedPrefix', from: config.CRPFixedPrefix, to: prefix });

  const newText = replaceTopLevel(
    text,
    parsed.topLevel,
    Object.fromEntries(changes.map((c) => [c.field, String(c.to)])),
  );
  // What sync must not paper over: the column counts are the committee's to change.
  const after = checkConfigText(newText, committee, configName);
  return { text: newText, changes, blocking: after.problems.filter((p) => p.severity === 'error'), readable: true };
}
