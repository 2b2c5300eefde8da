// `gomelctl deploy spawn | status | logs | clean`: the flags, typed where they are declared.
import { Command, Option } from '@commander-js/extra-typings';
import { parsePositiveInt } from '../core/args.js';
import type { Output } from './output.js';
import { PER_NODE_LINES_UP_TO } from '../core/summary.js';
import {
  capAddOption,
  configsOption,
  constraintOption,
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
  timeoutOption,
  withSettingsOf,
  zonesOption,
  type FlagsOf,
} from './shared-flags.js';

const spawnFlags = () =>
  new Command('spawn')
    .description('one service per node with its own key as a secret; waits until every task runs')
    .addOption(keysOption())
    .addOption(configsOption())
    .option('--config <name>', 'gomel config each node runs', 'config')
    .option('--image <ref>', 'image (default: <registry>/aleph:test, pinned by digest)')
    .addOption(registryOption('registry of the default image'))
    .addOption(networkOption())
    .addOption(constraintOption())
    .addOption(spreadOption())
    .addOption(netOption())
    .addOption(netImplOption())
    .addOption(zonesOption())
    .addOption(faultsOption())
    .addOption(seedOption())
    .addOption(capAddOption('Linux capability for the nodes, repeatable (e.g. NET_ADMIN)'))
    .addOption(parallelOption())
    .addOption(timeoutOption('seconds to wait for every task to run', 120))
    .addOption(
      new Option(
        '--settle <s>',
        "seconds to keep watching once all run, to catch nodes that fail at once (default: the start margin + 6 s, past the nodes' common start; 0: none)",
      ).argParser((text) => (text === '0' ? 0 : parsePositiveInt(text, '--settle', 600))),
    )
    .addOption(dryRunOption())
    .option('--json', 'with --dry-run: the plan as JSON');

const statusFlags = () =>
  new Command('status')
    .description('per node: task state, swarm node, since, exit code or error')
    .addOption(networkOption())
    .option('--all', `one line per node however many (beyond ${PER_NODE_LINES_UP_TO} nodes, a summary by default)`)
    .option('--json', 'machine-readable output');

const logsFlags = () =>
  new Command('logs')
    .description("each node's output and its /extract files into --out")
    .addOption(networkOption())
    .option('--out <dir>', 'where to write them', 'logs')
    .addOption(keysOption('keys folder: its committee.ka goes beside the logs when it is the deployed one'))
    .addOption(configsOption())
    .option('--follow', 'keep streaming the output');

const cleanFlags = () =>
  new Command('clean')
    .description("remove the deployment's services and secrets (only those gomelctl labelled)")
    .addOption(networkOption());

export type DeploySpawnFlags = FlagsOf<ReturnType<typeof spawnFlags>>;
export type DeployStatusFlags = FlagsOf<ReturnType<typeof statusFlags>>;
export type DeployLogsFlags = FlagsOf<ReturnType<typeof logsFlags>>;
export type DeployCleanFlags = FlagsOf<ReturnType<typeof cleanFlags>>;

export function registerDeploy(program: Command, out: Output): void {
  const deploy = program.command('deploy').description('the committee as Docker Swarm services');
  deploy.addCommand(
    withSettingsOf(deploy, spawnFlags()).action(async (o) => {
      await (await import('./deploy-spawn.js')).deploySpawn(o, out);
    }),
  );
  deploy.addCommand(
    withSettingsOf(deploy, statusFlags()).action(async (o) => {
      await (await import('./deploy-status.js')).deployStatus(o, out);
    }),
  );
  deploy.addCommand(
    withSettingsOf(deploy, logsFlags()).action(async (o) => (await import('./deploy-logs.js')).deployLogs(o, out)),
  );
  deploy.addCommand(
    withSettingsOf(deploy, cleanFlags()).action(async (o) => (await import('./deploy-clean.js')).deployClean(o, out)),
  );
}
