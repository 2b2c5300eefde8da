// `deploy spawn | status | logs | clean`: the committee as Swarm services.
import { EXIT_NETWORK_NOT_APPLIED, settleSeconds } from '../core/deploy/node-contract.js';
import { LABELS } from '../core/labels.js';
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { parsePositiveInt } from '../core/args.js';
import { CheckFailed, EnvironmentError, InputError, UsageError } from '../core/errors.js';
import { committeeFingerprint } from '../core/image/context.js';
import { nodeSpecs, planServices, type NodeSpec, type TaskView } from '../core/deploy/plan.js';
import { mapLimit } from '../core/limit.js';
import { checkImageRef, checkRegistryAddress } from '../core/image/payload.js';
import { describeConditions, planConditions, shapingScript } from '../core/deploy/network-conditions.js';
import { readInput } from '../fs/input.js';
import { describeFaultPlan, faultSchedules, faultyNodes, needsNetAdmin, parseFaultPlan, parseFaultPlanJson, readFaultRecord, type FaultPlan } from '../core/faults/plan.js';
import { formatPrivateKey, memberHost } from '../core/keys/committee.js';
import { readTar } from '../docker/build-context.js';
import { separateShipped, type SeparatedOutput } from '../core/logs/shipped.js';
import { FAULTS_FILE, formatManifest, insideFolder, LOGS_MARKER, planLogsFolder } from '../core/logs/logs-folder.js';
import { DEFAULT_RETRY, Engine, retryTransient, type RetryPolicy } from '../docker/engine.js';
import { parseImageRef, tagDigest } from '../docker/registry.js';
import { exists } from '../fs/atomic.js';
import { COMMITTEE_FILE, missingMemberFiles, readCommitteeFile, readKeysDir } from '../fs/keys-dir.js';
import { defaultTag } from './defaults.js';
import { DEFAULT_REGISTRY } from './defaults.js';
import type { Output } from './output.js';
import { checkRegistryReach } from '../docker/swarm.js';
import { deploymentLabels, downNodes, readStatus, serviceIds, readTaskViews, type NodeStatus, type TaskLister } from '../docker/deployment.js';

// The deployment as the engine sees it lives in docker/deployment.ts; these names stay importable from here.
export { listDeployment, readStatus, serviceIds, type DeployedService, type NodeStatus, type TaskLister } from '../docker/deployment.js';

