// faults.json, as deploy logs writes it beside a run's logs: the run's fault plan (planned
// events and the live ones `gomelctl fault` added) and what it asked of each node. The
// verdict reads the plan only for names and shapes (which event an applied action carried
// out, which cut was for good); who was faulty comes from each node's faults.log
// (evidence.ts). The file sits in a folder a user can edit, so every value is checked
// for its type before it is used. Pure.
import { z } from 'zod';
import type { FaultPlan, PlannedFault } from './plan.js';

const kind = z.enum(['crash', 'stop', 'pause', 'partition', 'isolate', 'slow', 'restart']);
const node = z.number().int().min(1);
const ms = z.number().finite().min(0);

const eventSchema = z.object({
  kind,
  nodes: z.array(node),
  groups: z.array(z.array(node)).optional(),
  atMs: ms,
  untilMs: ms.optional(),
  cpu: z.number().gt(0).lt(1).optional(),
  source: z.string(),
  random: z.number().int().optional(),
});

const plannedFault = z.object({ node, host: z.string(), why: z.string(), atMs: ms });

export const faultRecordSchema = z.object({
  /** The plan's events in the short form, with what each does: for people. */
  events: z.array(z.string()),
  /** Whom the plan asked to be faulty, and whom only delayed (faultyNodes): what was asked, not done. */
  faulty: z.array(plannedFault),
  delayed: z.array(plannedFault),
  plan: z.object({
    n: z.number().int().min(1),
    hosts: z.array(z.string()),
    events: z.array(eventSchema),
    seed: z.string().optional(),
  }),
});

export interface FaultRecord {
  events: string[];
  faulty: PlannedFault[];
  delayed: PlannedFault[];
  plan: FaultPlan;
}

/** The record, or the first problem as a JSON path and a message. */
export function parseFaultRecord(doc: unknown): { record: FaultRecord } | { path: string; problem: string } {
  const parsed = faultRecordSchema.safeParse(doc);
  if (parsed.success) return { record: parsed.data as FaultRecord };
  const issue = parsed.error.issues[0]!;
  return {
    path: issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, ''),
    problem: issue.message,
  };
}
