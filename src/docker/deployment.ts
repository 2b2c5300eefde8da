// A deployment as the engine sees it: its services (one per node, labelled with
// the network that names the deployment) and the newest task of each. Read by
// deploy, up and fault alike.
import { LABELS } from '../core/labels.js';
import { CONTROL_SECRET_FILE, NODE_ENV } from '../core/deploy/node-contract.js';
import { isServiceName, viewTask, type TaskView } from '../core/deploy/plan.js';
import { EnvironmentError } from '../core/errors.js';
import { mapLimit } from '../core/limit.js';
import { someNames } from '../core/logs/logs-folder.js';
import { DEFAULT_RETRY, retryTransient, type Engine, type RetryPolicy } from './engine.js';
import type { CleanEngine, SecretApi, ServiceApi, TaskApi } from './engine-api.js';

const containerSpec = (s: { Spec?: { TaskTemplate?: unknown } }) =>
  (
    s.Spec?.TaskTemplate as
      | {
          ContainerSpec?: {
            Image?: string;
            Command?: string[];
            Env?: string[];
            CapabilityAdd?: string[];
            Secrets?: { SecretName?: string; File?: { Name?: string } }[];
          };
        }
      | undefined
  )?.ContainerSpec;

/** A positive integer env value of a container spec (SLOT=3 → 3), or undefined. */
function envNumber(env: string[] | undefined, name: string): number | undefined {
  const text = env?.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
  return text !== undefined && /^[1-9]\d*$/.test(text) ? Number(text) : undefined;
}

export const deploymentLabels = (network: string) => ({ [LABELS.managed]: 'true', [LABELS.deployment]: network });

/**
 * Of what the engine listed for a label filter, what does carry every one of `labels`, and the names
 * of what does not: an engine that ignored the filter had clean delete an unlabelled service 'prod-db',
 * a secret 'prod-password' and another deployment's service (hostile pass B6). Deletions go by this.
 */
export function carrying<T extends { Spec?: { Name?: string; Labels?: Record<string, string> } }>(
  listed: readonly T[],
  labels: Record<string, string>,
): { kept: T[]; skipped: string[] } {
  const has = (x: T) => Object.entries(labels).every(([k, v]) => x.Spec?.Labels?.[k] === v);
  return {
    kept: listed.filter(has),
    skipped: listed.filter((x) => !has(x)).map((x) => JSON.stringify(x.Spec?.Name ?? null).slice(0, 80)),
  };
}

/** One line naming what the engine listed for `network` but did not carry its labels, so was left alone. */
export const skippedLine = (network: string, skipped: readonly string[]) =>
  `deploy: Docker Engine listed ${skipped.length} object(s) for ${network} without its labels (${LABELS.managed}=true, ${LABELS.deployment}=${network}); left alone: ${someNames(skipped)}`;

interface DeployedService {
  name: string;
  id: string;
  /** The gomel config the node runs (its command's argument). */
  config: string | undefined;
  committee: string | undefined;
  /** Its committee slot k (env SLOT=k: the committee's k-th member), and the committee's hosts in slot order. */
  slot: number | undefined;
  committeeHosts: string[] | undefined;
  /** The run's record it carries (JSON of core/deploy/run-plan.ts RunRecord), if any. */
  run: string | undefined;
  /** An older gomelctl's record of the run's faults (JSON of a FaultPlan), if any. */
  legacyFaults: string | undefined;
  /** The Swarm secret its control listener reads its token from (gomelctl fault); undefined for a node deployed without one. */
  controlSecret: string | undefined;
  /** Linux capabilities added to its container (NET_ADMIN lets it cut peers off). */
  capAdd: string[];
  /** The image it runs, as its spec names it (deploy spawn pins it by digest). */
  image: string | undefined;
}

/** This deployment's services, in one listing. */
async function listDeployment(
  engine: Pick<ServiceApi, 'listServices'>,
  network: string,
  retry: RetryPolicy = DEFAULT_RETRY,
): Promise<DeployedService[]> {
  // Only what carries both labels, whatever the engine listed: one that ignored the filter had fault write its
  // run record onto another deployment's service (hostile pass 7 BAD2), as it had clean delete one (B6).
  const labels = deploymentLabels(network);
  const services = carrying(await retryTransient(() => engine.listServices(labels), retry), labels).kept;
  // A service's name becomes a folder and file names under --out: one that is not a host name gomelctl
  // could have given (".." from a malformed answer wrote beside --out) is the engine's problem, one line.
  const odd = services.find((s) => !isServiceName(s.Spec?.Name ?? ''));
  if (odd)
    throw new EnvironmentError(
      `Docker Engine listed a service of ${network} named ${JSON.stringify(odd.Spec?.Name ?? null).slice(0, 80)}, which gomelctl never names a node: remove it (\`docker service rm\`) and collect again`,
    );
  return services.map((s) => ({
    name: s.Spec!.Name!,
    id: s.ID,
    config: containerSpec(s)?.Command?.[1],
    committee: s.Spec?.Labels?.[LABELS.committee],
    slot: envNumber(containerSpec(s)?.Env, NODE_ENV.slot),
    committeeHosts: s.Spec?.Labels?.[LABELS.hosts]?.split(' ').filter((h) => h !== ''),
    run: s.Spec?.Labels?.[LABELS.run],
    legacyFaults: s.Spec?.Labels?.[LABELS.legacyFaults],
    controlSecret: containerSpec(s)?.Secrets?.find((x) => x.File?.Name === CONTROL_SECRET_FILE)?.SecretName,
    capAdd: containerSpec(s)?.CapabilityAdd ?? [],
    image: containerSpec(s)?.Image,
  }));
}

