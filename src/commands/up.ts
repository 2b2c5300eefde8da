// `up`: the whole flow in one command; `down`: deploy clean.
import { stoppedBySwarm } from '../core/logs/shutdown.js';
import { fewNames } from '../core/logs/verdict.js';
import { CheckFailed, EnvironmentError, InputError, UsageError } from '../core/errors.js';
import { parseCidr } from '../core/deploy/subnet.js';
import { planRun, type RunPlan } from '../core/deploy/run-plan.js';
import { readCommitteeFile } from '../fs/keys-dir.js';
import { requireConfig } from '../fs/configs-dir.js';
import { hostsAfterKeysGen, memberHost } from '../core/keys/committee.js';
import { checkPayloadFiles } from '../fs/payload-files.js';
import { resolveCode } from '../fs/code-layout.js';
import { readRunInputs } from '../fs/run-inputs.js';
import { DEFAULT_RETRY, Engine } from '../docker/engine.js';
import type { ServiceApi, TaskApi, UpEngine } from '../docker/engine-api.js';
import { checkClusterState, clusterInit } from './cluster.js';
import { configCheck, configSync } from './config.js';
import {
  committeeProgress,
  describeProbeProgress,
  describeProgress,
  lastProbeProgress,
  lastProgress,
  StallWatch,
} from '../core/logs/live-progress.js';
import { someNames } from '../core/logs/logs-folder.js';
import type { PayloadKind } from '../core/image/context.js';
import { mapLimit } from '../core/limit.js';
import { applyRun, printRunPlan, readDeployKeys } from './deploy-spawn.js';
import { deployLogs } from './deploy-logs.js';
import { deployClean } from './deploy-clean.js';
import { retryReporter } from './engine-retry.js';
import type { DownFlags, UpFlags } from './up.flags.js';
import { checkLogsFolder } from '../fs/logs-folder.js';
import { readRunStart } from '../fs/run-folder.js';
import { PhaseClock } from '../core/phase-clock.js';
import { checkRegistryReach } from '../docker/swarm.js';
import { readStatus, serviceIds, waitForTasks } from '../docker/deployment.js';
import { imageRebuild } from './image.js';
import { keysGen, keysVerify } from './keys.js';
import type { Output } from './output.js';
import { verdict } from './verdict.js';
import { askNodes } from './fault.js';
import { controlTokenFile, readControlToken } from '../fs/control-token.js';

/** What `up` was given: its declared flags (up.flags.ts). */
type UpOptions = UpFlags;

/**
 * Every flag and input file of `up`, checked before anything changes (issue 25, N85/N86),
 * and the run planned: a refusal here leaves keys, configs and the engine as they were —
 * which is what exit 2 promises. The plan is made on the committee as keys gen will leave
 * it, and handed to deploy spawn's apply half as it is: nothing is parsed twice.
 */
async function checkOptions(options: UpOptions): Promise<RunPlan> {
  if (options.json && !options.dryRun) throw new UsageError('--json goes with --dry-run: the plan as JSON');
  // --n, --timeout, --parallel, --network and --stall are parsed with their flags (up.flags.ts).
  if (options.subnet !== undefined) parseCidr(options.subnet);
  const inputs = await readRunInputs({
    ...options,
    image: options.tag,
    imageFlag: '--tag',
    // No settle watch: up waits for every node to finish anyway, and its verdict names those that failed at once;
    // with network conditions it stays, so that a node that could not apply them stops the run with one line.
    settle: options.net !== undefined || options.zones !== undefined ? undefined : 0,
  });
  await requireConfig(options.configs, options.config);
  await checkPayloadFiles(options);
  // Which layout --code holds, and its bn256, refused here rather than after keys gen.
  if (options.bn256 !== undefined && options.code === undefined)
    throw new UsageError('--bn256 goes with --code: it is the bn256 checkout gomel is compiled with');
  if (options.code !== undefined) await resolveCode(options.code, options.bn256);
  const hosts = hostsAfterKeysGen((await readCommitteeFile(options.keys))?.members, options.n);
  if (!hosts) throw new UsageError(`--n is required: ${options.keys} holds no committee yet`);
  const plan = planRun(inputs, hosts);
  // The folder the logs are collected into, judged now rather than after the run: one that holds
  // what gomelctl did not write is refused (N89), and so is a path under a file.
  await checkLogsFolder(options.logs, true, '--logs');
  return plan;
}