export interface DeploySpawnOptions {
  keys: string;
  configs: string;
  config: string;
  image?: string;
  registry: string;
  network: string;
  constraint: string[];
  capAdd: string[];
  parallel: string;
  timeout: string;
  /** Seconds to keep watching once every task runs: gomel refusing its input exits within a moment. */
  settle?: string;
  /** Replace every node's service even when unchanged: a new run (what `up` does). */
  restart?: boolean;
  spread?: boolean;
  /** Network conditions for every node's egress, e.g. "delay=80ms,loss=0.5%,rate=20mbit". */
  net?: string;
  /** A zones file: nodes per zone and the one-way conditions between zones. */
  zones?: string;
  /** A fault plan: `crash:7@3s;pause:2@2s-12s`, `random:K`, or a JSON file of the same events. */
  faults?: string;
  /** Seeds `--faults random:K`. */
  seed?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The image to run, pinned by digest, and checked to carry this committee. */
async function resolveImage(engine: Engine, ref: string, fingerprint: string): Promise<string> {
  const parsed = parseImageRef(ref);
  const local = await engine.inspectImage(ref);
  const built = local?.Config?.Labels?.[LABELS.committee];
  if (built && built !== fingerprint) {
    throw new CheckFailed(`deploy: ${ref} was built for another committee (${built}, this one is ${fingerprint}); run \`gomelctl image rebuild\` first`);
  }
  if (ref.includes('@sha256:')) return ref;
  if (!parsed.registry) throw new UsageError(`--image ${ref}: name the registry every swarm node pulls from (e.g. ${defaultTag(DEFAULT_REGISTRY)})`);
  const digest = await tagDigest(parsed.registry, parsed.repository, parsed.tag);
  if (!digest) throw new CheckFailed(`deploy: registry ${parsed.registry} has no ${parsed.repository}:${parsed.tag}; run \`gomelctl image rebuild\` first`);
  return `${parsed.registry}/${parsed.repository}@${digest}`;
}

/** Tells the user that the engine failed a call that will be retried. */
export const retryReporter = (out: Output, what: string): RetryPolicy => ({
  ...DEFAULT_RETRY,
  onRetry: (error, attempt) => out.warn(`${what}: ${error.message} (attempt ${attempt}); retrying, the nodes keep running`),
});

/** Polls the newest task of each service until `done` holds for all, or the timeout. */
export async function waitForTasks(
  engine: TaskLister,
  services: Map<string, string>,
  done: (t: TaskView) => boolean,
  timeoutMs: number,
  progress: (views: Map<string, TaskView>) => void,
  pace: { pollMs: number; retry: RetryPolicy } = { pollMs: 250, retry: DEFAULT_RETRY },
): Promise<Map<string, TaskView>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = await readTaskViews(engine, services, pace.retry);
    // A task on a host that went down never reports again: it is settled, lost with its host.
    const down = downNodes(engine.listNodes ? await retryTransient(() => engine.listNodes!(), pace.retry) : []);
    progress(views);
    if ([...views.values()].every((v) => done(v) || v.phase === 'failed' || (v.nodeId !== undefined && down.has(v.nodeId))) || Date.now() > deadline) return views;
    await sleep(pace.pollMs);
  }
}

function describeTask(v: TaskView): string {
  const exit = v.exitCode !== undefined && v.phase !== 'running' ? ` (exit ${v.exitCode})` : '';
  return `${v.state}${exit}${v.error ? `: ${v.error}` : ''}`;
}

