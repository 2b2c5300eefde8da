// `gomelctl deploy spawn`: one Swarm service per node, each with only its own key.
import type { SpawnEngine } from '../docker/engine-api.js';
import { EXIT_NETWORK_NOT_APPLIED, settleSeconds } from '../core/deploy/node-contract.js';
import { LABELS } from '../core/labels.js';
import path from 'node:path';
import { CheckFailed, EnvironmentError, InputError, UsageError } from '../core/errors.js';
import { committeeFingerprint } from '../core/image/context.js';
import { controlSecretName, nodeSpecs, planServices, type NodeSpec, type TaskView } from '../core/deploy/plan.js';
import { newControlToken, readControlToken, writeControlToken } from '../fs/control-token.js';
import { mapLimit } from '../core/limit.js';
import { checkImageRef, checkRegistryAddress } from '../core/image/payload.js';
import {
  describeConditions,
  ingressRules,
  needsNetem,
  planConditions,
  shapingScript,
} from '../core/deploy/network-conditions.js';
import { readInput } from '../fs/input.js';
import { describeFaultPlan, faultyNodes } from '../core/faults/plan.js';
import { faultDeployOptions } from '../core/faults/twins.js';
import { formatPrivateKey, memberHost } from '../core/keys/committee.js';
import { Engine } from '../docker/engine.js';
import { parseImageRef, tagDigest } from '../docker/registry.js';
import { exists } from '../fs/atomic.js';
import { COMMITTEE_FILE, missingMemberFiles, readKeysDir } from '../fs/keys-dir.js';
import { defaultTag } from './defaults.js';
import { DEFAULT_REGISTRY } from './defaults.js';
import type { DeploySpawnFlags } from './deploy.flags.js';
import type { Output } from './output.js';
import { retryReporter } from './engine-retry.js';
import { readFaultPlan } from '../fs/fault-plan.js';
import { pruneSecrets, REMOVAL_WAIT_MS, removeDeployment, waitForRemoved, waitForTasks } from '../docker/deployment.js';
import { checkRegistryReach } from '../docker/swarm.js';
import { deploymentLabels, serviceIds, readTaskViews } from '../docker/deployment.js';
import { someNames } from '../core/logs/logs-folder.js';
import { clip, groupNames } from '../core/summary.js';

