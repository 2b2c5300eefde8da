// `gomelctl deploy clean`: the deployment's services and secrets removed, only those gomelctl labelled.
import type { CleanEngine } from '../docker/engine-api.js';
import type { DeployCleanFlags } from './deploy.flags.js';
import type { Output } from './output.js';
import { removeDeployment, skippedLine } from '../docker/deployment.js';
import { Engine } from '../docker/engine.js';

export async function deployClean(
  options: DeployCleanFlags,
  out: Output,
  engine: CleanEngine = new Engine(),
): Promise<void> {
  const removed = await removeDeployment(engine, options.network);
  if (removed.skipped.length) out.warn(skippedLine(options.network, removed.skipped));
  out.line(`deploy: removed ${removed.services} service(s) and ${removed.secrets} secret(s) of ${options.network}`);
}
