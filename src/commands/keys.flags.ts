// `gomelctl keys gen | verify | show`: the flags, typed where they are declared.
import { Command, Option } from '@commander-js/extra-typings';
import type { Output } from './output.js';
import {
  committeeSizeOption,
  DEFAULT_CONFIG,
  DEFAULT_CONFIGS,
  dirAlias,
  keysOption,
  withSettingsOf,
  type FlagsOf,
} from './shared-flags.js';

// Loaded when the command runs: `--help` must not pay for what the command imports (issue 14).
const load = () => import('./keys.js');

const genFlags = () =>
  new Command('gen')
    .description('create or resize the committee; existing keys are kept')
    .addOption(committeeSizeOption('committee size (default: the current size)'))
    .addOption(keysOption())
    .addOption(dirAlias())
    .option('--host-prefix <prefix>', "node k is <prefix><k> (default: the committee's current prefix, else node)")
    .option('--ports <list>', 'address columns, e.g. 9000,10000,11000 (default: one per Sync entry of --config)')
    .option('--setup-ports <list>', 'setup-address columns (default: one per SyncSetup entry of --config)')
    .addOption(new Option('--seed <hex>', '32-byte committee seed, hex').conflicts('seedFile'))
    .option('--seed-file <file>', 'read the committee seed from a file')
    .option('--addresses <file>', "per-node addresses in gomel's generator format (<setup>|<addresses>)")
    .option('--regenerate', 'replace every existing key (from a new seed unless --seed is given)')
    // No defaults here: a config named with --config or --configs must be there (keys.ts configFor).
    .option(
      '--config <name>',
      `deploy config whose Sync list sets the address columns (default: ${DEFAULT_CONFIG}, if it is there)`,
    )
    .option('--configs <dir>', `configs folder (default: ${DEFAULT_CONFIGS})`);

const verifyFlags = () =>
  new Command('verify')
    .description('check committee.ka and every <pid>.pk against each other')
    .addOption(keysOption('keys folder (every member file must be there)'))
    .addOption(dirAlias())
    .option('--committee <file>', 'verify this committee file instead of <dir>/committee.ka')
    .option('--pk <files...>', 'verify only these member files (a node holds just its own)');

const showFlags = () =>
  new Command('show')
    .description('list the nodes with their addresses and public-key fingerprints')
    .addOption(keysOption())
    .addOption(dirAlias())
    .option('--json', 'machine-readable output');

/** --dir is the old name of --keys: the folder is whichever was given. */
function withKeysDir<T extends { keys: string; dir?: string }>({
  keys,
  dir,
  ...rest
}: T): Omit<T, 'keys' | 'dir'> & { dir: string } {
  return { ...rest, dir: dir ?? keys };
}

export type KeysGenFlags = ReturnType<typeof withKeysDir<FlagsOf<ReturnType<typeof genFlags>>>>;
export type KeysVerifyFlags = ReturnType<typeof withKeysDir<FlagsOf<ReturnType<typeof verifyFlags>>>>;
export type KeysShowFlags = ReturnType<typeof withKeysDir<FlagsOf<ReturnType<typeof showFlags>>>>;

export function registerKeys(program: Command, out: Output): void {
  const keys = program.command('keys').description('gomel member keys and committee.ka');
  keys.addCommand(withSettingsOf(keys, genFlags()).action(async (o) => (await load()).keysGen(withKeysDir(o), out)));
  keys.addCommand(
    withSettingsOf(keys, verifyFlags()).action(async (o) => (await load()).keysVerify(withKeysDir(o), out)),
  );
  keys.addCommand(withSettingsOf(keys, showFlags()).action(async (o) => (await load()).keysShow(withKeysDir(o), out)));
}