/**
 * How often up looks while it waits: at the nodes' tasks (`pollMs`) and at their progress
 * (`progressMs`; an updating terminal every 2 s, a log every 5 s, progressEveryMs). A test of the
 * whole flow on the engine in memory passes shorter ones: its stall of 1 s is then seen in about
 * 1 s, not at the second progress reading 4 s on.
 */
export interface UpPace {
  pollMs: number;
  progressMs?: number;
  /** How long a failing engine call is retried outside the wait for the nodes (DEFAULT_RETRY's budget). */
  retryBudgetMs?: number;
}

/**
 * `stop` (experiment run's Ctrl-C) ends up at its next step, or its wait for the nodes, with
 * the signal's reason; what up deployed by then is its caller's to remove (deploy clean).
 */
export async function up(
  options: UpOptions,
  out: Output,
  engine: UpEngine = new Engine(),
  stop?: AbortSignal,
  pace: UpPace = { pollMs: 250 },
): Promise<void> {
  const plan = await checkOptions(options);
  if (options.dryRun) return printRunPlan(plan, undefined, { json: options.json, prefix: 'up' }, out);
  // What depends on the engine's state, asked (read only) before anything changes: a --subnet
  // another network overlaps, a loopback registry on a swarm of several hosts.
  await checkClusterState(engine, options.network, options.subnet);
  await checkRegistryReach(engine, plan.image.registry!, plan.image.option); // a --tag names its registry
  try {
    await steps(options, plan, out, engine, stop, pace);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // Exit 2 promises that nothing changed; by now keys, configs or the engine may have.
    throw new CheckFailed(
      `${error.message} (found after up began changing keys, configs and the engine: exit 1, not 2)`,
    );
  }
}

/** up's steps, once every flag and input passed: from here on things change. */
async function steps(
  options: UpOptions,
  plan: RunPlan,
  out: Output,
  engine: UpEngine,
  stop: AbortSignal | undefined,
  pace: UpPace,
): Promise<void> {
  const clock = new PhaseClock();
  const step = (name: string) => {
    stop?.throwIfAborted();
    clock.begin(name, Date.now());
    out.line('');
    out.line(`== ${name}`);
  };
  step('keys');
  await keysGen({ n: options.n, dir: options.keys, config: options.config, configs: options.configs }, out);
  await keysVerify({ dir: options.keys }, out);
  // A committee keys gen made or grew: its secrets are not to be printed either, whatever a node says.
  await out.keysFolder?.(options.keys);
  step('config');
  await configSync({ configs: options.configs, keys: options.keys }, [options.config], out);
  await configCheck({ configs: options.configs, keys: options.keys }, [options.config], out);
  step('cluster');
  await clusterInit({ network: options.network, subnet: options.subnet, registry: options.registry }, out, engine);
  step('image');
  const { payload, pinned } = await imageRebuild(
    {
      keys: options.keys,
      configs: options.configs,
      registry: options.registry,
      chosen: plan.image,
      code: options.code,
      bn256: options.bn256,
      binary: options.binary,
    },
    out,
    engine,
  );
  step('deploy');
  await deploy(options, plan, pinned, out, engine);
  clock.begin('wait', Date.now());
  const waited = await waitForRun(options, out, engine, payload, stop, pace);
  step('logs');
  await collect(options, waited, payload, out, engine, pace);
  // The nodes' common start, as they recorded it: the wait for them is the start wait, then gomel's run.
  clock.split('wait', await readRunStart(options.logs).catch(() => undefined), ['start wait', 'run']);
  await judge(options, payload, out, step, () => `up: time: ${clock.line(Date.now())}`);
}

