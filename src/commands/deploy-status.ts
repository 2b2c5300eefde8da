// `gomelctl deploy status`: per node, what its task does and where.
import type { ServiceApi, TaskApi } from '../docker/engine-api.js';
import { Engine } from '../docker/engine.js';
import type { DeployStatusFlags } from './deploy.flags.js';
import { printJson, type Output } from './output.js';
import { readStatus, type NodeStatus } from '../docker/deployment.js';

export async function deployStatus(
  options: DeployStatusFlags,
  out: Output,
  engine: Pick<ServiceApi, 'listServices'> & TaskApi = new Engine(),
): Promise<NodeStatus[]> {
  const status = await readStatus(engine, options.network);
  if (options.json)
    printJson(
      out,
      status.map(({ containerId: _, controlSecret: __, committeeHosts: ___, serviceId, ...s }) => ({
        ...s,
        service: serviceId.slice(0, 12),
      })),
    );
  else {
    if (status.length === 0) out.line(`deploy: no gomelctl services on ${options.network}`);
    for (const s of status) {
      const detail = s.phase === 'running' ? '' : s.exitCode !== undefined ? ` exit ${s.exitCode}` : '';
      out.line(
        `${s.node}\t${s.serviceId.slice(0, 12)}\t${s.state}${detail}\t${s.swarmNode ?? '-'}${s.hostDown ? ' (host down: node lost)' : ''}\t${s.since ?? '-'}${s.error ? `\t${s.error}` : ''}${s.conditions ? `\tnetwork ${s.conditions}` : ''}`,
      );
    }
  }
  return status;
}
