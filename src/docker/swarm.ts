// Swarm facts several commands check against the engine.
import { UsageError } from '../core/errors.js';
import type { Engine } from './engine.js';

/** A registry address only this host reaches. */
export const LOOPBACK = /^(127\.|localhost(:|$)|\[::1\])/;

/**
 * Every swarm node pulls the image under its tag, so with workers the registry
 * must not be loopback-only: their tasks would be rejected ("No such image").
 */
export async function checkRegistryReach(
  engine: Pick<Engine, 'listNodes'>,
  registry: string,
  option = '--registry',
): Promise<void> {
  if (!LOOPBACK.test(registry)) return;
  const nodes = await engine.listNodes().catch(() => []);
  if (nodes.length <= 1) return;
  const manager = nodes.find((n) => n.Spec?.Role === 'manager')?.Status?.Addr ?? 'MANAGER-ADDRESS';
  throw new UsageError(
    `${option} ${registry}: the swarm has ${nodes.length} hosts, and a loopback registry is reachable from this one only (workers would reject their tasks) — use --registry ${manager}:5000 (a registry listening there), and on each worker list it in /etc/docker/daemon.json: {"insecure-registries": ["${manager}:5000"]}`,
  );
}
