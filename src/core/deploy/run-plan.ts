// A run, planned once (issue 32): every flag that shapes it — the image, the placement, each
// node's network conditions, the fault plan and each node's part of it, the start and settle
// margins, the services — parsed and checked here, against the committee's hosts, and nowhere
// else. `deploy spawn` applies a plan (secrets, services, the wait); `up` makes its plan before
// it changes anything and hands it over; `--dry-run` prints it. What the nodes run of it is
// recorded once (RunRecord): a label of every service (the deployment's record), which
// `deploy logs` writes into the logs folder as run.json, and `fault` amends with live faults.
import { z } from 'zod';
import { readJsonAs } from '../json-input.js';
import { LABELS } from '../labels.js';
import { someNames } from '../logs/logs-folder.js';
import type { ImageChoice } from '../image/payload.js';
import {
  describeFaultPlan,
  FAULT_PLAN,
  faultSchedules,
  needsNetAdmin,
  parseFaultsFlag,
  readFaultRecord,
  type FaultPlan,
} from '../faults/plan.js';
import {
  describeConditions,
  ingressRules,
  needsNetem,
  planConditions,
  shapingScript,
  type DelayImpl,
} from './network-conditions.js';
import { settleSeconds, startMarginSeconds } from './node-contract.js';

/** The flags that shape a run, checked, with the text of the files they name (read at the edge: fs/run-inputs.ts). */
export interface RunInputs {
  /** The overlay network; it also names the deployment. */
  network: string;
  /** The gomel config each node runs. */
  config: string;
  image: ImageChoice;
  constraints: string[];
  spread: boolean;
  capAdd: string[];
  net: string | undefined;
  netImpl: DelayImpl;
  zones: { text: string; file: string } | undefined;
  /** --faults as given, and the text of the JSON file it names (undefined: the plan is inline). */
  faults: { spec: string; fileText: string | undefined } | undefined;
  seed: string | undefined;
  /** --settle; undefined: the start margin + 6 s. */
  settleS: number | undefined;
}

export interface PlannedNode {
  host: string;
  /** Its network conditions in words, and the script its run.sh applies (network-conditions.ts). */
  conditions?: { summary: string; script: string };
  /** Its part of the fault plan (faultSchedules), applied by its run.sh; absent when it has none. */
  faults?: string;
}

export interface RunPlan {
  network: string;
  config: string;
  /** The reference to run; deploy spawn pins it by digest when it applies the plan. */
  image: ImageChoice;
  /** The committee's hosts in pid order: one service each, named so. */
  hosts: string[];
  placement: { constraints: string[]; spread: boolean };
  /** Every node's added capabilities (CAP_…): those asked for, and NET_ADMIN where tc or iptables run. */
  capAdd: string[];
  netImpl: DelayImpl;
  nodes: PlannedNode[];
  faults: FaultPlan | undefined;
  /** Seconds from the coordinator's last answer to the common start (node-lib.sh's default). */
  startMarginS: number;
  /** Seconds deploy spawn keeps watching once every node runs (0: none). */
  settleS: number;
}

/** The plan of a run on the committee whose hosts are `hosts`; a bad flag or file is one line (UsageError, InputError). */
export function planRun(inputs: RunInputs, hosts: readonly string[]): RunPlan {
  const { rules, faults, nodes } = planNodes(inputs, hosts);
  // Shaping and partitions run tc and iptables in the container: they need NET_ADMIN.
  const netAdmin = rules !== undefined || (faults !== undefined && needsNetAdmin(faults));
  const capAdd = [
    ...new Set([
      ...inputs.capAdd.map((c) => (c.startsWith('CAP_') ? c : `CAP_${c}`)),
      ...(netAdmin ? ['CAP_NET_ADMIN'] : []),
    ]),
  ];
  return {
    network: inputs.network,
    config: inputs.config,
    image: inputs.image,
    hosts: [...hosts],
    placement: { constraints: [...inputs.constraints], spread: inputs.spread },
    capAdd,
    netImpl: inputs.netImpl,
    nodes,
    faults,
    startMarginS: startMarginSeconds(hosts.length),
    settleS: inputs.settleS ?? settleSeconds(hosts.length),
  };
}