/** What `deploy spawn` was given, and what `up` adds. */
export type DeploySpawnOptions = DeploySpawnFlags & {
  /** Replace every node's service even when unchanged: a new run (what `up` does). */
  restart?: boolean;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An image every swarm node can pull: pinned by digest, or named with its registry. Needs no engine: checked first. */
function checkPinnable(ref: string): void {
  if (!ref.includes('@sha256:') && !parseImageRef(ref).registry)
    throw new UsageError(
      `--image ${ref}: name the registry every swarm node pulls from (e.g. ${defaultTag(DEFAULT_REGISTRY)})`,
    );
}

/** The image to run, pinned by digest, and checked to carry this committee. */
async function resolveImage(
  engine: Pick<SpawnEngine, 'inspectImage'>,
  ref: string,
  fingerprint: string,
): Promise<string> {
  const parsed = parseImageRef(ref);
  const local = await engine.inspectImage(ref);
  const built = local?.Config?.Labels?.[LABELS.committee];
  if (built && built !== fingerprint) {
    throw new CheckFailed(
      `deploy: ${ref} was built for another committee (${built}, this one is ${fingerprint}); run \`gomelctl image rebuild\` first`,
    );
  }
  if (ref.includes('@sha256:')) return ref;
  const digest = await tagDigest(parsed.registry!, parsed.repository, parsed.tag); // checkPinnable: it has one
  if (!digest)
    throw new CheckFailed(
      `deploy: registry ${parsed.registry} has no ${parsed.repository}:${parsed.tag}; run \`gomelctl image rebuild\` first`,
    );
  return `${parsed.registry}/${parsed.repository}@${digest}`;
}

function describeTask(v: TaskView): string {
  const exit = v.exitCode !== undefined && v.phase !== 'running' ? ` (exit ${v.exitCode})` : '';
  return `${v.state}${exit}${v.error ? `: ${v.error}` : ''}`;
}

export async function deploySpawn(
  options: DeploySpawnOptions,
  out: Output,
  engine: SpawnEngine = new Engine(),
): Promise<void> {
  const { parallel, timeout: timeoutS } = options; // parsed with their flags (deploy.flags.ts)
  // Every flag before the engine (issue 25, N87): exit 2 changes nothing.
  checkRegistryAddress(options.registry);
  const ref = checkImageRef(options.image ?? defaultTag(options.registry), options.image ? '--image' : '--registry');
  checkPinnable(ref);
  const keys = await readKeysDir(options.keys);
  if (!keys)
    throw new InputError(
      path.join(options.keys, COMMITTEE_FILE),
      undefined,
      'no committee file',
      'create one with `gomelctl keys gen --n 8`',
    );
  const missing = missingMemberFiles(keys);
  if (missing.length)
    throw new InputError(
      options.keys,
      undefined,
      `no member file for pid ${missing.join(', ')}`,
      'each node needs its own key; restore them or run `gomelctl keys gen`',
    );
  const configFile = path.join(options.configs, `${options.config}.json`);
  if (!(await exists(configFile)))
    throw new InputError(
      configFile,
      undefined,
      'no such config',
      `choose one of the .json files in ${options.configs}`,
    );
  const fingerprint = committeeFingerprint(keys.bytes);
  const hosts = keys.members.map(memberHost);
  const zones =
    options.zones !== undefined
      ? { text: await readInput(options.zones, 'zones file'), file: options.zones }
      : undefined;
  const rules = planConditions(options.net, zones, hosts);
  const conditions = rules?.map((r, pid) => ({
    script: shapingScript(hosts[pid]!, r, { impl: options.netImpl, ingress: ingressRules(hosts, rules, pid) }),
    summary:
      r.map((x) => `${x.name}: ${describeConditions(x.conditions)}`).join('; ') +
      (r.some((x) => needsNetem(x.conditions)) ? ` (delay: ${options.netImpl})` : ''),
  }));
  const faultPlan = options.faults === undefined ? undefined : await readFaultPlan(options.faults, hosts, options.seed);
  // gomel starts 3 + N/32 s after the coordinator heard every node (node-lib.sh); a node that
  // refuses its input fails then, and run.sh lingers 3 s before exiting: the default watch covers both.
  const settleS = options.settle ?? settleSeconds(keys.members.length);
  // The deployment's control token: the kept one (a redeploy keeps unchanged nodes, which must keep
  // answering), else a new random one, written beside the keys only once everything is checked.
  const keptToken = await readControlToken(keys.dir, options.network);
  const controlToken = keptToken ?? newControlToken();
  const controlSecret = controlSecretName(controlToken);

  await engine.ping();
  const imageRegistry = parseImageRef(ref).registry;
  if (imageRegistry) await checkRegistryReach(engine, imageRegistry, options.image ? '--image' : '--registry');
  const image = await resolveImage(engine, ref, fingerprint);
  if (!(await engine.findNetwork(options.network)))
    throw new EnvironmentError(
      `deploy: no network ${options.network}; run \`gomelctl cluster init --network ${options.network}\``,
    );

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
      controlSecret,
      spread: options.spread,
      conditions,
      ...(faultPlan ? faultDeployOptions(faultPlan) : {}),
    });
  } catch (e) {
    if (e instanceof UsageError) throw e; // a spec too large for a node: its own line, naming the limit
    throw new InputError(
      path.join(options.keys, COMMITTEE_FILE),
      undefined,
      (e as Error).message,
      'use one host per node, e.g. `gomelctl keys gen --host-prefix node`',
    );
  }
  const labels = deploymentLabels(options.network);
  const existing = (await engine.listServices(labels)).map((s) => ({
    id: s.ID,
    name: s.Spec!.Name!,
    specHash: s.Spec?.Labels?.[LABELS.spec],
  }));
  const plan = planServices(specs, existing, Boolean(options.restart));

  // Secrets first: each node gets only its own key, mounted read-only at /run/secrets/gomel.pk.
  const secrets = new Map((await engine.listSecrets(labels)).map((s) => [s.Spec!.Name, s.ID]));
  const toStart = [...plan.create, ...plan.replace.map((r) => r.node)];
  if (!keptToken) await writeControlToken(keys.dir, options.network, controlToken);
  if (toStart.length && !secrets.has(controlSecret))
    secrets.set(
      controlSecret,
      await engine.createSecret(controlSecret, new TextEncoder().encode(controlToken), labels),
    );
  await mapLimit(toStart, parallel, async (node) => {
    if (!secrets.has(node.secretName)) {
      const id = await engine.createSecret(node.secretName, keyFiles[node.pid]!, {
        ...labels,
        [LABELS.node]: node.host,
        [LABELS.committee]: fingerprint,
      });
      secrets.set(node.secretName, id);
    }
  });
  const removed = [...plan.remove.map((s) => s.id), ...plan.replace.map((r) => r.id)];
  await mapLimit(removed, parallel, (id) => engine.removeService(id));
  // Runs never mix: a removed service's container lives on until it stops (Swarm's grace period, then
  // SIGKILL), answering to the same names; a node of the new run starts only when every one is gone.
  await waitForRemoved(engine, new Set(removed), (message) => out.warn(message), REMOVAL_WAIT_MS);
  await mapLimit(toStart, parallel, (node) =>
    engine.createService(node.spec(secrets.get(node.secretName)!, secrets.get(controlSecret)!) as never),
  );
  await pruneSecrets(engine, options.network, new Set([...specs.map((s) => s.secretName), controlSecret]));

  const said = [
    plan.create.length && `created ${plan.create.length}`,
    plan.replace.length && `replaced ${plan.replace.length} (${someNames(plan.replace.map((r) => r.node.host))})`,
    plan.keep.length && `kept ${plan.keep.length}`,
    plan.remove.length && `removed ${plan.remove.length} (${someNames(plan.remove.map((s) => s.name))})`,
  ].filter(Boolean);
  out.line(
    `deploy: ${specs.length} nodes on ${options.network} from ${image}: ${said.join('; ') || 'nothing to change'}`,
  );
  if (faultPlan) for (const line of describeFaultPlan(faultPlan)) out.line(`deploy: fault planned: ${line}`);

  const retry = retryReporter(out, 'deploy');
  const ids = await serviceIds(engine, options.network, retry);
  let last = '';
  const views = await waitForTasks(
    engine,
    ids,
    (v) => v.phase === 'running' || v.phase === 'complete',
    timeoutS * 1000,
    (vs) => {
      const up = [...vs.values()].filter((v) => v.phase === 'running' || v.phase === 'complete').length;
      const line = `deploy: ${up}/${vs.size} running or done`;
      if (line !== last && (out.tty || up === vs.size)) out.warn(line);
      last = line;
    },
    { pollMs: 250, retry },
  );
  let final = views;
  if (settleS > 0 && [...views.values()].every((v) => v.phase !== 'failed' && v.phase !== 'pending')) {
    await sleep(settleS * 1000);
    final = await readTaskViews(engine, ids, retry);
  }
  // A node the fault plan crashes or stops early is down as planned, not a failed deployment.
  const plannedDown = new Set(faultPlan ? faultyNodes(faultPlan).faulty.map((x) => x.host) : []);
  const downAsPlanned = [...final]
    .filter(([name, v]) => v.phase === 'failed' && plannedDown.has(name))
    .map(([name]) => name);
  if (downAsPlanned.length) out.line(`deploy: down as planned: ${someNames(downAsPlanned)}`);
  const failed = [...final].filter(([name, v]) => v.phase === 'failed' && !plannedDown.has(name));
  const notUp = [...final].filter(([, v]) => v.phase === 'pending');
  const unshaped = failed.filter(([, v]) => v.exitCode === EXIT_NETWORK_NOT_APPLIED);
  if (conditions && unshaped.length) {
    // Never a silently unshaped run: say why in one line, and leave nothing running.
    const output = await engine.serviceOutput(ids.get(unshaped[0]![0])!, 10_000).catch(() => '');
    const why =
      output
        .split('\n')
        .find((l) => l.startsWith('run.sh: network conditions'))
        ?.replace(/^run\.sh: /, '') ?? `network conditions of ${unshaped[0]![0]} not applied`;
    await removeDeployment(engine, options.network);
    throw new EnvironmentError(
      `deploy: ${why}; ${unshaped.length} of ${final.size} nodes could not apply theirs, and the deployment was removed`,
    );
  }
  if (failed.length || notUp.length) {
    // By what their tasks say, a few names each: one line whatever N.
    const parts = groupNames(
      [...failed, ...notUp],
      ([, v]) => describeTask(v),
      ([name]) => name,
    ).map((g) => `${someNames(g.names)} ${clip(g.key)}`);
    throw new CheckFailed(
      `deploy: ${failed.length + notUp.length} of ${final.size} nodes are not up${notUp.length ? ` after ${timeoutS}s` : ''}: ${parts.slice(0, 3).join('; ')}${parts.length > 3 ? `; and ${parts.length - 3} other kind(s)` : ''}`,
    );
  }
}