/** deploy spawn's apply half, with up's plan: every node anew (a new run); nodes that failed at once are judged. */
async function deploy(options: UpOptions, plan: RunPlan, pinned: string, out: Output, engine: UpEngine): Promise<void> {
  out.line('up: every node starts anew (a new run); `gomelctl deploy spawn` keeps unchanged nodes');
  const keys = await readDeployKeys(options.keys);
  const hosts = keys.members.map(memberHost);
  // keys gen names the hosts as hostsAfterKeysGen says (checkOptions planned on them): another is a bug of ours.
  if (hosts.join(' ') !== plan.hosts.join(' '))
    throw new Error(`up: keys gen made hosts ${someNames(hosts)}, the run was planned on ${someNames(plan.hosts)}`);
  try {
    await applyRun(
      plan,
      keys,
      {
        keys: options.keys,
        configs: options.configs,
        parallel: options.parallel,
        timeout: options.timeout,
        restart: true,
        pinned,
      },
      out,
      engine,
    );
  } catch (error) {
    // Nodes that failed at once left logs that say why: collect them and give the verdict anyway.
    if (!(error instanceof CheckFailed)) throw error;
    out.warn(`gomelctl: ${error.message}`);
  }
}

interface Waited {
  running: string[];
  lost: string[];
  stalled: string | undefined;
}

/** Waits for every node to finish, or a stall, or --timeout; which are still running, and which were lost with their host. */
async function waitForRun(
  options: UpOptions,
  out: Output,
  engine: UpEngine,
  payload: PayloadKind,
  stop: AbortSignal | undefined,
  pace: UpPace,
): Promise<Waited> {
  const retry = {
    ...retryReporter(out, 'up'),
    ...(pace.retryBudgetMs !== undefined && { budgetMs: pace.retryBudgetMs }),
  };
  const services = await serviceIds(engine, options.network, retry);
  out.line(`up: waiting for the ${services.size} nodes to finish (at most ${options.timeout}s)`);
  let stalled: string | undefined;
  try {
    const progressMs = pace.progressMs ?? progressEveryMs(out);
    const watching = watchProgress(engine, options, out, payload, progressMs, (why) => (stalled = why));
    try {
      await waitForTasks(
        engine,
        services,
        (v) => stalled !== undefined || stop?.aborted === true || v.phase === 'complete',
        Number(options.timeout) * 1000,
        () => {},
        // The engine failing its calls a while does not end the wait: the nodes run on until --timeout
        // (256 probe nodes on 2 cores kept the manager failing listings for over 2 minutes).
        {
          pollMs: pace.pollMs,
          retry: { ...retry, timeouts: true, budgetMs: Math.max(retry.budgetMs, Number(options.timeout) * 1000) },
        },
      );
    } finally {
      watching.stop();
      await watching.done;
    }
    const status = await readStatus(engine, options.network, retry);
    return {
      running: status.filter((x) => (x.phase === 'pending' || x.phase === 'running') && !x.hostDown).map((x) => x.node),
      lost: status.filter((x) => x.hostDown).map((x) => `${x.node} (on ${x.swarmNode ?? '?'})`),
      stalled,
    };
  } catch (error) {
    if (!(error instanceof EnvironmentError)) throw error; // a bug of ours is not an engine that stopped answering
    // The engine stayed unreachable past the retry budget: the nodes run on; say how to pick up.
    throw new EnvironmentError(
      `up: ${(error as Error).message}; the nodes were left running — when the engine answers, \`gomelctl deploy logs --out ${options.logs}\` then \`gomelctl verdict --logs ${options.logs}\``,
    );
  }
}

/** Every node's logs into --logs; the nodes still running stopped, unless --keep. */
async function collect(
  options: UpOptions,
  waited: Waited,
  payload: PayloadKind,
  out: Output,
  engine: UpEngine,
  pace: UpPace,
): Promise<void> {
  const { running, lost, stalled } = waited;
  if (stalled) out.line(`up: stalled: ${stalled}; collecting and judging now instead of waiting for --timeout`);
  if (running.length)
    out.warn(
      `up: ${running.length} node(s) still running ${stalled ? 'at the stall' : `after ${options.timeout}s`}: ${someNames(running)}; collecting what they logged so far`,
    );
  if (lost.length) out.warn(`up: ${lost.length} node(s) lost with a host that went down: ${someNames(lost)}`);
  // --keep leaves them running: nothing is asked of them. The probe has no control listener
  // (templates/probe/run.sh): asking 256 probe nodes to end got 0 answers and cost the messenger's wait.
  const ask = running.length && !options.keep && payload !== 'probe';
  const still = ask ? await endRunning(options, running, out, engine, pace) : running;
  await deployLogs(
    { network: options.network, out: options.logs, fresh: true, keys: options.keys, configs: options.configs },
    out,
    engine,
  );
  if (still.length && !options.keep) {
    // Their logs are in; left running they would answer to the next run's names. (Scaling them to 0 first,
    // so that remote ones ship their files, was tried: Swarm deletes a scaled-down task and its output.)
    await deployClean({ network: options.network }, { ...out, line: () => {} }, engine);
    out.line(`up: stopped the ${still.length} node(s) still running (--keep leaves them running)`);
  }
}

