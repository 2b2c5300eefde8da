// `gomelctl deploy spawn`: one Swarm service per node, each with only its own key.
// Plan (core/deploy/run-plan.ts), then apply: secrets, remove, create, wait. `up` makes
// its own plan and calls applyRun with it; --dry-run prints the plan and stops.
import type { SpawnEngine } from '../docker/engine-api.js';
import { EXIT_NETWORK_NOT_APPLIED } from '../core/deploy/node-contract.js';
import { LABELS } from '../core/labels.js';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { readInputBytes } from '../fs/input.js';
import { CheckFailed, EnvironmentError, InputError, UsageError } from '../core/errors.js';
import { committeeFingerprint } from '../core/image/context.js';
import { controlSecretName, nodeSpecs, planServices, type NodeSpec, type TaskView } from '../core/deploy/plan.js';
import { describeRunPlan, planRun, runPlanJson, runRecord, type RunPlan } from '../core/deploy/run-plan.js';
import { newControlToken, readControlToken, writeControlToken } from '../fs/control-token.js';
import { mapLimit } from '../core/limit.js';
import { parseImageRef } from '../core/image/payload.js';
import { describeFaultPlan, faultyNodes } from '../core/faults/plan.js';
import { twinSetups } from '../core/faults/twins.js';
import { formatPrivateKey, memberHost } from '../core/keys/committee.js';
import { Engine } from '../docker/engine.js';
import { tagDigest } from '../docker/registry.js';
import { exists } from '../fs/atomic.js';
import { COMMITTEE_FILE, missingMemberFiles, readKeysDir, type KeysDir } from '../fs/keys-dir.js';
import { readRunInputs } from '../fs/run-inputs.js';
import type { DeploySpawnFlags } from './deploy.flags.js';
import { printJson, type Output } from './output.js';
import { retryReporter } from './engine-retry.js';
import { pruneSecrets, REMOVAL_WAIT_MS, removeDeployment, waitForRemoved, waitForTasks } from '../docker/deployment.js';
import { checkRegistryReach } from '../docker/swarm.js';
import { carrying, deploymentLabels, serviceIds, readTaskViews, skippedLine } from '../docker/deployment.js';
import { someNames } from '../core/logs/logs-folder.js';
import { clip, groupNames } from '../core/summary.js';

/** What `deploy spawn` was given. */
export type DeploySpawnOptions = DeploySpawnFlags & {
  /** Replace every node's service even when unchanged: a new run. */
  restart?: boolean;
};