/**
 * Each node's network conditions and part of the fault plan: the one parse of --net, --zones and
 * --faults (an experiment's points are checked by it too). A bad one is one line.
 */
export function planNodes(
  inputs: Pick<RunInputs, 'net' | 'zones' | 'netImpl' | 'faults' | 'seed'>,
  hosts: readonly string[],
): { rules: ReturnType<typeof planConditions>; faults: FaultPlan | undefined; nodes: PlannedNode[] } {
  const rules = planConditions(inputs.net, inputs.zones, hosts);
  const faults = inputs.faults && parseFaultsFlag(inputs.faults.spec, inputs.faults.fileText, hosts, inputs.seed);
  const schedules = faults ? faultSchedules(faults) : [];
  const nodes = hosts.map((host, pid): PlannedNode => {
    const node: PlannedNode = { host };
    const r = rules?.[pid];
    if (r)
      node.conditions = {
        summary:
          r.map((x) => `${x.name}: ${describeConditions(x.conditions)}`).join('; ') +
          (r.some((x) => needsNetem(x.conditions)) ? ` (delay: ${inputs.netImpl})` : ''),
        script: shapingScript(host, r, { impl: inputs.netImpl, ingress: ingressRules(hosts, rules!, pid) }),
      };
    if (schedules[pid]) node.faults = schedules[pid];
    return node;
  });
  return { rules, faults, nodes };
}

/** The version of run.json this gomelctl writes and reads. */
export const RUN_RECORD_VERSION = 1;

/**
 * What a run ran, as recorded: every service's label (LABELS.run), and run.json beside its logs.
 * The nodes' scripts and schedules are left out (they follow from the rest); so is how deploy
 * spawn watched (settle), which is no part of what ran. Fields marked optional are absent only
 * in a record made from an older deployment's labels (deployedRun).
 */
export const RUN_RECORD = z.object({
  version: z.literal(RUN_RECORD_VERSION, {
    error: `is not ${RUN_RECORD_VERSION}: another gomelctl wrote it (this one reads version ${RUN_RECORD_VERSION})`,
  }),
  network: z.string(),
  /** The committee's hosts in pid order (node k is the k-th). */
  hosts: z.array(z.string()),
  /** The committee's fingerprint (image/context.ts committeeFingerprint). */
  committee: z.string().optional(),
  config: z.string().optional(),
  /**
   * sha256 of the config file as deploy spawn read it: deploy logs copies a local config beside the
   * logs (conf.json, what the verdict judges by) only when it is this one. Without it, a logs folder
   * got the working folder's configs/config.json for a run deployed from another configs folder.
   */
  configSha256: z.string().optional(),
  /** The image the nodes ran, pinned by digest. */
  image: z.string().optional(),
  placement: z.object({ constraints: z.array(z.string()), spread: z.boolean() }).optional(),
  capAdd: z.array(z.string()).optional(),
  startMarginS: z.number().optional(),
  /** Nodes (numbers from 1) by the network conditions they run under, in words. */
  conditions: z.array(z.object({ nodes: z.array(z.number()), summary: z.string() })).optional(),
  /** The fault plan, planned and live (`gomelctl fault`): the record the verdict judges faults.log by. */
  faults: FAULT_PLAN.optional(),
});
export type RunRecord = z.infer<typeof RUN_RECORD>;

/** The record of a plan applied: with the image as pinned, and the committee's fingerprint. */
export function runRecord(
  plan: RunPlan,
  image: string,
  committee: string | undefined,
  configSha256?: string,
): RunRecord {
  const groups = new Map<string, number[]>();
  plan.nodes.forEach((node, pid) => {
    if (node.conditions) groups.set(node.conditions.summary, [...(groups.get(node.conditions.summary) ?? []), pid + 1]);
  });
  return {
    version: RUN_RECORD_VERSION,
    network: plan.network,
    hosts: plan.hosts,
    ...(committee !== undefined ? { committee } : {}),
    config: plan.config,
    ...(configSha256 !== undefined ? { configSha256 } : {}),
    image,
    placement: plan.placement,
    capAdd: plan.capAdd,
    startMarginS: plan.startMarginS,
    ...(groups.size ? { conditions: [...groups].map(([summary, nodes]) => ({ nodes, summary })) } : {}),
    ...(plan.faults ? { faults: plan.faults } : {}),
  };
}