export async function serviceIds(
  engine: Pick<ServiceApi, 'listServices'>,
  network: string,
  retry?: RetryPolicy,
): Promise<Map<string, string>> {
  return new Map((await listDeployment(engine, network, retry)).map((s) => [s.name, s.id]));
}

/** Swarm nodes that are not ready: a host that left or died. Its tasks never report again. */
function downNodes(nodes: readonly { ID: string; Status?: { State?: string } }[]): Set<string> {
  return new Set(nodes.filter((n) => n.Status?.State && n.Status.State !== 'ready').map((n) => n.ID));
}

/** The engine calls a wait makes: a seam, so a test can make them fail. */
export type TaskLister = Pick<Engine, 'listTasks'> & Partial<Pick<Engine, 'listNodes'>>;

/** The newest task of each service (by name → ID), in one task listing, retried while the engine is overloaded. */
export async function readTaskViews(
  engine: TaskLister,
  services: ReadonlyMap<string, string>,
  retry: RetryPolicy = DEFAULT_RETRY,
): Promise<Map<string, TaskView>> {
  const tasks = (await retryTransient(() => engine.listTasks([...services.values()]), retry)) as {
    ServiceID?: string;
  }[];
  return new Map([...services].map(([name, id]) => [name, viewTask(tasks.filter((t) => t.ServiceID === id))]));
}

export interface NodeStatus {
  node: string;
  /** The swarm node running the task is down (it left, or its engine died). */
  hostDown: boolean;
  /** The run's record its service carries (JSON; read with core/deploy/run-plan.ts deployedRun), if any. */
  run: string | undefined;
  /** An older gomelctl's record of the run's faults (JSON), if any. */
  legacyFaults: string | undefined;
  /** Its control listener's secret (by name) and its added capabilities (gomelctl fault). */
  controlSecret: string | undefined;
  capAdd: string[];
  /** The gomel config it runs and the committee it was deployed with (service spec and labels). */
  config: string | undefined;
  committee: string | undefined;
  /** Its committee slot and the committee's hosts, as deployed (see DeployedService). */
  slot: number | undefined;
  committeeHosts: string[] | undefined;
  /** The image it runs (its service spec's, pinned by digest). */
  image: string | undefined;
  serviceId: string;
  state: string;
  /** What Swarm wants of the task: "shutdown" on a task gomelctl did not stop is the swarm stopping it (TaskView). */
  desiredState: string | undefined;
  phase: string;
  swarmNode: string | undefined;
  since: string | undefined;
  exitCode: number | undefined;
  error: string | undefined;
  containerId: string | undefined;
}

