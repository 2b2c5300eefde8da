// `--faults`: read from the command line or a JSON file, parsed by the core.
import { parseFaultPlan, parseFaultPlanJson, type FaultPlan } from '../core/faults/plan.js';
import { readInput } from './input.js';

/** `--faults`: a plan in the short form, or a JSON file of events (src/core/faults/plan.ts). */
export async function readFaultPlan(
  spec: string,
  hosts: readonly string[],
  seed: string | undefined,
): Promise<FaultPlan> {
  const looksLikeFile = spec.endsWith('.json') || (!spec.includes(':') && !spec.includes('@'));
  return looksLikeFile
    ? parseFaultPlanJson(await readInput(spec, 'fault plan'), spec, hosts, seed)
    : parseFaultPlan(spec, hosts, seed);
}