/** How a plan is applied: not part of what runs. */
export interface ApplyOptions {
  /** The keys folder as the user named it (its errors name it so). */
  keys: string;
  parallel: number;
  /** Seconds to wait for every task to run. */
  timeout: number;
  /** Replace every node's service even when unchanged: a new run (what `up` does). */
  restart?: boolean;
  /** The image as `image rebuild` pinned it just now (up): run as it is, not looked up again. */
  pinned?: string;
  /** The configs folder: the run's record holds its config's hash (deploy logs copies only that one). */
  configs: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** sha256 of configs/<name>.json as deployed (read when the plan was made: it exists). */
export async function configHash(configs: string, name: string): Promise<string> {
  return createHash('sha256')
    .update(await readInputBytes(path.join(configs, `${name}.json`), 'config'))
    .digest('hex');
}

/** The committee to deploy with every member's key, or one line naming what is missing. */
export async function readDeployKeys(dir: string): Promise<KeysDir> {
  const keys = await readKeysDir(dir);
  if (!keys)
    throw new InputError(
      path.join(dir, COMMITTEE_FILE),
      undefined,
      'no committee file',
      'create one with `gomelctl keys gen --n 8`',
    );
  const missing = missingMemberFiles(keys);
  if (missing.length)
    throw new InputError(
      dir,
      undefined,
      `no member file for pid ${missing.join(', ')}`,
      'each node needs its own key; restore them or run `gomelctl keys gen`',
    );
  return keys;
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
  const digest = await tagDigest(parsed.registry!, parsed.repository, parsed.tag); // chooseImage: it has one
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

/** A plan, printed instead of applied (--dry-run): lines for people, or JSON. */
export function printRunPlan(
  plan: RunPlan,
  committee: string | undefined,
  o: { json?: boolean; prefix: string },
  out: Output,
): void {
  if (o.json) return printJson(out, runPlanJson(plan, committee));
  out.line(`${o.prefix}: dry run: the engine is not asked, nothing changes`);
  for (const line of describeRunPlan(plan)) out.line(`${o.prefix}: ${line}`);
}

export async function deploySpawn(
  options: DeploySpawnOptions,
  out: Output,
  engine: SpawnEngine = new Engine(),
): Promise<void> {
  // Every flag before the engine (issue 25, N87): exit 2 changes nothing.
  if (options.json && !options.dryRun) throw new UsageError('--json goes with --dry-run: the plan as JSON');
  const inputs = await readRunInputs({ ...options, imageFlag: '--image' });
  const keys = await readDeployKeys(options.keys);
  const configFile = path.join(options.configs, `${options.config}.json`);
  if (!(await exists(configFile)))
    throw new InputError(
      configFile,
      undefined,
      'no such config',
      `choose one of the .json files in ${options.configs}`,
    );
  const plan = planRun(inputs, keys.members.map(memberHost));
  if (options.dryRun)
    return printRunPlan(plan, committeeFingerprint(keys.bytes), { json: options.json, prefix: 'deploy' }, out);
  await applyRun(plan, keys, options, out, engine);
}

/**
 * The apply half of deploy spawn: the plan's services on the engine, each with its own key as a
 * secret, then the wait until every node runs. Every input was checked when the plan was made.
 */
export async function applyRun(
  plan: RunPlan,
  keys: KeysDir,
  options: ApplyOptions,
  out: Output,
  engine: SpawnEngine,
): Promise<void> {
  const fingerprint = committeeFingerprint(keys.bytes);
  // The deployment's control token: the kept one (a redeploy keeps unchanged nodes, which must keep
  // answering), else a new random one, written beside the keys only once everything is checked.
  const keptToken = await readControlToken(keys.dir, plan.network);
  const controlToken = keptToken ?? newControlToken();
  const controlSecret = controlSecretName(controlToken);

  await engine.ping();
  if (plan.image.registry) await checkRegistryReach(engine, plan.image.registry, plan.image.option);
  const image = await resolveImage(engine, options.pinned ?? plan.image.ref, fingerprint);
  if (!(await engine.findNetwork(plan.network)))
    throw new EnvironmentError(
      `deploy: no network ${plan.network}; run \`gomelctl cluster init --network ${plan.network}\``,
    );
  const keyFiles = keys.members.map((_, pid) => new TextEncoder().encode(formatPrivateKey(keys.privateKeys.get(pid)!)));
  const specs = specsOf(plan, keys, keyFiles, options.keys, {
    image,
    committeeFingerprint: fingerprint,
    controlSecret,
    record: JSON.stringify(runRecord(plan, image, fingerprint, await configHash(options.configs, plan.config))),
  });
  if (!keptToken) await writeControlToken(keys.dir, plan.network, controlToken);
  await replaceServices(
    specs,
    keyFiles,
    // The pinned image last: options.image is the flag's reference, not what runs.
    { ...options, plan, fingerprint, controlToken, controlSecret, image },
    out,
    engine,
  );
  if (plan.faults) for (const line of describeFaultPlan(plan.faults)) out.line(`deploy: fault planned: ${line}`);
  await waitUntilUp(plan, options.timeout, out, engine);
}

/** Each node's service spec; a committee no service can be made of is one line naming the committee file. */
function specsOf(
  plan: RunPlan,
  keys: KeysDir,
  keyFiles: Uint8Array[],
  keysDir: string,
  o: { image: string; committeeFingerprint: string; controlSecret: string; record: string },
): NodeSpec[] {
  try {
    return nodeSpecs(keys.members, keyFiles, {
      ...o,
      network: plan.network,
      config: plan.config,
      constraints: plan.placement.constraints,
      spread: plan.placement.spread,
      capAdd: plan.capAdd,
      conditions: plan.nodes.map((n) => n.conditions),
      faults: plan.nodes.map((n) => n.faults),
      ...(plan.faults ? { twinSetups: twinSetups(plan.faults) } : {}),
    });
  } catch (e) {
    if (e instanceof UsageError) throw e; // a spec too large for a node: its own line, naming the limit
    throw new InputError(
      path.join(keysDir, COMMITTEE_FILE),
      undefined,
      (e as Error).message,
      'use one host per node, e.g. `gomelctl keys gen --host-prefix node`',
    );
  }
}

/** Secrets, then the old services out (and gone), then the new ones in; says what changed. */
async function replaceServices(
  specs: NodeSpec[],
  keyFiles: Uint8Array[],
  o: ApplyOptions & { plan: RunPlan; fingerprint: string; controlToken: string; controlSecret: string; image: string },
  out: Output,
  engine: SpawnEngine,
): Promise<void> {
  const { plan: run, parallel, controlSecret } = o;
  const labels = deploymentLabels(run.network);
  const listed = carrying(await engine.listServices(labels), labels);
  const existing = listed.kept.map((s) => ({
    id: s.ID,
    name: s.Spec!.Name!,
    specHash: s.Spec?.Labels?.[LABELS.spec],
  }));
  const plan = planServices(specs, existing, Boolean(o.restart));
  // Secrets first: each node gets only its own key, mounted read-only at /run/secrets/gomel.pk.
  const secrets = new Map(carrying(await engine.listSecrets(labels), labels).kept.map((s) => [s.Spec!.Name, s.ID]));
  const toStart = [...plan.create, ...plan.replace.map((r) => r.node)];
  if (toStart.length && !secrets.has(controlSecret))
    secrets.set(
      controlSecret,
      await engine.createSecret(controlSecret, new TextEncoder().encode(o.controlToken), labels),
    );
  await mapLimit(toStart, parallel, async (node) => {
    if (!secrets.has(node.secretName)) {
      const id = await engine.createSecret(node.secretName, keyFiles[node.pid]!, {
        ...labels,
        [LABELS.node]: node.host,
        [LABELS.committee]: o.fingerprint,
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
  const pruned = await pruneSecrets(engine, run.network, new Set([...specs.map((s) => s.secretName), controlSecret]));
  const skipped = [...listed.skipped, ...pruned.skipped];
  if (skipped.length) out.warn(skippedLine(run.network, skipped));
  const said = [
    plan.create.length && `created ${plan.create.length}`,
    plan.replace.length && `replaced ${plan.replace.length} (${someNames(plan.replace.map((r) => r.node.host))})`,
    plan.keep.length && `kept ${plan.keep.length}`,
    plan.remove.length && `removed ${plan.remove.length} (${someNames(plan.remove.map((s) => s.name))})`,
  ].filter(Boolean);
  out.line(
    `deploy: ${specs.length} nodes on ${run.network} from ${o.image}: ${said.join('; ') || 'nothing to change'}`,
  );
}

/**
 * Docker's own race in starting a swarm task with secrets: the secrets' tmpfs is remounted read-only
 * while a file on it is still open for writing ("unable to remount dir as readonly … mounts/secrets …
 * device or resource busy", moby/moby#48783, open). The container never ran: nothing of the node's
 * happened, and its task is created again once. Seen here in 2 of 3 fresh-clone suite runs in a row.
 */
const ENGINE_START_RACE = /starting container failed: unable to remount/;

/** Waits until every node runs (or is done), watches the settle time, and names the nodes that are not up. */
async function waitUntilUp(plan: RunPlan, timeoutS: number, out: Output, engine: SpawnEngine): Promise<void> {
  const retry = retryReporter(out, 'deploy');
  const ids = await serviceIds(engine, plan.network, retry);
  let last = '';
  const waitUp = (which: Map<string, string>, replaced?: Map<string, TaskView>) =>
    waitForTasks(
      engine,
      which,
      (v) => v.phase === 'running' || v.phase === 'complete',
      timeoutS * 1000,
      (vs) => {
        const up = [...vs.values()].filter((v) => v.phase === 'running' || v.phase === 'complete').length;
        const line = `deploy: ${up}/${vs.size} running or done`;
        if (line !== last && (out.tty || up === vs.size)) out.warn(line);
        last = line;
      },
      // A listing the engine did not answer in time is asked again here, within the budget: 256 containers
      // starting on 2 cores kept the manager from answering one (load 355); elsewhere a timeout stands.
      { pollMs: 250, retry: { ...retry, timeouts: true } },
      replaced,
    );
  let views = await waitUp(ids);
  const raced = [...views].filter(([, v]) => v.phase === 'failed' && ENGINE_START_RACE.test(v.error ?? ''));
  if (raced.length) {
    out.warn(
      `deploy: the engine failed to start ${someNames(raced.map(([name]) => name))} (its secrets mount race, moby/moby#48783: the container never ran); creating their tasks again`,
    );
    for (const [name] of raced) await engine.restartService(ids.get(name)!);
    const again = await waitUp(new Map(raced.map(([name]) => [name, ids.get(name)!])), new Map(raced));
    views = new Map([...views, ...again]);
  }
  let final = views;
  // gomel starts the start margin after the coordinator heard every node (node-lib.sh); a node that
  // refuses its input fails then, and run.sh lingers 3 s before exiting: the default settle covers both.
  if (plan.settleS > 0 && [...views.values()].every((v) => v.phase !== 'failed' && v.phase !== 'pending')) {
    await sleep(plan.settleS * 1000);
    final = await readTaskViews(engine, ids, retry);
  }
  // A node the fault plan crashes or stops early is down as planned, not a failed deployment.
  const plannedDown = new Set(plan.faults ? faultyNodes(plan.faults).faulty.map((x) => x.host) : []);
  const downAsPlanned = [...final]
    .filter(([name, v]) => v.phase === 'failed' && plannedDown.has(name))
    .map(([name]) => name);
  if (downAsPlanned.length) out.line(`deploy: down as planned: ${someNames(downAsPlanned)}`);
  const failed = [...final].filter(([name, v]) => v.phase === 'failed' && !plannedDown.has(name));
  const notUp = [...final].filter(([, v]) => v.phase === 'pending');
  const unshaped = failed.filter(([, v]) => v.exitCode === EXIT_NETWORK_NOT_APPLIED);
  if (plan.nodes.some((n) => n.conditions) && unshaped.length) {
    // Never a silently unshaped run: say why in one line, and leave nothing running.
    const output = await engine.serviceOutput(ids.get(unshaped[0]![0])!, 10_000).catch(() => '');
    const why =
      output
        .split('\n')
        .find((l) => l.startsWith('run.sh: network conditions'))
        ?.replace(/^run\.sh: /, '') ?? `network conditions of ${unshaped[0]![0]} not applied`;
    await removeDeployment(engine, plan.network);
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
