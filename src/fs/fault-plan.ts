// `--faults`: read from the command line or a JSON file, parsed by the core.
import { isFaultPlanFile, parseFaultPlan, parseFaultPlanJson, type FaultPlan } from '../core/faults/plan.js';
import { InputError, UsageError } from '../core/errors.js';
import { readInput } from './input.js';

/**
 * `--faults`: a plan in the short form, or a JSON file of events (src/core/faults/plan.ts).
 * The one way in for every command that takes it: whatever is wrong with the plan, inline
 * or in its file (that file missing too), is a usage problem, exit 2, and nothing changed.
 */
export async function readFaultPlan(
  spec: string,
  hosts: readonly string[],
  seed: string | undefined,
): Promise<FaultPlan> {
  if (spec.split(';').every((s) => s.trim() === ''))
    throw new UsageError(
      '--faults: the plan is empty; give events like crash:7@3s;pause:2@2s-12s, or a JSON file of them',
    );
  const looksLikeFile = isFaultPlanFile(spec);
  try {
    return looksLikeFile
      ? parseFaultPlanJson(await readInput(spec, 'fault plan'), spec, hosts, seed)
      : parseFaultPlan(spec, hosts, seed);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new UsageError(looksLikeFile ? `--faults ${error.message}` : error.message);
  }
}
