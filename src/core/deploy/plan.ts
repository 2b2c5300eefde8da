// What `deploy spawn` wants on the swarm, and what it must change to get there.
// One Swarm service per node, as gomel's spawn.sh: name and hostname node<k>,
// env SLOT=k, restart none, on the overlay network; plus, unlike spawn.sh, the
// node's own private key as a Swarm secret and the image pinned by digest.
import {
  CONTROL_SECRET_FILE,
  envStringBytes,
  KEY_SECRET_FILE,
  MAX_ENV_STRING_BYTES,
  NODE_ENV,
} from './node-contract.js';
import { UsageError } from '../errors.js';
import { LABELS } from '../labels.js';
import type { Member } from '../keys/committee.js';
import { hashHex } from '../image/context.js';
import { redactKeyMaterial } from '../keys/secrets.js';
import type { TwinSetups } from '../faults/twins.js';

/**
 * The Swarm secret that hands every node the deployment's control token (`gomelctl fault`,
 * templates/faults.sh control_request). Named by a hash of the token: a new token is a new secret
 * (a secret's data never changes), and gomelctl fault can tell that the token it holds is the one
 * the nodes mount.
 */
export const controlSecretName = (token: string) =>
  `gomel-control.${hashHex(new TextEncoder().encode(`gomelctl control\n${token}`), 12)}`;

/**
 * The largest service spec (as JSON) deploy spawn creates. swarmkit's store refuses a transaction over
 * 1.5 MiB (MaxTransactionBytes in manager/state/store/memory.go: "raft: raft message is too large"),
 * and a service that is updated (gomelctl fault relabels every one) holds its spec and the previous
 * one: half of it. Assumed, not measured here (no Docker in the unit tests).
 */
export const MAX_SERVICE_SPEC_BYTES = 768 * 1024;

interface DeployOptions {
  /** The overlay network; it also names the deployment (one committee per network). */
  network: string;
  image: string; // pinned: repo@sha256:…
  config: string;
  constraints: string[];
  /** Every node's added capabilities (run-plan.ts adds NET_ADMIN where tc or iptables run). */
  capAdd: string[];
  committeeFingerprint: string;
  /** The Swarm secret holding the deployment's control token (controlSecretName). */
  controlSecret: string;
  /** Spread the nodes evenly over the swarm's hosts (a placement preference). */
  spread?: boolean;
  /** Per pid: the network-conditions script its run.sh applies (core/deploy/run-plan.ts). */
  conditions?: ({ script: string } | undefined)[];
  /** Per pid: its part of the fault plan (core/faults/plan.ts faultSchedules; '' or absent for none), applied by run.sh. */
  faults?: (string | undefined)[];
  /** The run's record (run-plan.ts RunRecord, as JSON), a label of every service: what deploy logs and fault read back. */
  record?: string;
  /** The plan's twins (twin:K): what each instance sets up before gomel starts, and the second instances. */
  twinSetups?: TwinSetups;
}

export interface NodeSpec {
  pid: number;
  /** Its service's name: the committee's host, or for a twin's second instance twinName(host). */
  host: string;
  secretName: string;
  keyHash: string;
  specHash: string;
  /** Engine API ServiceSpec; the secrets' IDs (its key's, the control token's) are filled in when they exist. */
  spec: (secretId: string, controlSecretId: string) => Record<string, unknown>;
}

/** The host a node is reached at: its addresses must all name one host (the service). */
function nodeHost(member: Member, pid: number): string {
  const hosts = new Set([...member.addresses, ...member.setupAddresses].map((a) => a.slice(0, a.lastIndexOf(':'))));
  if (hosts.size !== 1)
    throw new Error(
      `committee line ${pid + 1} names several hosts (${[...hosts].join(', ')}); a Swarm service has one`,
    );
  const [host] = hosts as unknown as [string];
  if (!isServiceName(host))
    throw new Error(
      `committee line ${pid + 1}: host "${host}" is not a valid Swarm service name (a DNS label, not digits alone)`,
    );
  return host;
}

/**
 * A node's service name (its committee host, or its twin's): a DNS label, as swarmkit wants one, and
 * not digits alone: `deploy logs` writes a service's output as `<name>.log`, and `<digits>.log` is the
 * name of gomel's own log (`<pid>.log`, docs/gomel-formats.md), which the verdict would read as pid
 * <digits>'s (hostile pass 20).
 */
export const isServiceName = (name: string): boolean =>
  /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(name) && !/^\d+$/.test(name);

