// `gomelctl up | down`: the flags, typed where they are declared.
import { Command, Option } from '@commander-js/extra-typings';
import { parsePositiveInt } from '../core/args.js';
import type { Output } from './output.js';
import { bn256Option, codeOption } from './image.flags.js';
import {
  capAddOption,
  committeeSizeOption,
  configsOption,
  dryRunOption,
  faultsOption,
  keysOption,
  netImplOption,
  netOption,
  networkOption,
  parallelOption,
  registryOption,
  seedOption,
  spreadOption,
  strictOption,
  timeoutOption,
  withSettingsOf,
  zonesOption,
  type FlagsOf,
} from './shared-flags.js';

const load = () => import('./up.js');

const upFlags = () =>
  new Command('up')
    .description('keys gen → config sync → config check → cluster init → image rebuild → deploy spawn → logs → verdict')
    .addOption(committeeSizeOption('committee size (default: keep the current one)'))
    .addOption(codeOption('deploy real gomel, compiled from a consensus-go checkout (see image rebuild --code)'))
    .addOption(bn256Option())
    .option('--binary <file>', 'deploy real gomel from a static binary')
    .option('--config <name>', 'gomel config the nodes run', 'config')
    .addOption(keysOption())
    .addOption(configsOption())
    .addOption(registryOption())
    .addOption(networkOption())
    .option('--logs <dir>', "where the nodes' logs are collected", 'logs')
    .addOption(timeoutOption('seconds to wait for the nodes to start, and then to finish', 300))
    .addOption(parallelOption())
    .option('--subnet <cidr>', 'overlay subnet when the network is created (default: a free 10.x.0.0/16)')
    .addOption(strictOption())
    .option('--tag <ref>', 'image reference (default: <registry>/aleph:test)')
    .addOption(spreadOption())
    .addOption(netOption())
    .addOption(netImplOption())
    .addOption(zonesOption())
    .addOption(faultsOption())
    .addOption(seedOption())
    .addOption(
      new Option(
        '--stall <s>',
        'seconds without a new ordered unit that end the wait and judge at once (default: max(20, 10 timing rounds))',
      ).argParser((text) => parsePositiveInt(text, '--stall', 3600)),
    )
    .addOption(
      capAddOption(
        'Linux capability for the nodes, repeatable (NET_ADMIN lets `gomelctl fault partition` cut nodes off live)',
      ),
    )
    .option('--keep', 'leave nodes still running at the end running (default: stopped once their logs are collected)')
    .addOption(dryRunOption())
    .option('--json', 'with --dry-run: the plan as JSON');

const downFlags = () =>
  new Command('down').description('remove the deployment (deploy clean)').addOption(networkOption());

export type UpFlags = FlagsOf<ReturnType<typeof upFlags>>;
export type DownFlags = FlagsOf<ReturnType<typeof downFlags>>;

export function registerUp(program: Command, out: Output): void {
  program.addCommand(withSettingsOf(program, upFlags()).action(async (o) => (await load()).up(o, out)));
  program.addCommand(withSettingsOf(program, downFlags()).action(async (o) => (await load()).down(o, out)));
}
