// `gomelctl deploy status`: per node, what its task does and where; beyond
// PER_NODE_LINES_UP_TO nodes a summary, and --all (or --json) for every node.
import type { ServiceApi, TaskApi } from '../docker/engine-api.js';
import { Engine } from '../docker/engine.js';
import type { DeployStatusFlags } from './deploy.flags.js';
import { retryReporter } from './engine-retry.js';
import { printJson, type Output } from './output.js';
import { readStatus, type NodeStatus } from '../docker/deployment.js';
import { clip, countsLine, groupLines, groupNames, PER_NODE_LINES_UP_TO } from '../core/summary.js';
import { conditionsOf, deployedRun } from '../core/deploy/run-plan.js';

/** A node's status with the network conditions the run's record gives it. */
type ShownStatus = Omit<NodeStatus, 'run' | 'legacyFaults'> & { conditions: string | undefined };

export async function deployStatus(
  options: DeployStatusFlags,
  out: Output,
  engine: Pick<ServiceApi, 'listServices'> & TaskApi = new Engine(),
): Promise<NodeStatus[]> {
  // An engine failing under load is asked again for up to DEFAULT_RETRY's 120 s (docs/deploy.md), each retry told:
  // silent, an engine answering HTTP 500 held deploy status two minutes without a word (hostile pass 8).
  const read = await readStatus(engine, options.network, retryReporter(out, 'deploy status'));
  // Status only shows the record: one that does not read shows no conditions (deploy logs and fault refuse it).
  const found = deployedRun(read, options.network);
  const record = found && 'unreadable' in found ? undefined : found;
  const status: ShownStatus[] = read.map(({ run: _, legacyFaults: __, ...s }) => ({
    ...s,
    conditions: conditionsOf(record, s.slot),
  }));
  if (options.json)
    printJson(
      out,
      status.map(({ containerId: _, controlSecret: __, committeeHosts: ___, serviceId, ...s }) => ({
        ...s,
        service: serviceId.slice(0, 12),
      })),
    );
  else if (status.length === 0) out.line(`deploy: no gomelctl services on ${options.network}`);
  else if (status.length > PER_NODE_LINES_UP_TO && !options.all)
    for (const line of summarizeStatus(status, options.network)) out.line(line);
  else {
    for (const s of status) {
      const detail = s.phase === 'running' ? '' : s.exitCode !== undefined ? ` exit ${s.exitCode}` : '';
      out.line(
        `${s.node}\t${s.serviceId.slice(0, 12)}\t${s.state}${detail}\t${s.swarmNode ?? '-'}${s.hostDown ? ' (host down: node lost)' : ''}\t${s.since ?? '-'}${s.error ? `\t${s.error}` : ''}${s.conditions ? `\tnetwork ${s.conditions}` : ''}`,
      );
    }
  }
  return read;
}

/** How many nodes in each state, the nodes not running by what their task says, and the hosts: as many lines whatever N. */
function summarizeStatus(status: readonly ShownStatus[], network: string): string[] {
  const states = groupNames(
    status,
    (s) => s.state,
    (s) => s.node,
  );
  const notRunning = groupNames(
    status.filter((s) => s.phase !== 'running' || s.hostDown),
    (s) =>
      `${s.state}${s.exitCode !== undefined && s.phase !== 'running' ? ` (exit ${s.exitCode})` : ''}${s.hostDown ? ' on a host that is down' : ''}${s.error ? `: ${s.error}` : ''}`,
    (s) => s.node,
  );
  const hosts = groupNames(
    status,
    (s) => s.swarmNode ?? 'no host yet',
    (s) => s.node,
  );
  const conditions = groupNames(
    status.filter((s) => s.conditions),
    (s) => `under ${s.conditions}`,
    (s) => s.node,
  );
  return [
    `deploy: ${status.length} nodes on ${network}: ${countsLine(states)}`,
    ...groupLines(notRunning).map((line) => `deploy: ${line}`),
    `deploy: on ${hosts.length} host(s): ${hosts
      .slice(0, 3)
      .map((h) => `${clip(h.key, 40)} (${h.names.length})`)
      .join(', ')}${hosts.length > 3 ? ` and ${hosts.length - 3} more` : ''}`,
    ...groupLines(conditions, 2).map((line) => `deploy: network ${line}`),
    '`gomelctl deploy status --all` shows one line per node',
  ];
}
