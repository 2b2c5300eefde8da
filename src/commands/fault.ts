// gomelctl fault <action> [nodes]: a fault on a running deployment, now (issue 24 item 2).
// Each node applies its request itself (templates/faults.sh control_request): a short-lived
// busybox container on the deployment's attachable overlay carries the requests, so a node on
// any host of the swarm is reached. What the nodes applied goes into the services' fault record,
// which deploy logs writes beside the logs: the verdict and the report judge it like a plan.
import { LABELS } from '../core/labels.js';
import { CheckFailed, EnvironmentError, UsageError } from '../core/errors.js';
import {
  CONTROL_PORT,
  healedBy,
  aimLiveFault,
  deployedHosts,
  parseLiveFault,
  recordLiveFault,
  type LiveAnswer,
  type LiveFault,
} from '../core/faults/live.js';
import { human, parseFaultsLog } from '../core/faults/plan.js';
import { deployedRun, RUN_RECORD_VERSION, type RunRecord } from '../core/deploy/run-plan.js';
import { Engine } from '../docker/engine.js';
import { deploymentLabels, readStatus, type NodeStatus } from '../docker/deployment.js';
import type { FaultEngine } from '../docker/engine-api.js';
import { controlSecretName } from '../core/deploy/plan.js';
import { controlTokenFile, readControlToken } from '../fs/control-token.js';
import { readCommitteeFile } from '../fs/keys-dir.js';
import { memberHost } from '../core/keys/committee.js';
import { DEFAULT_BASE } from './defaults.js';
import { printJson, type Output } from './output.js';
import { someNames } from '../core/logs/logs-folder.js';
import { groupLines, groupNames, PER_NODE_LINES_UP_TO } from '../core/summary.js';
import type { FaultFlags } from './fault.flags.js';
import { minOf, maxOf } from '../core/bounded.js';

type FaultOptions = FaultFlags;

/**
 * How long a node may take to apply and answer. A cut runs two iptables calls per peer, each up to
 * 5 s (faults.sh); 16 real gomel nodes on 2 cores took over 10 s to answer a partition.
 */
const ANSWER_WAIT_S = 60;

/** One line of the messenger's output per node: "gomelctl-fault <host> <answer>". */
const ANSWER = /^gomelctl-fault (\S+) (.*)$/;

// The messenger: one request per node, all at once, each bounded; the answer is the node's faults.log line.
const MESSENGER = `i=1
while [ "$i" -le "$COUNT" ]; do
  eval "host=\\$HOST_$i request=\\$REQUEST_$i"
  ( answer=$(echo "$request" | timeout "$WAIT" nc -w 5 "$host" "$PORT" 2>&1 | tail -n 1); echo "gomelctl-fault $host \${answer:-no answer}" ) &
  i=$((i + 1))
done
wait`;

/** What a live fault is aimed at, once every refusal passed: nothing is sent before. */
interface Aimed {
  status: NodeStatus[];
  hosts: string[];
  live: LiveFault;
  targets: (NodeStatus & { k: number })[];
  /** Nodes a heal of every node leaves out: their service is gone. */
  gone: number[];
  token: string;
  record: RunRecord | undefined;
}

export async function fault(
  action: string,
  nodesText: string | undefined,
  options: FaultOptions,
  out: Output,
  engine: FaultEngine = new Engine(),
): Promise<void> {
  // Everything that needs no engine before the engine is asked anything: the action, its nodes' form, --cpu,
  // the nodes against the committee in --keys (node 99 of 4), and the deployment's control token kept there.
  parseLiveFault(action, nodesText, undefined, options.cpu, options.to);
  const committee = await readCommitteeFile(options.keys);
  if (committee)
    try {
      parseLiveFault(action, nodesText, committee.members.map(memberHost), options.cpu, options.to);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      throw new UsageError(`${error.message}; the committee is ${committee.file} (--keys)`);
    }
  // The token deploy spawn kept beside the keys; the nodes hold it as the Swarm secret it names.
  const token = await readControlToken(options.keys, options.network);
  if (token === undefined)
    throw new UsageError(
      `fault: no gomelctl deployment of these keys on network ${options.network} (no control token ${controlTokenFile(options.keys, options.network)}): check --network, or pass --keys with the folder \`deploy spawn\` used`,
    );
  const aimed = await aim(action, nodesText, options, engine, token);
  const { hosts, live, record } = aimed;
  if ((await engine.inspectImage(DEFAULT_BASE)) === undefined)
    throw new EnvironmentError(
      `fault: the base image ${DEFAULT_BASE} is not on this engine; run \`bash docker/setup.sh\``,
    );
  const answers = await send(aimed, options.network, engine);
  if (options.json)
    printJson(
      out,
      answers.map((a) => ({
        node: hosts[a.node - 1],
        ...('event' in a
          ? { applied: a.event.ok, atMs: a.event.atMs, reason: a.event.reason }
          : { applied: false, problem: a.problem }),
      })),
    );
  else if (answers.length <= PER_NODE_LINES_UP_TO)
    for (const a of answers) out.line(describeAnswer(hosts[a.node - 1]!, live, a));
  else for (const line of summarizeAnswers(hosts, live, answers)) out.line(line);

  // What the nodes applied joins the run's record every service carries: deploy logs writes it into run.json.
  const faults = recordLiveFault(record?.faults, hosts, live, answers);
  if (faults.events.length && JSON.stringify(faults) !== JSON.stringify(record?.faults)) {
    const merged: RunRecord = {
      ...(record ?? { version: RUN_RECORD_VERSION, network: options.network, hosts }),
      faults,
    };
    const text = JSON.stringify(merged);
    for (const s of aimed.status) await engine.setServiceLabels(s.serviceId, { [LABELS.run]: text });
  }
  // A heal that finds nothing to undo on a node, or a node that no longer runs, leaves it as wanted.
  const failed = answers.filter((a) => !(live.action === 'heal' ? healedBy(a) : 'event' in a && a.event.ok));
  if (failed.length)
    throw new CheckFailed(
      `fault ${live.source}: not applied on ${failed.length} of ${answers.length} node(s): ${someNames(failed.map((a) => hosts[a.node - 1]!))}`,
    );
}