export async function readStatus(
  engine: Pick<ServiceApi, 'listServices'> & TaskApi,
  network: string,
  retry: RetryPolicy = DEFAULT_RETRY,
): Promise<NodeStatus[]> {
  const deployed = new Map((await listDeployment(engine, network, retry)).map((s) => [s.name, s]));
  const services = new Map([...deployed].map(([name, s]) => [name, s.id]));
  const [views, nodes] = await Promise.all([
    readTaskViews(engine, services, retry),
    retryTransient(() => engine.listNodes(), retry),
  ]);
  const hostOf = new Map(nodes.map((n) => [n.ID, n.Description?.Hostname ?? n.ID]));
  const down = downNodes(nodes);
  return (
    [...services]
      .map(([node, serviceId]) => {
        const v = views.get(node)!;
        const hostDown = Boolean(v.nodeId && down.has(v.nodeId));
        const { config, committee, slot, committeeHosts, run, legacyFaults, controlSecret, capAdd, image } =
          deployed.get(node)!;
        return {
          node,
          serviceId,
          hostDown,
          config,
          committee,
          slot,
          committeeHosts,
          run,
          legacyFaults,
          controlSecret,
          capAdd,
          image,
          state: v.state,
          desiredState: v.desiredState,
          phase: v.phase,
          swarmNode: v.nodeId && hostOf.get(v.nodeId),
          since: v.since,
          exitCode: v.exitCode,
          error: v.error,
          containerId: v.containerId,
        };
      })
      // In committee order (SLOT), not by the digits of a name: hosts need not be node<k>.
      .sort((a, b) => (a.slot ?? Infinity) - (b.slot ?? Infinity) || a.node.localeCompare(b.node))
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the newest task of each service until `done` holds for all, or the timeout. */
export async function waitForTasks(
  engine: TaskLister,
  services: Map<string, string>,
  done: (t: TaskView) => boolean,
  timeoutMs: number,
  progress: (views: Map<string, TaskView>) => void,
  pace: { pollMs: number; retry: RetryPolicy } = { pollMs: 250, retry: DEFAULT_RETRY },
  replaced: ReadonlyMap<string, TaskView> = new Map(),
): Promise<Map<string, TaskView>> {
  const deadline = Date.now() + timeoutMs;
  // A task a forced update replaces stays the newest until the orchestrator creates the next, a moment
  // after the update returns: it settles nothing (256 nodes: node30's failed task, read again, was
  // "not up" while its new task started).
  const stale = (name: string, v: TaskView) => {
    const old = replaced.get(name);
    return old !== undefined && v.since === old.since && v.state === old.state;
  };
  for (;;) {
    const views = await readTaskViews(engine, services, pace.retry);
    // A task on a host that went down never reports again: it is settled, lost with its host.
    const down = downNodes(engine.listNodes ? await retryTransient(() => engine.listNodes!(), pace.retry) : []);
    progress(views);
    if (
      [...views].every(
        ([name, v]) =>
          !stale(name, v) && (done(v) || v.phase === 'failed' || (v.nodeId !== undefined && down.has(v.nodeId))),
      ) ||
      Date.now() > deadline
    )
      return views;
    await sleep(pace.pollMs);
  }
}

/** Swarm's default stop grace period is 10 s; past it the container is killed. A minute covers a slow engine. */
export const REMOVAL_WAIT_MS = 60_000;
const STOPPED_STATES = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove']);

/**
 * Waits until no task of the removed services still runs. The manager keeps such a task,
 * with desired state "remove", until its container is gone, on whatever host it ran;
 * a task on a host that is down never reports again and counts as gone.
 */
export async function waitForRemoved(
  engine: Pick<TaskApi, 'listAllTasks' | 'listNodes'>,
  removed: ReadonlySet<string>,
  warn: (message: string) => void,
  timeoutMs: number,
  pollMs = 250,
): Promise<void> {
  if (removed.size === 0) return;
  const deadline = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    const [listed, nodes] = await Promise.all([
      retryTransient(() => engine.listAllTasks()),
      retryTransient(() => engine.listNodes()),
    ]);
    const tasks = listed as { ServiceID?: string; NodeID?: string; Status?: { State?: string } }[];
    const down = downNodes(nodes);
    const alive = tasks.filter(
      (t) =>
        t.ServiceID &&
        removed.has(t.ServiceID) &&
        !STOPPED_STATES.has(t.Status?.State ?? '') &&
        !(t.NodeID && down.has(t.NodeID)),
    );
    if (alive.length === 0) return;
    if (Date.now() > deadline)
      throw new EnvironmentError(
        `deploy: ${alive.length} container(s) of the previous run still run ${Math.round(timeoutMs / 1000)} s after their services were removed; a new run would talk to them — stop them (docker ps on their hosts) and run again`,
      );
    if (!said)
      warn(`deploy: waiting for ${alive.length} container(s) of the previous run to stop, so that runs never mix`);
    said = true;
    await sleep(pollMs);
  }
}

/** Removes this deployment's secrets that no desired node uses; names the listed ones without its labels. */
export async function pruneSecrets(
  engine: SecretApi,
  network: string,
  keep: Set<string>,
): Promise<{ removed: number; skipped: string[] }> {
  const labels = deploymentLabels(network);
  const listed = carrying(await engine.listSecrets(labels), labels);
  const stale = listed.kept.filter((s) => !keep.has(s.Spec?.Name ?? ''));
  for (const s of stale) {
    // A secret stays "in use" briefly after its service is removed; retry a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        await engine.removeSecret(s.ID);
        break;
      } catch (error) {
        if (attempt >= 20) throw error;
        await sleep(250);
      }
    }
  }
  return { removed: stale.length, skipped: listed.skipped };
}

/** Removes the deployment's services, then its secrets: only what carries its labels (gomelctl deletes only what it wrote). */
export async function removeDeployment(
  engine: CleanEngine,
  network: string,
): Promise<{ services: number; secrets: number; skipped: string[] }> {
  const labels = deploymentLabels(network);
  const services = carrying(await engine.listServices(labels), labels);
  await mapLimit(services.kept, 8, (s) => engine.removeService(s.ID));
  const secrets = await pruneSecrets(engine, network, new Set());
  return {
    services: services.kept.length,
    secrets: secrets.removed,
    skipped: [...services.skipped, ...secrets.skipped],
  };
}
