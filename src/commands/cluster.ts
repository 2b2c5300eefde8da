// `cluster init | join-token`: swarm mode, the overlay network, the registry.
import { EnvironmentError, UsageError } from '../core/errors.js';
import { Engine } from '../docker/engine.js';
import { checkRegistry } from '../docker/registry.js';
import { LABELS } from '../core/image-context.js';
import type { Output } from './output.js';

export const DEFAULT_NETWORK = 'aleph_net';
// A /24 overlay stops at about 250 containers (one address per task plus the
// VIPs); a /16 leaves room for the largest committees gomel can name.
export const DEFAULT_SUBNET = '10.77.0.0/16';

export interface ClusterInitOptions {
  advertiseAddr?: string;
  network: string;
  subnet: string;
  registry: string;
}

const SWARM_PORT = 2377;

export async function ensureSwarmManager(engine: Engine, advertiseAddr: string | undefined, out: Output): Promise<void> {
  const info = await engine.info();
  const state = info.Swarm.LocalNodeState;
  if (state === 'inactive') {
    try {
      await engine.swarmInit(advertiseAddr);
    } catch (error) {
      // With several interfaces the engine will not guess which one workers use. A
      // single-node swarm (the default) works on loopback; workers need --advertise-addr.
      if (advertiseAddr || !/advertise/i.test((error as Error).message)) throw error;
      await engine.swarmInit('127.0.0.1');
      out.warn('cluster: this machine has several addresses; advertising 127.0.0.1, so no worker can join. For a multi-host swarm: `docker swarm leave --force`, then `gomelctl cluster init --advertise-addr ADDR`');
    }
    out.line(`cluster: swarm mode initialised on ${info.Name}`);
    return;
  }
  if (state !== 'active') throw new EnvironmentError(`cluster: this engine's swarm state is "${state}"; fix it with \`docker swarm leave --force\` or \`docker swarm init\``);
  if (!info.Swarm.ControlAvailable) throw new EnvironmentError('cluster: this engine is a swarm worker; run gomelctl against a manager (DOCKER_HOST)');
  out.line('cluster: swarm mode already active (manager)');
}

export async function ensureNetwork(engine: Engine, name: string, subnet: string, out: Output): Promise<void> {
  const found = await engine.findNetwork(name);
  if (found) {
    if (found.Driver !== 'overlay' || !found.Attachable) {
      throw new EnvironmentError(`cluster: network ${name} exists but is ${found.Driver}${found.Attachable ? '' : ', not attachable'}; remove it (\`docker network rm ${name}\`) or pass --network`);
    }
    out.line(`cluster: overlay network ${name} already exists`);
    return;
  }
  await engine.createNetwork({ Name: name, Driver: 'overlay', Attachable: true, CheckDuplicate: true, IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] }, Labels: { [LABELS.managed]: 'true' } });
  out.line(`cluster: created attachable overlay network ${name} (${subnet})`);
}

export async function clusterInit(options: ClusterInitOptions, out: Output, engine = new Engine()): Promise<void> {
  if (!/^\d{1,3}(\.\d{1,3}){3}\/(\d|[12]\d|3[0-2])$/.test(options.subnet)) throw new UsageError(`--subnet ${options.subnet}: expected an IPv4 CIDR such as ${DEFAULT_SUBNET}`);
  await ensureSwarmManager(engine, options.advertiseAddr, out);
  await ensureNetwork(engine, options.network, options.subnet, out);
  await checkRegistry(options.registry);
  out.line(`cluster: registry ${options.registry} answers`);
  await clusterJoinToken(out, engine);
}

export async function clusterJoinToken(out: Output, engine = new Engine()): Promise<void> {
  const [swarm, info] = await Promise.all([engine.swarmInspect(), engine.info()]);
  const addr = info.Swarm.RemoteManagers?.[0]?.Addr ?? `${info.Swarm.NodeAddr}:${SWARM_PORT}`;
  out.line(`cluster: workers join with: docker swarm join --token ${swarm.JoinTokens.Worker} ${addr}`);
}