/** The deployment's nodes a live fault is for, refused (one line, nothing sent) when it cannot reach or record them. */
async function aim(
  action: string,
  nodesText: string | undefined,
  options: FaultOptions,
  engine: FaultEngine,
  token: string,
): Promise<Aimed> {
  const status = await readStatus(engine, options.network);
  if (status.length === 0)
    throw new UsageError(
      `fault: no gomelctl deployment on network ${options.network}; pass --network with the one \`deploy spawn\` or \`up\` used`,
    );
  // Node k is the committee's k-th member, as deployed: not the k-th service still there.
  const hosts = deployedHosts(status);
  if (!hosts)
    throw new UsageError(
      `fault: the services on ${options.network} do not name their committee's hosts (deployed by an older gomelctl, or by two deploys); redeploy with \`gomelctl deploy spawn\` or \`up\``,
    );
  const live = parseLiveFault(action, nodesText, hosts, options.cpu, options.to);
  const { targets, missing } = aimLiveFault(live, hosts, status);
  // A heal of every node leaves out those whose service is gone: no container, no cut to undo.
  const gone = live.action === 'heal' && nodesText === undefined ? missing : [];
  if (missing.length > gone.length)
    throw new UsageError(
      `fault ${live.source}: ${someNames(missing.map((k) => hosts[k - 1]!))} ${missing.length > 1 ? 'are' : 'is'} not deployed on ${options.network} (no service); nothing was sent`,
    );
  const old = targets.filter((t) => !t.controlSecret).map((t) => t.node);
  if (old.length)
    throw new UsageError(
      `fault: ${someNames(old)} ${old.length > 1 ? 'were' : 'was'} deployed without a control secret (by an older gomelctl); redeploy with \`gomelctl deploy spawn\` or \`up\``,
    );
  const other = targets.filter((t) => t.controlSecret !== controlSecretName(token)).map((t) => t.node);
  if (other.length)
    throw new UsageError(
      `fault: ${someNames(other)} ${other.length > 1 ? 'hold' : 'holds'} another control token than ${controlTokenFile(options.keys, options.network)} (deployed from another keys folder or machine); pass that --keys, or redeploy from this one`,
    );
  const without = live.needsNetAdmin
    ? targets.filter((t) => !t.capAdd.includes('CAP_NET_ADMIN')).map((t) => t.node)
    : [];
  if (without.length)
    throw new UsageError(
      `fault ${live.source}: ${someNames(without)} cannot run iptables (no NET_ADMIN); deploy with \`--cap-add NET_ADMIN\` (or a --faults plan with a partition or mute) to cut or mute nodes live`,
    );
  // The run's record every service carries (deploy logs reads it from any of them): read before anything
  // is sent, as a fault the verdict could not know of must not be applied.
  const record = deployedRun(status, options.network);
  if (record && 'unreadable' in record)
    throw new EnvironmentError(
      `fault: the services' ${record.unreadable} label is not a fault record gomelctl wrote, so the verdict would not know of this fault; nothing was sent — redeploy with \`gomelctl deploy spawn\``,
    );
  return { status, hosts, live, targets, gone, token, record };
}