/** How long up waits for the nodes it asked to end to ship their files and exit: run.sh ships as soon as gomel is gone. */
const END_WAIT_MS = 20_000;

/**
 * Asks the nodes still running to end gomel (SIGTERM, faults.sh control_request `end`), so that run.sh ships
 * their /extract in the service output: a node on another host has no other way home (its container is reached
 * only through its own engine; a scaled-down task loses its output). Not a fault: the run was judged over, and
 * the nodes log nothing of it. Which nodes still run after a bounded wait; all of them when they could not be asked.
 */
async function endRunning(
  options: UpOptions,
  running: string[],
  out: Output,
  engine: UpEngine,
  pace: UpPace,
): Promise<string[]> {
  const keep = (why: string) => {
    out.warn(`up: did not ask the nodes still running to end (${why}): a node on another host keeps its files`);
    return running;
  };
  const token = await readControlToken(options.keys, options.network).catch(() => undefined);
  if (token === undefined) return keep(`no control token in ${controlTokenFile(options.keys, options.network)}`);
  let answers: Map<string, string>;
  try {
    answers = await askNodes(
      engine,
      options.network,
      token,
      running.map((host) => ({ host, request: 'end' })),
    );
  } catch (error) {
    return keep(`the messenger failed: ${(error as Error).message.split('\n')[0]}`);
  }
  const ended = running.filter((host) => answers.get(host) === 'end ok');
  out.line(`up: asked the ${running.length} node(s) still running to end and ship their files (${ended.length} ended)`);
  if (!ended.length) return running;
  const retry = retryReporter(out, 'up');
  const all = await serviceIds(engine, options.network, retry);
  const asked = new Map([...all].filter(([name]) => ended.includes(name)));
  await waitForTasks(
    engine,
    asked,
    (v) => v.phase === 'complete',
    END_WAIT_MS,
    () => {},
    { pollMs: pace.pollMs, retry },
  );
  const status = await readStatus(engine, options.network, retry);
  return status
    .filter((x) => running.includes(x.node) && (x.phase === 'pending' || x.phase === 'running'))
    .map((x) => x.node);
}

/** The verdict, and for gomel the report beside the logs; then where the time went. A verdict that failed is thrown last. */
async function judge(
  options: UpOptions,
  payload: PayloadKind,
  out: Output,
  step: (name: string) => void,
  timeLine: () => string,
): Promise<void> {
  step('verdict');
  let judged: Awaited<ReturnType<typeof verdict>>;
  let failure: unknown;
  try {
    judged = await verdict(
      { logs: options.logs, configs: options.configs, keys: options.keys, strict: options.strict },
      out,
    );
  } catch (error) {
    failure = error;
  }
  if (payload !== 'probe') {
    // gomel ran: what it measured goes beside its logs, and its headline figures end the verdict.
    step('report');
    try {
      // Loaded here: the report's charts (vega) take 0.4 s to load, which a refused flag need not pay.
      const { report } = await import('./report.js');
      const figures = await report([], { logs: options.logs, configs: options.configs, keys: options.keys }, out);
      out.line(`up: ${judged ? `${judged.consensusLine} — ` : ''}${figures}`);
    } catch (error) {
      if (!(error instanceof InputError || error instanceof EnvironmentError)) throw error;
      out.warn(`up: no report: ${error.message}`);
    }
  }
  out.line(timeLine());
  if (failure) throw failure;
  out.line('');
  out.line(`up: done. \`gomelctl deploy status\` shows the services; \`gomelctl down\` removes them.`);
}

/** How often `up` shows the committee's progress: an updating terminal every 2 s, a log every 5 s. */
const progressEveryMs = (out: Output) => (out.tty ? 2000 : 5000);

/**
 * Shows the committee's progress while it runs — from the last progress line of each node's
 * output (templates/node-lib.sh report_progress, or the probe's own), which reaches the manager
 * from every host — and, for gomel, calls `onStall` when no node ordered a new unit for the stall
 * time. The probe is not gomel: it is told in its own words (addresses reached), and never stalls.
 */