/** A record as a label holds it, or undefined when it is not one gomelctl wrote. */
export const parseRunRecord = (text: string): RunRecord | undefined => readJsonAs(text, RUN_RECORD);

/**
 * The run's record as a deployment's services carry it (each the same; any one may be gone): its
 * label, or, on services an older gomelctl deployed, a record made of their fault label. Undefined
 * when none carries either; `unreadable` names the label that is not one gomelctl wrote.
 */
export function deployedRun(
  services: readonly {
    run: string | undefined;
    legacyFaults: string | undefined;
    committeeHosts: string[] | undefined;
  }[],
  network: string,
): RunRecord | { unreadable: string } | undefined {
  const carrier = services.find((s) => s.run !== undefined);
  if (carrier) return parseRunRecord(carrier.run!) ?? { unreadable: LABELS.run };
  const legacy = services.find((s) => s.legacyFaults !== undefined);
  if (!legacy) return undefined;
  const faults = readFaultRecord(legacy.legacyFaults!);
  if (!faults) return { unreadable: LABELS.legacyFaults };
  return { version: RUN_RECORD_VERSION, network, hosts: legacy.committeeHosts ?? faults.hosts, faults };
}

/** The network conditions node k (from 1) runs under, in words, if any. */
export const conditionsOf = (record: RunRecord | undefined, k: number | undefined): string | undefined =>
  k === undefined ? undefined : record?.conditions?.find((g) => g.nodes.includes(k))?.summary;

/** The plan in lines for people (--dry-run): what would run, where, under what, and when it starts. */
export function describeRunPlan(plan: RunPlan): string[] {
  const n = plan.hosts.length;
  const conditions = new Map<string, string[]>();
  for (const node of plan.nodes)
    if (node.conditions)
      conditions.set(node.conditions.summary, [...(conditions.get(node.conditions.summary) ?? []), node.host]);
  const hosts = n > 4 ? `${plan.hosts[0]} … ${plan.hosts[n - 1]}` : plan.hosts.join(', ');
  return [
    `${n} nodes on ${plan.network} (${hosts}), config ${plan.config}, from ${plan.image.ref} (pinned by digest when deployed)`,
    `placement: ${plan.placement.spread ? "spread over the swarm's hosts" : 'where the swarm puts them'}${plan.placement.constraints.length ? `; constraints ${plan.placement.constraints.join(', ')}` : ''}${plan.capAdd.length ? `; capabilities ${plan.capAdd.join(', ')}` : ''}`,
    ...(conditions.size
      ? [...conditions].map(
          ([summary, names]) => `network: ${names.length === n ? 'every node' : someNames(names)}: ${summary}`,
        )
      : ['network: no conditions (no --net or --zones)']),
    ...(plan.faults ? describeFaultPlan(plan.faults).map((line) => `fault planned: ${line}`) : []),
    `start: ${plan.startMarginS} s after the coordinator heard every node; settle: ${plan.settleS ? `${plan.settleS} s` : 'none'}`,
  ];
}

/** The plan for machines (--dry-run --json): the record it would write (the image not pinned yet), each node's part, the settle. */
export function runPlanJson(plan: RunPlan, committee: string | undefined): unknown {
  return {
    ...runRecord(plan, plan.image.ref, committee),
    settleS: plan.settleS,
    services: plan.nodes.map((node) => ({
      name: node.host,
      ...(node.conditions ? { conditions: node.conditions.summary } : {}),
      ...(node.faults ? { faults: node.faults } : {}),
    })),
  };
}
