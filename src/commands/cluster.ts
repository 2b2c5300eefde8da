// `cluster init | join-token`: swarm mode, the overlay network, the registry.
import { LABELS } from '../core/labels.js';
import { EnvironmentError, UsageError } from '../core/errors.js';
import { Engine } from '../docker/engine.js';
import type { ClusterEngine } from '../docker/engine-api.js';
import { checkRegistry } from '../docker/registry.js';
import { parseNetworkName } from '../core/args.js';
import { checkRegistryAddress } from '../core/image/payload.js';
import { ipv4Subnets, overlaps, parseCidr, pickFreeSubnet } from '../core/deploy/subnet.js';
import type { Output } from './output.js';
import type { ClusterInitFlags, ClusterJoinTokenFlags } from './cluster.flags.js';
import { checkRegistryReach, LOOPBACK } from '../docker/swarm.js';
import { describeHeartbeat, HEARTBEAT_PERIOD_NS } from '../core/deploy/host-events.js';

// Networks get a /16 by default (core/deploy/subnet.ts): a /24 overlay stops at about
// 250 containers, a /16 leaves room for the largest committees gomel can name.

type ClusterInitOptions = ClusterInitFlags;

const SWARM_PORT = 2377;

async function ensureSwarmManager(
  engine: ClusterEngine,
  advertiseAddr: string | undefined,
  out: Output,
): Promise<void> {
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
      out.warn(
        'cluster: this machine has several addresses; advertising 127.0.0.1, so no worker can join. For a multi-host swarm: `docker swarm leave --force`, then `gomelctl cluster init --advertise-addr ADDR`',
      );
    }
    out.line(`cluster: swarm mode initialised on ${info.Name}, heartbeat ${HEARTBEAT_PERIOD_NS / 1e9} s`);
    return;
  }
  if (state !== 'active')
    throw new EnvironmentError(
      `cluster: this engine's swarm state is "${state}"; fix it with \`docker swarm leave --force\` or \`docker swarm init\``,
    );
  if (!info.Swarm.ControlAvailable)
    throw new EnvironmentError('cluster: this engine is a swarm worker; run gomelctl against a manager (DOCKER_HOST)');
  const heartbeat = describeHeartbeat(info.Swarm.Cluster?.Spec?.Dispatcher?.HeartbeatPeriod);
  out.line(`cluster: swarm mode already active (manager), ${heartbeat.text}`);
  if (heartbeat.warning) out.warn(heartbeat.warning);
}

/**
 * The subnet a new network gets: `subnet`, refused when another network holds an
 * overlapping one, or the first free 10.N.0.0/16. Reads only: `up` asks it before
 * it changes anything (issue 25, mechanism 1).
 */
async function freeSubnet(engine: Pick<Engine, 'listNetworks'>, subnet: string | undefined): Promise<string> {
  const used = (await engine.listNetworks())
    .flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? ''))
    .filter(Boolean);
  const chosen = subnet ?? pickFreeSubnet(used);
  const clash = ipv4Subnets(used).find((u) => overlaps(u.cidr, parseCidr(chosen)));
  if (clash)
    throw new UsageError(
      `--subnet ${chosen}: overlaps ${clash.text}, which another network holds; pass another --subnet or leave it out to pick a free one`,
    );
  return chosen;
}

/**
 * What cluster init would refuse for this engine's state, asked (read only) before anything
 * changes: a --subnet another network overlaps, or no free /16 left for a new network.
 */
export async function checkClusterState(
  engine: Pick<Engine, 'findNetwork' | 'listNetworks'>,
  network: string,
  subnet: string | undefined,
): Promise<void> {
  if (!(await engine.findNetwork(network))) await freeSubnet(engine, subnet);
}

async function ensureNetwork(
  engine: ClusterEngine,
  name: string,
  subnet: string | undefined,
  out: Output,
): Promise<void> {
  const found = await engine.findNetwork(name);
  if (found) {
    if (found.Driver !== 'overlay' || !found.Attachable) {
      throw new EnvironmentError(
        `cluster: network ${name} exists but is ${found.Driver || 'without a driver'}${found.Attachable ? '' : ', not attachable'}; remove it (\`docker network rm ${name}\`) or pass --network`,
      );
    }
    out.line(`cluster: overlay network ${name} already exists`);
    return;
  }
  const chosen = await freeSubnet(engine, subnet);
  await engine.createNetwork({
    Name: name,
    Driver: 'overlay',
    Attachable: true,
    CheckDuplicate: true,
    IPAM: { Driver: 'default', Config: [{ Subnet: chosen }] },
    Labels: { [LABELS.managed]: 'true' },
  });
  // The engine can accept the request and still leave a network without a driver (e.g. on a subnet
  // it cannot allocate): look before saying "created". A new network may show its driver a moment late.
  let made = await engine.findNetwork(name);
  for (let i = 0; i < 25 && made && (made.Driver !== 'overlay' || !made.Attachable); i++) {
    await new Promise((r) => setTimeout(r, 200));
    made = await engine.findNetwork(name);
  }
  if (!made || made.Driver !== 'overlay' || !made.Attachable) {
    if (made) await engine.removeNetwork(name);
    throw new EnvironmentError(
      `cluster: the engine did not make ${name} an attachable overlay (driver "${made?.Driver ?? 'none'}"); it was removed — check \`docker network ls\` for a network on ${chosen}`,
    );
  }
  out.line(`cluster: created attachable overlay network ${name} (${chosen})`);
}

/** Every flag of `cluster init`, checked before the engine is contacted: exit 2 changes nothing. */
function checkOptions(options: ClusterInitOptions): void {
  parseNetworkName(options.network);
  if (options.subnet !== undefined) parseCidr(options.subnet);
  checkRegistryAddress(options.registry);
}

export async function clusterInit(
  options: ClusterInitOptions,
  out: Output,
  engine: ClusterEngine = new Engine(),
): Promise<void> {
  checkOptions(options);
  await ensureSwarmManager(engine, options.advertiseAddr, out);
  await ensureNetwork(engine, options.network, options.subnet, out);
  await checkRegistryReach(engine, options.registry);
  await checkRegistry(options.registry);
  out.line(`cluster: registry ${options.registry} answers`);
  out.line('cluster: `gomelctl cluster join-token` prints what a worker runs to join');
}

/** The commands a worker runs to join: the join itself, and the registry it must trust (plain HTTP). */
export async function clusterJoinToken(
  options: ClusterJoinTokenFlags,
  out: Output,
  engine = new Engine(),
): Promise<void> {
  // It is printed into a shell command for the worker: checked before the engine is asked.
  checkRegistryAddress(options.registry);
  const [swarm, info] = await Promise.all([engine.swarmInspect(), engine.info()]);
  const addr = info.Swarm.RemoteManagers?.[0]?.Addr ?? `${info.Swarm.NodeAddr}:${SWARM_PORT}`;
  const registry = LOOPBACK.test(options.registry) ? `${info.Swarm.NodeAddr}:5000` : options.registry;
  out.line('On each worker, as root:');
  out.line(`  # trust the registry the nodes pull from (plain HTTP), then restart the engine`);
  out.line(`  echo '{"insecure-registries": ["${registry}"]}' > /etc/docker/daemon.json && systemctl restart docker`);
  out.line(`  docker swarm join --token ${swarm.JoinTokens.Worker} ${addr}`);
  if (LOOPBACK.test(options.registry))
    out.line(
      `Then deploy with --registry ${registry} (a registry listening on the manager's address, not ${options.registry}).`,
    );
}