export async function deploySpawn(options: DeploySpawnOptions, out: Output, engine = new Engine()): Promise<void> {
  const parallel = parsePositiveInt(options.parallel, '--parallel', 64);
  const timeoutS = parsePositiveInt(options.timeout, '--timeout');
  const settleArg = options.settle === undefined || options.settle === '0' ? undefined : parsePositiveInt(options.settle, '--settle', 600);
  // Every flag before the engine (issue 25, N87): exit 2 changes nothing.
  checkRegistryAddress(options.registry);
  const ref = checkImageRef(options.image ?? defaultTag(options.registry), options.image ? '--image' : '--registry');
  const keys = await readKeysDir(options.keys);
  if (!keys) throw new InputError(path.join(options.keys, COMMITTEE_FILE), undefined, 'no committee file', 'create one with `gomelctl keys gen --n 8`');
  const missing = missingMemberFiles(keys);
  if (missing.length) throw new InputError(options.keys, undefined, `no member file for pid ${missing.join(', ')}`, 'each node needs its own key; restore them or run `gomelctl keys gen`');
  const configFile = path.join(options.configs, `${options.config}.json`);
  if (!(await exists(configFile))) throw new InputError(configFile, undefined, 'no such config', `choose one of the .json files in ${options.configs}`);
  const fingerprint = committeeFingerprint(keys.bytes);
  const hosts = keys.members.map(memberHost);
  const zones = options.zones !== undefined ? { text: await readInput(options.zones, 'zones file'), file: options.zones } : undefined;
  const rules = planConditions(options.net, zones, hosts);
  const conditions = rules?.map((r, pid) => ({ script: shapingScript(hosts[pid]!, r), summary: r.map((x) => `${x.name}: ${describeConditions(x.conditions)}`).join('; ') }));
  const faultPlan = options.faults === undefined ? undefined : await readFaultPlan(options.faults, hosts, options.seed);
  // gomel starts 2 + N/4 s after the last node is ready (templates/node-lib.sh); a node that
  // refuses its input fails then, and run.sh lingers 3 s before exiting: the default watch covers both.
  const settleS = options.settle === '0' ? 0 : (settleArg ?? settleSeconds(keys.members.length));

  await engine.ping();
  const imageRegistry = parseImageRef(ref).registry;
  if (imageRegistry) await checkRegistryReach(engine, imageRegistry, options.image ? '--image' : '--registry');
  const image = await resolveImage(engine, ref, fingerprint);
  if (!(await engine.findNetwork(options.network))) throw new EnvironmentError(`deploy: no network ${options.network}; run \`gomelctl cluster init --network ${options.network}\``);

  const keyFiles = keys.members.map((_, pid) => new TextEncoder().encode(formatPrivateKey(keys.privateKeys.get(pid)!)));
  let specs: NodeSpec[];
  try {
    specs = nodeSpecs(keys.members, keyFiles, {
      network: options.network,
      image,
      config: options.config,
      constraints: options.constraint,
      capAdd: options.capAdd,
      committeeFingerprint: fingerprint,
      spread: options.spread,
      conditions,
      ...(faultPlan ? { faults: faultSchedules(faultPlan), faultPlan: JSON.stringify(faultPlan), faultsNeedNetAdmin: needsNetAdmin(faultPlan) } : {}),
    });
  } catch (e) {
    throw new InputError(path.join(options.keys, COMMITTEE_FILE), undefined, (e as Error).message, 'use one host per node, e.g. `gomelctl keys gen --host-prefix node`');
  }
  const labels = deploymentLabels(options.network);
  const existing = (await engine.listServices(labels)).map((s) => ({ id: s.ID, name: s.Spec!.Name!, specHash: s.Spec?.Labels?.[LABELS.spec] }));
  const plan = planServices(specs, existing, Boolean(options.restart));

  // Secrets first: each node gets only its own key, mounted read-only at /run/secrets/gomel.pk.
  const secrets = new Map((await engine.listSecrets(labels)).map((s) => [s.Spec!.Name, s.ID]));
  const toStart = [...plan.create, ...plan.replace.map((r) => r.node)];
  await mapLimit(toStart, parallel, async (node) => {
    if (!secrets.has(node.secretName)) {
      const id = await engine.createSecret(node.secretName, keyFiles[node.pid]!, { ...labels, [LABELS.node]: node.host, [LABELS.committee]: fingerprint });
      secrets.set(node.secretName, id);
    }
  });
  const removed = [...plan.remove.map((s) => s.id), ...plan.replace.map((r) => r.id)];
  await mapLimit(removed, parallel, (id) => engine.removeService(id));
  // Runs never mix: a removed service's container lives on until it stops (Swarm's grace period, then
  // SIGKILL), answering to the same names; a node of the new run starts only when every one is gone.
  await waitForRemoved(engine, new Set(removed), out, REMOVAL_WAIT_MS);
  await mapLimit(toStart, parallel, (node) => engine.createService(node.spec(secrets.get(node.secretName)!) as never));
  await pruneSecrets(engine, options.network, new Set(specs.map((s) => s.secretName)));

  const said = [
    plan.create.length && `created ${plan.create.length}`,
    plan.replace.length && `replaced ${plan.replace.map((r) => r.node.host).join(', ')}`,
    plan.keep.length && `kept ${plan.keep.length}`,
    plan.remove.length && `removed ${plan.remove.map((s) => s.name).join(', ')}`,
  ].filter(Boolean);
  out.line(`deploy: ${specs.length} nodes on ${options.network} from ${image}: ${said.join('; ') || 'nothing to change'}`);
  if (faultPlan) for (const line of describeFaultPlan(faultPlan)) out.line(`deploy: fault planned: ${line}`);

  const retry = retryReporter(out, 'deploy');
  const ids = await serviceIds(engine, options.network, retry);
  let last = '';
  const views = await waitForTasks(engine, ids, (v) => v.phase === 'running' || v.phase === 'complete', timeoutS * 1000, (vs) => {
    const up = [...vs.values()].filter((v) => v.phase === 'running' || v.phase === 'complete').length;
    const line = `deploy: ${up}/${vs.size} running or done`;
    if (line !== last && (out.tty || up === vs.size)) out.warn(line);
    last = line;
  }, { pollMs: 250, retry });
  let final = views;
  if (settleS > 0 && [...views.values()].every((v) => v.phase !== 'failed' && v.phase !== 'pending')) {
    await sleep(settleS * 1000);
    final = await readTaskViews(engine, ids, retry);
  }
  // A node the fault plan crashes or stops early is down as planned, not a failed deployment.
  const plannedDown = new Set(faultPlan ? faultyNodes(faultPlan).faulty.map((x) => x.host) : []);
  const downAsPlanned = [...final].filter(([name, v]) => v.phase === 'failed' && plannedDown.has(name)).map(([name]) => name);
  if (downAsPlanned.length) out.line(`deploy: down as planned: ${downAsPlanned.join(', ')}`);
  const failed = [...final].filter(([name, v]) => v.phase === 'failed' && !plannedDown.has(name));
  const notUp = [...final].filter(([, v]) => v.phase === 'pending');
  const unshaped = failed.filter(([, v]) => v.exitCode === EXIT_NETWORK_NOT_APPLIED);
  if (conditions && unshaped.length) {
    // Never a silently unshaped run: say why in one line, and leave nothing running.
    const output = await engine.serviceOutput(ids.get(unshaped[0]![0])!, 10_000).catch(() => '');
    const why = output.split('\n').find((l) => l.startsWith('run.sh: network conditions'))?.replace(/^run\.sh: /, '') ?? `network conditions of ${unshaped[0]![0]} not applied`;
    await deployClean({ network: options.network }, { ...out, line: () => {} }, engine);
    throw new EnvironmentError(`deploy: ${why}; ${unshaped.length} of ${final.size} nodes could not apply theirs, and the deployment was removed`);
  }
  if (failed.length || notUp.length) {
    const parts = [...failed, ...notUp].map(([name, v]) => `${name} ${describeTask(v)}`);
    throw new CheckFailed(`deploy: ${failed.length + notUp.length} of ${final.size} nodes are not up${notUp.length ? ` after ${timeoutS}s` : ''}: ${parts.join('; ')}`);
  }
}