/** Each running target's request, carried by the messenger; every node's answer, in node order. */
async function send(aimed: Aimed, network: string, engine: FaultEngine): Promise<LiveAnswer[]> {
  const { targets, live, token } = aimed;
  // Only running nodes are asked: a node that has exited has no gomel to act on.
  const answers: LiveAnswer[] = aimed.gone.map((k) => ({ node: k, problem: 'not running (no service)' }));
  const asked = targets.filter((t) => t.phase === 'running');
  for (const t of targets) if (t.phase !== 'running') answers.push({ node: t.k, problem: `not running (${t.phase})` });
  if (asked.length) {
    const lines = await askNodes(
      engine,
      network,
      token,
      asked.map((t) => ({ host: t.node, request: live.requests.get(t.k)! })),
    );
    for (const t of asked) answers.push(readAnswer(t.k, lines.get(t.node)));
  }
  return answers.sort((a, b) => a.node - b.node);
}

/**
 * Each node's request, carried at once by the messenger on the deployment's overlay (a node on any host is
 * reached); each node's answer line by host, missing when the messenger printed none for it.
 */
export async function askNodes(
  engine: Pick<FaultEngine, 'runOnNetwork'>,
  network: string,
  token: string,
  asked: readonly { host: string; request: string }[],
): Promise<Map<string, string>> {
  const env = [
    `COUNT=${asked.length}`,
    `PORT=${CONTROL_PORT}`,
    `WAIT=${ANSWER_WAIT_S}`,
    ...asked.flatMap((a, i) => [
      `HOST_${i + 1}=${a.host}`,
      // In the messenger's env: a container of the manager's own engine, removed once it ends;
      // whoever can read it there can read the keys folder and the nodes' secrets too.
      `REQUEST_${i + 1}=${token} ${a.request}`,
    ]),
  ];
  const ran = await engine.runOnNetwork(
    DEFAULT_BASE,
    network,
    ['/bin/sh', '-c', MESSENGER],
    env,
    deploymentLabels(network),
    (ANSWER_WAIT_S + 30) * 1000,
  );
  return new Map(
    ran.output.split('\n').flatMap((l) => {
      const m = ANSWER.exec(l.trim());
      return m ? [[m[1]!, m[2]!] as const] : [];
    }),
  );
}

/** A node's answer: its faults.log line, or a refusal, or nothing. */
function readAnswer(node: number, text: string | undefined): LiveAnswer {
  if (text === undefined || text === 'no answer')
    return { node, problem: `no answer within ${ANSWER_WAIT_S} s (it may still have applied it: see its faults.log)` };
  const parsed = parseFaultsLog(text);
  const event = parsed.events[0];
  if (event) return { node, event };
  if (/^refused: /.test(text)) return { node, problem: text };
  // nc's own words: the node is gone, or its listener is (gomel exited and the node is shipping its logs).
  return {
    node,
    problem: /bad address|can't connect|refused|timed out|no answer/i.test(text)
      ? `no control listener answers (${text})`
      : `unexpected answer: ${text.slice(0, 200)}`,
  };
}

function describeAnswer(host: string, live: LiveFault, a: LiveAnswer): string {
  const action = live.requests.get(a.node) ?? live.action;
  if (!('event' in a)) return `fault: ${host}: ${action}: ${a.problem}`;
  if (live.action === 'heal' && healedBy(a) && !a.event.ok) return `fault: ${host}: heal: nothing to heal`;
  return a.event.ok
    ? `fault: ${host}: ${action} applied at ${human(a.event.atMs)} after the common start`
    : `fault: ${host}: ${action} failed: ${a.event.reason}`;
}

/**
 * Beyond PER_NODE_LINES_UP_TO nodes: the answers by outcome, each with a few names, and the
 * span of times it was applied at. A fault acts, so its full list cannot come from running it
 * again: --json gives every node's answer in the same run, and each node's faults.log keeps
 * what it applied (deploy logs collects it).
 */
function summarizeAnswers(hosts: readonly string[], live: LiveFault, answers: readonly LiveAnswer[]): string[] {
  const outcome = (a: LiveAnswer) => {
    if (!('event' in a)) return a.problem;
    if (live.action === 'heal' && healedBy(a) && !a.event.ok) return 'nothing to heal';
    return a.event.ok ? 'applied' : `failed: ${a.event.reason}`;
  };
  const times = answers.flatMap((a) => ('event' in a && a.event.ok ? [a.event.atMs] : []));
  const span = times.length ? ` (${human(minOf(times)!)} to ${human(maxOf(times)!)} after the common start)` : '';
  const groups = groupNames(answers, outcome, (a) => hosts[a.node - 1]!).map((g) =>
    g.key === 'applied' ? { ...g, key: `applied${span}` } : g,
  );
  return [
    ...groupLines(groups).map((line) => `fault: ${live.action}: ${line}`),
    "fault: each node's faults.log has what it applied (`gomelctl deploy logs` collects them); --json lists every node's answer",
  ];
}
