// Flags several commands share, declared once so that names, defaults and parsing
// cannot drift; typed by @commander-js/extra-typings, so a command's options type is
// what its declaration says (a misspelt flag or a wrong type fails tsc).
import { Command, Option } from '@commander-js/extra-typings';

/** Subcommands declared on their own carry the program's settings (exitOverride, output, help after an error). */
export function withSettingsOf<C extends Command<any, any, any>>(parent: Command<any, any, any>, command: C): C {
  command.copyInheritedSettings(parent as never);
  return command;
}
import { parseCapability, parseCommitteeSize, parseNetworkName, parsePositiveInt } from '../core/args.js';
import { parseDelayImpl, type DelayImpl } from '../core/deploy/network-conditions.js';
import { UsageError } from '../core/errors.js';
import { DEFAULT_NETWORK, DEFAULT_REGISTRY } from './defaults.js';

export const DEFAULT_KEYS = 'keys';
export const keysOption = (what = 'keys folder') => new Option('--keys <dir>', what).default(DEFAULT_KEYS);
/** `keys` commands took --dir first; it stays as a hidden alias of --keys. */
export const dirAlias = () => new Option('--dir <dir>', 'alias of --keys').hideHelp();
export const DEFAULT_CONFIGS = 'configs';
export const DEFAULT_CONFIG = 'config';
export const configsOption = () => new Option('--configs <dir>', 'configs folder').default(DEFAULT_CONFIGS);
export const networkOption = () =>
  new Option('--network <name>', 'overlay network; it also names the deployment')
    .argParser((text) => parseNetworkName(text))
    .default(DEFAULT_NETWORK);
export const registryOption = (what = 'registry the swarm pulls from') =>
  new Option('--registry <host:port>', what).default(DEFAULT_REGISTRY);
export const spreadOption = () => new Option('--spread', "spread the nodes evenly over the swarm's hosts");
export const netOption = () =>
  new Option('--net <conditions>', "every node's egress, e.g. delay=80ms,jitter=10ms,loss=0.5%,rate=20mbit");
export const netImplOption = () =>
  new Option(
    '--net-impl <how>',
    'how delay and jitter are applied: auto (netem where the kernel has it, else userspace), netem, or userspace (gomel-delayer on NFQUEUE)',
  )
    .argParser((text) => parseDelayImpl(text))
    .default('auto' as DelayImpl);
export const zonesOption = () =>
  new Option('--zones <file>', 'zones file (JSON): nodes per zone and one-way conditions between zones');
export const faultsOption = () =>
  new Option(
    '--faults <plan>',
    'faults to cause, timed from the common start: crash:7,8@3s;pause:2@2s-12s;partition:1-4|5-8@3s-15s;slow:3@0s-20s,cpu=0.2, random:K; nodes that lie: mute:7@3s, selective:3@2s,to=1-4, twin:3; or a JSON file',
  );
export const seedOption = () =>
  new Option('--seed <text>', 'seed of --faults random:K (the same seed, the same faults)');
export const dryRunOption = () =>
  new Option(
    '--dry-run',
    "print the run's plan (image, placement, network conditions, faults, start) and stop: the engine is not asked",
  );
export const strictOption = () => new Option('--strict', 'also require a clean shutdown of every node');
export const committeeSizeOption = (what: string) =>
  new Option('--n <count>', what).argParser((text) => parseCommitteeSize(text));
export const parallelOption = () =>
  new Option('--parallel <k>', 'services created at once')
    .argParser((text) => parsePositiveInt(text, '--parallel', 64))
    .default(8);
export const timeoutOption = (what: string, seconds: number) =>
  new Option('--timeout <s>', what).argParser((text) => parsePositiveInt(text, '--timeout')).default(seconds);
export const capAddOption = (what: string) =>
  new Option('--cap-add <cap>', what)
    .argParser((value: string, previous: string[]) => collect(parseCapability(value), previous))
    .default([] as string[]);
export const constraintOption = () =>
  new Option('--constraint <expr>', 'placement constraint, repeatable').argParser(collect).default([] as string[]);

/** What a flag's or an argument's placeholder says it names (`--keys <dir>`, `[runs...]`), in words. */
const PATH_PLACEHOLDERS: Record<string, string> = {
  dir: 'a folder',
  file: 'a file',
  files: 'files',
  'name|file': 'a config name or file',
  runs: 'run folders',
  names: 'config names',
};
const placeholderOf = (flags: string) => /[<[]([^>\]]*?)(?:\.\.\.)?[>\]]/.exec(flags)?.[1] ?? '';
const isEmptyIn = (value: unknown) => value === '' || (Array.isArray(value) && value.includes(''));

/**
 * Refuses a path given as '' (a flag, or an argument of the command that runs): the file system reads ''
 * as the working folder (`keys gen --keys ''` made the working folder a keys folder), and readers said
 * "(unknown path): does not exist" (issue 30). Runs before the command's action: nothing has changed.
 */
export function refuseEmptyPaths(command: Command<any, any, any>): void {
  const empty = (name: string, what: string, fix = '') =>
    new UsageError(`${name} '': an empty path; give ${what}${fix}`);
  for (const option of command.options) {
    // --config <name> names a config in --configs: a path too.
    const what =
      PATH_PLACEHOLDERS[placeholderOf(option.flags)] ?? (option.long === '--config' ? 'a config name' : undefined);
    if (!what || !isEmptyIn(command.getOptionValue(option.attributeName()))) continue;
    const fallback = typeof option.defaultValue === 'string' ? ` (default: ${option.defaultValue})` : '';
    throw empty(option.long!, what, `, or omit ${option.long}${fallback}`);
  }
  command.registeredArguments.forEach((argument, i) => {
    const what = PATH_PLACEHOLDERS[argument.name()];
    if (what && isEmptyIn(command.processedArgs[i]))
      throw empty(
        `${command.parent?.parent ? `${command.parent.name()} ` : ''}${command.name()} <${argument.name()}>`,
        what,
      );
  });
}

/** The keys folder a command uses: its --keys (or --dir, its old name), else the default one. */
export function keysFolderOf(command: Command<any, any, any>): string {
  const { keys, dir } = command.opts() as { keys?: unknown; dir?: unknown };
  return typeof dir === 'string' ? dir : typeof keys === 'string' ? keys : DEFAULT_KEYS;
}

/** A repeatable flag's values, in the order given. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The options type a command's declaration gives its action. */
export type FlagsOf<C extends { opts(): unknown }> = ReturnType<C['opts']>;