/** Swarm's default stop grace period is 10 s; past it the container is killed. A minute covers a slow engine. */
const REMOVAL_WAIT_MS = 60_000;
const STOPPED_STATES = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove']);

/**
 * Waits until no task of the removed services still runs. The manager keeps such a task,
 * with desired state "remove", until its container is gone, on whatever host it ran;
 * a task on a host that is down never reports again and counts as gone.
 */
export async function waitForRemoved(engine: Pick<Engine, 'listAllTasks' | 'listNodes'>, removed: ReadonlySet<string>, out: Output, timeoutMs: number, pollMs = 250): Promise<void> {
  if (removed.size === 0) return;
  const deadline = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    const [listed, nodes] = await Promise.all([retryTransient(() => engine.listAllTasks()), retryTransient(() => engine.listNodes())]);
    const tasks = listed as { ServiceID?: string; NodeID?: string; Status?: { State?: string } }[];
    const down = downNodes(nodes);
    const alive = tasks.filter((t) => t.ServiceID && removed.has(t.ServiceID) && !STOPPED_STATES.has(t.Status?.State ?? '') && !(t.NodeID && down.has(t.NodeID)));
    if (alive.length === 0) return;
    if (Date.now() > deadline) throw new EnvironmentError(`deploy: ${alive.length} container(s) of the previous run still run ${Math.round(timeoutMs / 1000)} s after their services were removed; a new run would talk to them — stop them (docker ps on their hosts) and run again`);
    if (!said) out.warn(`deploy: waiting for ${alive.length} container(s) of the previous run to stop, so that runs never mix`);
    said = true;
    await sleep(pollMs);
  }
}