export function nodeSpecs(
  members: readonly Member[],
  privateKeys: readonly Uint8Array[],
  o: DeployOptions,
): NodeSpec[] {
  const hosts = members.map(nodeHost);
  const twins = o.twinSetups?.twins ?? [];
  // A twin's second instance (twin:K) is a service of its own beside node K's: its key, its committee slot.
  const instances = [
    ...members.map((_, pid) => ({
      pid,
      name: hosts[pid]!,
      setup: o.twinSetups?.nodes[pid],
      twin: false,
      startFrom: undefined as string | undefined,
    })),
    ...twins.map((t) => ({ ...t, twin: true })),
  ];
  return instances.map(({ pid, name, setup, twin, startFrom }) => {
    const host = hosts[pid]!;
    const keyHash = hashHex(privateKeys[pid]!, 12);
    // Named per committee and key: a resized or re-keyed committee never picks up a stale secret;
    // and per deployment: two deployments of one committee (on two networks) each keep their own
    // (the second one's create was refused "already exists", HTTP 409). Swarm names stop at 64.
    const secretName = `${name}.${hashHex(new TextEncoder().encode(o.network), 8)}.${o.committeeFingerprint.slice(0, 12)}.${keyHash}`;
    const shaping = o.conditions?.[pid];
    const labels = {
      [LABELS.managed]: 'true',
      [LABELS.deployment]: o.network,
      [LABELS.node]: name,
      [LABELS.committee]: o.committeeFingerprint,
      [LABELS.hosts]: hosts.join(' '),
      ...(o.record ? { [LABELS.run]: o.record } : {}),
    };
    const faults = twin ? undefined : o.faults?.[pid];
    const capAdd = [...new Set(o.capAdd.map((c) => (c.startsWith('CAP_') ? c : `CAP_${c}`)))];
    const build = (secretId: string, controlSecretId: string, specHash: string) => ({
      Name: name,
      Labels: { ...labels, [LABELS.spec]: specHash },
      TaskTemplate: {
        ContainerSpec: {
          Image: o.image,
          Command: ['/gomel/run.sh', o.config],
          // gomel listens on the committee's address of its node: its hostname (/etc/hosts). Not a twin's:
          // Docker makes a hostname a DNS alias on the network, and node<K> resolved to the twin on the lab;
          // the twin names its own address node<K> in /etc/hosts (core/faults/twins.ts).
          Hostname: twin ? name : host,
          Env: [
            `${NODE_ENV.slot}=${pid + 1}`,
            ...(shaping ? [`${NODE_ENV.netScript}=${Buffer.from(shaping.script).toString('base64')}`] : []),
            ...(faults ? [`${NODE_ENV.faults}=${Buffer.from(faults).toString('base64')}`] : []),
            ...(setup ? [`${NODE_ENV.twinSetup}=${Buffer.from(setup).toString('base64')}`] : []),
            ...(twin ? [`${NODE_ENV.twin}=1`] : []),
            ...(startFrom ? [`${NODE_ENV.startFrom}=${startFrom}`] : []),
          ],
          Labels: labels,
          Secrets: [
            {
              SecretID: secretId,
              SecretName: secretName,
              File: { Name: KEY_SECRET_FILE, UID: '0', GID: '0', Mode: 0o400 },
            },
            {
              SecretID: controlSecretId,
              SecretName: o.controlSecret,
              File: { Name: CONTROL_SECRET_FILE, UID: '0', GID: '0', Mode: 0o400 },
            },
          ],
          ...(capAdd.length ? { CapabilityAdd: capAdd } : {}),
        },
        RestartPolicy: { Condition: 'none' },
        Placement: {
          Constraints: o.constraints,
          ...(o.spread ? { Preferences: [{ Spread: { SpreadDescriptor: 'node.id' } }] } : {}),
        },
        Networks: [{ Target: o.network, Aliases: [name] }],
      },
      Mode: { Replicated: { Replicas: 1 } },
      // DNS round-robin: node<k> resolves to the task itself, no IPVS virtual IP in between.
      EndpointSpec: { Mode: 'dnsrr' },
    });
    const text = JSON.stringify(build('', '', ''));
    checkFits(name, build('', '', '').TaskTemplate.ContainerSpec.Env, Buffer.byteLength(text));
    const specHash = hashHex(new TextEncoder().encode(text), 16);
    return {
      pid,
      host: name,
      secretName,
      keyHash,
      specHash,
      spec: (secretId: string, controlSecretId: string) => build(secretId, controlSecretId, specHash),
    };
  });
}