/** How many nodes' output up's progress reads a round (every 5 s), in turn. */
const PROGRESS_SAMPLE = 8;

function watchProgress(
  engine: Pick<ServiceApi, 'listServices' | 'serviceOutput'> & TaskApi,
  options: UpOptions,
  out: Output,
  payload: PayloadKind,
  everyMs: number,
  onStall: (why: string) => void,
): { stop: () => void; done: Promise<void> } {
  let stopped = false;
  let wake: () => void = () => {};
  const pause = (ms: number) => new Promise<void>((resolve) => ((wake = resolve), setTimeout(resolve, ms)));
  const started = Date.now();
  const watch = new StallWatch(options.stall !== undefined ? Number(options.stall) : undefined);
  const swarmStopped = new Set<string>();
  // Hosts the engine reported down in a round: a task of theirs that ends "failed" on the swarm's
  // shutdown (stoppedBySwarm) is the swarm's doing only with that record.
  const hostsSeenDown = new Set<string>();
  const lastTail = new Map<string, string>();
  let cursor = 0;
  const done = (async () => {
    while (!stopped) {
      await pause(everyMs);
      if (stopped) break;
      try {
        const all = await readStatus(engine, options.network, { ...DEFAULT_RETRY, budgetMs: 0 });
        // Said when it happens: the swarm, not gomel, ended these (their host missed its heartbeats).
        for (const s of all) if (s.hostDown && s.swarmNode) hostsSeenDown.add(s.swarmNode);
        const newlyStopped = all.filter(
          (s) => stoppedBySwarm(s, hostsSeenDown.has(s.swarmNode ?? '')) && !swarmStopped.has(s.node),
        );
        for (const [host, nodes] of groupBy(newlyStopped, (s) => s.swarmNode ?? '?')) {
          out.warn(
            `up: ${fewNames(nodes.map((s) => s.node))} stopped by the swarm: host ${host} was declared down (it missed its heartbeats); they count as faulty`,
          );
          for (const s of nodes) swarmStopped.add(s.node);
        }
        const status = all.filter((s) => !s.hostDown);
        // A few nodes' last lines a round, in turn: each is a log request the manager relays from the node's
        // host over the agents' sessions, which also carry their heartbeats. 64 of them every 5 s kept a
        // loaded lab's manager from hearing a host for 38 s (issue 36); the others keep their last reading.
        const running = status.filter((s) => s.phase === 'running');
        const turn = [...new Set(running.slice(cursor % Math.max(1, running.length)).concat(running))].slice(
          0,
          PROGRESS_SAMPLE,
        );
        cursor += turn.length;
        await mapLimit(turn, 8, async (s) => {
          const tail = await engine.serviceOutput(s.serviceId, 10_000, 4).catch(() => undefined);
          if (tail !== undefined) lastTail.set(s.node, tail);
        });
        const tails = status.map((s) => lastTail.get(s.node));
        const alive = status.filter((s) => s.phase === 'running').length;
        const now = (Date.now() - started) / 1000;
        // A terminal gets one line redrawn in place; a log gets a line each time.
        const show = (line: string) => (out.tty && out.status ? out.status(line) : out.warn(line));
        if (payload === 'probe') {
          show(
            describeProbeProgress(
              tails.map((t) => (t === undefined ? undefined : lastProbeProgress(t))),
              alive,
              now,
            ),
          );
          continue;
        }
        const nodes = tails.map((t) => (t === undefined ? undefined : lastProgress(t)));
        const progress = committeeProgress(nodes, alive);
        show(describeProgress(progress, now));
        const perNode = new Map(status.flatMap((s, i) => (nodes[i] ? [[s.node, nodes[i]!.ordered] as const] : [])));
        if (watch.update(progress, perNode, now))
          onStall(
            `no node ordered a new unit for ${Math.round(watch.idleFor(now) ?? 0)} s (stall time ${Math.round(watch.threshold())} s)`,
          );
      } catch {
        // Progress is a courtesy: an engine slow to answer does not end the wait, the wait's own polling decides.
      }
    }
  })();
  return { stop: () => ((stopped = true), wake()), done };
}

export async function down(options: DownFlags, out: Output): Promise<void> {
  await deployClean(options, out);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}