/** `--faults`: a plan in the short form, or a JSON file of events (src/core/faults/plan.ts). */
export async function readFaultPlan(spec: string, hosts: readonly string[], seed: string | undefined): Promise<FaultPlan> {
  const looksLikeFile = spec.endsWith('.json') || (!spec.includes(':') && !spec.includes('@'));
  return looksLikeFile ? parseFaultPlanJson(await readInput(spec, 'fault plan'), spec, hosts, seed) : parseFaultPlan(spec, hosts, seed);
}

/** Removes this deployment's secrets that no desired node uses. */
async function pruneSecrets(engine: Engine, network: string, keep: Set<string>): Promise<number> {
  const stale = (await engine.listSecrets(deploymentLabels(network))).filter((s) => !keep.has(s.Spec?.Name ?? ''));
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
  return stale.length;
}

export async function deployStatus(options: { network: string; json?: boolean }, out: Output, engine = new Engine()): Promise<NodeStatus[]> {
  const status = await readStatus(engine, options.network);
  if (options.json) out.line(JSON.stringify(status.map(({ containerId: _, controlToken: __, serviceId, ...s }) => ({ ...s, service: serviceId.slice(0, 12) })), null, 2));
  else {
    if (status.length === 0) out.line(`deploy: no gomelctl services on ${options.network}`);
    for (const s of status) {
      const detail = s.phase === 'running' ? '' : s.exitCode !== undefined ? ` exit ${s.exitCode}` : '';
      out.line(`${s.node}\t${s.serviceId.slice(0, 12)}\t${s.state}${detail}\t${s.swarmNode ?? '-'}${s.hostDown ? ' (host down: node lost)' : ''}\t${s.since ?? '-'}${s.error ? `\t${s.error}` : ''}${s.conditions ? `\tnetwork ${s.conditions}` : ''}`);
    }
  }
  return status;
}

export interface DeployLogsOptions {
  network: string;
  out: string;
  follow?: boolean;
  /** Empty the folder first (only of what deploy logs wrote there): `up` judges fresh logs only. */
  fresh?: boolean;
  /** Where the committee and configs are, to leave the run's committee.ka and conf.json beside the logs. */
  keys?: string;
  configs?: string;
}

/** The folder's top-level names and its marker, refused (before anything is written) when it holds what gomelctl did not write. */
async function prepareLogsFolder(options: DeployLogsOptions): Promise<string[]> {
  if (!(await exists(options.out))) return [];
  if (!(await fs.stat(options.out)).isDirectory()) throw new InputError(options.out, undefined, 'is a file, not a folder', 'pass another --out folder');
  const present = await fs.readdir(options.out);
  const marker = present.includes(LOGS_MARKER) ? await readInput(path.join(options.out, LOGS_MARKER), 'logs folder marker') : undefined;
  const plan = planLogsFolder(present, marker, Boolean(options.fresh));
  if (!plan.ok) {
    const shown = plan.foreign.slice(0, 3).join(', ') + (plan.foreign.length > 3 ? ` and ${plan.foreign.length - 3} more` : '');
    throw new InputError(options.out, undefined, `${plan.why} (${shown})`, 'move them away or pass another --out / --logs folder; gomelctl deletes only what it wrote');
  }
  // Stale node folders would skew the verdict: `up` removes what an earlier run left, and only that.
  for (const name of plan.remove) await fs.rm(path.join(options.out, name), { recursive: true, force: true });
  // What stays is ours (the plan refused anything else): the new manifest lists it again.
  return present.filter((n) => n !== LOGS_MARKER && !plan.remove.includes(n));
}