/** A spec no node could be started with is refused here, before anything is created, with its figure. */
function checkFits(host: string, env: readonly string[], specBytes: number): void {
  for (const e of env) {
    const bytes = envStringBytes(e);
    if (bytes > MAX_ENV_STRING_BYTES)
      throw new UsageError(
        `deploy: ${host}'s environment string ${e.slice(0, e.indexOf('='))} is ${bytes} bytes; Linux starts no process with one over ${MAX_ENV_STRING_BYTES} (MAX_ARG_STRLEN): give it fewer fault events or network rules`,
      );
  }
  if (specBytes > MAX_SERVICE_SPEC_BYTES)
    throw new UsageError(
      `deploy: ${host}'s service spec is ${specBytes} bytes; a swarm service spec is kept under ${MAX_SERVICE_SPEC_BYTES} (half of swarmkit's 1.5 MiB transaction, as an update holds two): give it fewer fault events or network rules`,
    );
}

interface ExistingService {
  id: string;
  name: string;
  specHash: string | undefined;
}

interface ServicePlan {
  create: NodeSpec[];
  replace: { node: NodeSpec; id: string }[];
  keep: NodeSpec[];
  remove: ExistingService[];
}

/** What to create, replace, keep and remove; with `restart`, every existing node is replaced (a new run). */
export function planServices(
  desired: readonly NodeSpec[],
  existing: readonly ExistingService[],
  restart = false,
): ServicePlan {
  const byName = new Map(existing.map((s) => [s.name, s]));
  const plan: ServicePlan = { create: [], replace: [], keep: [], remove: [] };
  for (const node of desired) {
    const found = byName.get(node.host);
    if (!found) plan.create.push(node);
    else if (found.specHash === node.specHash && !restart) plan.keep.push(node);
    else plan.replace.push({ node, id: found.id });
    byName.delete(node.host);
  }
  plan.remove = [...byName.values()];
  return plan;
}

type TaskPhase = 'pending' | 'running' | 'complete' | 'failed';

export interface TaskView {
  state: string;
  /**
   * What Swarm wants of the task ("running", "shutdown", …). gomelctl never sets it: a task whose
   * service still exists and whose desired state became "shutdown" was stopped by the swarm (its host
   * declared down, and the orchestrator shutting its tasks), not by gomelctl or by its node.
   */
  desiredState: string | undefined;
  phase: TaskPhase;
  /** Swarm's error for the task, redacted and clipped (taskError): every reader prints it or writes it to task.json. */
  error: string | undefined;
  exitCode: number | undefined;
  since: string | undefined;
  nodeId: string | undefined;
  containerId: string | undefined;
}

interface EngineTask {
  ServiceID?: string;
  NodeID?: string;
  DesiredState?: string;
  Version?: { Index?: number };
  CreatedAt?: string;
  Status?: {
    State?: string;
    Err?: string;
    Message?: string;
    Timestamp?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
  };
}

/** Swarm's errors run to a line or two ("task: non-zero exit (1)", a runc error: about 200 characters). */
const TASK_ERROR_CHARS = 500;
const KEYISH_TAIL = /[A-Za-z0-9+/=]+$/;

/**
 * A task's error as gomelctl shows it: at most TASK_ERROR_CHARS characters, key material redacted.
 * A task error quoting a private key was printed whole by `deploy status` and kept in task.json, and a
 * 5 MB one was a 5 MB status line (hostile pass B5). The cut comes first, so that a 5 MB run of base64
 * is never redacted whole; a run the cut splits is dropped, as what is left of a key may not look like one.
 */
export function taskError(error: string): string {
  if (error.length <= TASK_ERROR_CHARS) return redactKeyMaterial(error);
  return `${redactKeyMaterial(error.slice(0, TASK_ERROR_CHARS).replace(KEYISH_TAIL, ''))}…`;
}

/** The newest task of a service, read as a phase: what spawn waits on and status shows. */
export function viewTask(tasks: readonly EngineTask[]): TaskView {
  const newest = [...tasks]
    .sort(
      (a, b) =>
        (a.CreatedAt ?? '').localeCompare(b.CreatedAt ?? '') || (a.Version?.Index ?? 0) - (b.Version?.Index ?? 0),
    )
    .pop();
  const state = newest?.Status?.State ?? 'none';
  const phase: TaskPhase =
    state === 'running'
      ? 'running'
      : state === 'complete'
        ? 'complete'
        : ['failed', 'rejected', 'orphaned', 'shutdown', 'remove'].includes(state)
          ? 'failed'
          : 'pending';
  return {
    state,
    desiredState: newest?.DesiredState,
    phase,
    error: newest?.Status?.Err === undefined ? undefined : taskError(newest.Status.Err),
    exitCode: newest?.Status?.ContainerStatus?.ExitCode,
    since: newest?.Status?.Timestamp,
    nodeId: newest?.NodeID,
    containerId: newest?.Status?.ContainerStatus?.ContainerID,
  };
}
