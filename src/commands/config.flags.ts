// `gomelctl config check | sync`: the flags, typed where they are declared.
import { Command } from '@commander-js/extra-typings';
import type { Output } from './output.js';
import { configsOption, keysOption, withSettingsOf, type FlagsOf } from './shared-flags.js';

const load = () => import('./config.js');

const checkFlags = () =>
  new Command('check')
    .argument('[names...]')
    .description('validate configs alone and against the committee')
    .addOption(configsOption())
    .addOption(keysOption());

const syncFlags = () =>
  new Command('sync')
    .argument('[names...]')
    .description('bring configs in line with the committee (NParents, CRPFixedPrefix)')
    .addOption(configsOption())
    .addOption(keysOption())
    .option('--check', 'change nothing; exit 1 if a sync would change something')
    .option('--dry-run', 'show what would change, change nothing');

export type ConfigCheckFlags = FlagsOf<ReturnType<typeof checkFlags>>;
export type ConfigSyncFlags = FlagsOf<ReturnType<typeof syncFlags>>;

export function registerConfig(program: Command, out: Output): void {
  const config = program.command('config').description("gomel's config.json files");
  config.addCommand(
    withSettingsOf(config, checkFlags()).action(async (names, o) => (await load()).configCheck(o, names, out)),
  );
  config.addCommand(
    withSettingsOf(config, syncFlags()).action(async (names, o) => (await load()).configSync(o, names, out)),
  );
}