/**
 * Collects every node's output and /extract — also from nodes still running
 * (gomel writes its logs straight into /extract) — and leaves beside them what
 * the verdict needs: each task's state (task.json), the committee and the config.
 */
export async function deployLogs(options: DeployLogsOptions, out: Output, engine = new Engine()): Promise<void> {
  const retry = retryReporter(out, 'deploy logs');
  const status = await readStatus(engine, options.network, retry);
  if (status.length === 0) throw new CheckFailed(`deploy logs: no gomelctl services on ${options.network}`);
  const entries = await prepareLogsFolder(options);
  await fs.mkdir(options.out, { recursive: true });
  const written = new Set([...entries, ...status.flatMap((s) => [`${s.node}.log`, s.node]), COMMITTEE_FILE, 'conf.json', FAULTS_FILE]);
  // The manifest is written before the files it names: a run killed half-way leaves nothing unlisted.
  await fs.writeFile(path.join(options.out, LOGS_MARKER), formatManifest({ network: options.network, entries: [...written] }));
  await copyRunInputs(status[0]!, options, out);
  await recordFaultPlan(status[0]!, options.out);
  const results = await mapLimit(status, 8, (s) => collectNode(s, options, engine, retry));
  for (const r of results) {
    out.line(r.line);
    if (r.incomplete.length) out.warn(`deploy logs: ${r.node}: evidence incomplete: ${r.incomplete.join('; ')} — the verdict marks it so; ${INCOMPLETE_FIX}`);
  }
}

const INCOMPLETE_FIX = "if the engine limits its logs (log-opts max-size/max-file), raise them and run again; a node's own engine still holds its /extract until the service is removed";

interface CollectedNode {
  node: string;
  line: string;
  /** What of its evidence did not arrive whole. */
  incomplete: string[];
}

/** One node: its service output to <out>/<node>.log, its /extract to <out>/<node>/, and task.json saying what arrived. */
async function collectNode(s: NodeStatus, options: DeployLogsOptions, engine: Engine, retry: RetryPolicy): Promise<CollectedNode> {
  const file = path.join(options.out, `${s.node}.log`);
  let shipped: SeparatedOutput | undefined;
  let lostOutput: string | undefined;
  if (s.hostDown) {
    // Its host no longer answers: the manager would wait for its output without end.
    lostOutput = `its host ${s.swarmNode ?? '?'} is down`;
    await fs.writeFile(file, `gomelctl: no output: ${lostOutput}\n`);
  } else if (options.follow) {
    const sink = createWriteStream(file);
    await retryTransient(() => engine.serviceLogs(s.serviceId, true, sink), retry);
    await new Promise<void>((resolve) => sink.end(resolve));
  } else {
    try {
      shipped = separateShipped(await retryTransient(() => engine.serviceOutput(s.serviceId), retry));
      await fs.writeFile(file, shipped.output);
    } catch (error) {
      if (!(error instanceof EnvironmentError)) throw error;
      lostOutput = error.message;
      await fs.writeFile(file, `gomelctl: no output: ${lostOutput}\n`);
    }
  }
  const dir = path.join(options.out, s.node);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  // Through the engine that runs the container (also while it runs), else what the node shipped at exit.
  const incomplete: string[] = [];
  const local = s.containerId && !s.hostDown ? await retryTransient(() => engine.containerArchive(s.containerId!, '/extract'), retry) : undefined;
  let files: { name: string; content: Uint8Array }[] = [];
  if (local) {
    try {
      files = (await readTar(local)).map((e) => ({ name: e.name.replace(/^(extract\/|\.\/)/, ''), content: e.content }));
    } catch (error) {
      incomplete.push(`the archive of its /extract from its engine does not read (${(error as Error).message})`);
    }
  } else if (shipped?.shipment) {
    files = shipped.shipment.files.map((f) => ({ name: f.path, content: f.content }));
    incomplete.push(...shipped.shipment.problems);
  }
  let extracted = 0;
  for (const entry of files) {
    const rel = insideFolder(entry.name);
    if (!rel) continue;
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), entry.content);
    extracted++;
  }
  const uncollected = extracted ? undefined : (lostOutput ?? whyNoFiles(s, shipped));
  const task = { state: s.state, exitCode: s.exitCode, swarmNode: s.swarmNode, hostDown: s.hostDown || undefined, error: s.error, since: s.since, uncollected, incomplete: incomplete.length ? incomplete : undefined };
  await fs.writeFile(path.join(dir, 'task.json'), `${JSON.stringify(task)}\n`);
  const where = extracted ? `, ${extracted} file(s) ${local ? 'from /extract' : 'shipped at exit'} in ${dir}/` : `; no files: ${uncollected}`;
  return { node: s.node, line: `logs: ${s.node} → ${file}${where}${s.phase === 'running' && !s.hostDown ? ' (still running)' : ''}`, incomplete };
}

