// `gomelctl cluster init | join-token`: the flags, typed where they are declared.
import { Command } from '@commander-js/extra-typings';
import type { Output } from './output.js';
import { networkOption, registryOption, withSettingsOf, type FlagsOf } from './shared-flags.js';

const load = () => import('./cluster.js');

const initFlags = () =>
  new Command('init')
    .description('initialise swarm mode, create the overlay network, check the registry (idempotent)')
    .option('--advertise-addr <addr>', 'address workers reach this manager on')
    .addOption(networkOption())
    .option(
      '--subnet <cidr>',
      'overlay subnet for a new network (default: the first free 10.N.0.0/16; a /24 stops at ~250 containers)',
    )
    .addOption(registryOption());

const joinTokenFlags = () =>
  new Command('join-token')
    .description('print what a worker runs to join: the registry to trust and `docker swarm join`')
    .addOption(registryOption());

export type ClusterInitFlags = FlagsOf<ReturnType<typeof initFlags>>;
export type ClusterJoinTokenFlags = FlagsOf<ReturnType<typeof joinTokenFlags>>;

export function registerCluster(program: Command, out: Output): void {
  const cluster = program.command('cluster').description('the swarm, its overlay network and registry');
  cluster.addCommand(withSettingsOf(cluster, initFlags()).action(async (o) => (await load()).clusterInit(o, out)));
  cluster.addCommand(
    withSettingsOf(cluster, joinTokenFlags()).action(async (o) => (await load()).clusterJoinToken(o, out)),
  );
}