/** Why a node's /extract could not be collected, in words a user can act on. */
function whyNoFiles(s: NodeStatus, shipped: SeparatedOutput | undefined): string {
  if (shipped?.shipment) return `its shipment held no file whole: ${shipped.shipment.problems[0] ?? 'empty'}`;
  if (s.phase === 'running' || s.phase === 'pending') return `still ${s.phase} on ${s.swarmNode ?? 'another host'}, whose engine this one cannot copy from; it ships its files when it exits`;
  return s.containerId ? 'its container is on another engine and shipped nothing' : 'it never started a container';
}

/** The run's fault plan beside its logs, with who it makes faulty: the folder can be judged on its own later. */
async function recordFaultPlan(first: NodeStatus, out: string): Promise<void> {
  const file = path.join(out, FAULTS_FILE);
  if (!first.faults) {
    await fs.rm(file, { force: true });
    return;
  }
  const plan = readFaultRecord(first.faults);
  if (!plan) {
    throw new EnvironmentError(`deploy logs: the services' ${LABELS.faults} label is not a fault plan gomelctl wrote; the verdict cannot tell planned faults — redeploy with \`gomelctl deploy spawn --faults …\``);
  }
  const { faulty, delayed } = faultyNodes(plan);
  await fs.writeFile(file, `${JSON.stringify({ events: describeFaultPlan(plan), faulty, delayed, plan }, null, 2)}\n`);
}

/** committee.ka and the config the nodes ran, beside the logs, when the local files are the deployed ones. */
async function copyRunInputs(first: NodeStatus, options: DeployLogsOptions, out: Output): Promise<void> {
  const committee = options.keys ? await readCommitteeFile(options.keys).catch(() => undefined) : undefined;
  if (committee && committeeFingerprint(committee.bytes) === first.committee) await fs.writeFile(path.join(options.out, COMMITTEE_FILE), committee.bytes);
  else {
    // An earlier run's committee left here would be judged as this run's.
    await fs.rm(path.join(options.out, COMMITTEE_FILE), { force: true });
    out.warn(`deploy logs: ${options.keys ?? 'the keys folder'} does not hold the deployed committee (${first.committee ?? 'unknown'}); pass --keys to the verdict`);
  }
  const config = options.configs && first.config ? path.join(options.configs, `${first.config}.json`) : undefined;
  if (config && (await exists(config))) await fs.copyFile(config, path.join(options.out, 'conf.json'));
  else await fs.rm(path.join(options.out, 'conf.json'), { force: true });
}

export async function deployClean(options: { network: string }, out: Output, engine = new Engine()): Promise<void> {
  const services = await engine.listServices(deploymentLabels(options.network));
  await mapLimit(services, 8, (s) => engine.removeService(s.ID));
  const secrets = await pruneSecrets(engine, options.network, new Set());
  out.line(`deploy: removed ${services.length} service(s) and ${secrets} secret(s) of ${options.network}`);
}

