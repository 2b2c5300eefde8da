// Declares the commands and flags, and is the one place that maps errors to exit codes.
import { Command, CommanderError, Option } from 'commander';
import { CheckFailed, EnvironmentError, ExpectedStall, ForkFound, InputError, UsageError } from './core/errors.js';
import { processOutput, type Output } from './commands/output.js';
import { DEFAULT_NETWORK, DEFAULT_REGISTRY } from './commands/defaults.js';
import { VERSION } from './version.js';
import { fsProblem, isFsError } from './fs/input.js';

// Each command's module is loaded when the command runs: `keys gen` or `--help`
// must not pay ~0.4 s for loading dockerode and vega at start-up (issue 14).
const keysCommands = () => import('./commands/keys.js');
const configCommands = () => import('./commands/config.js');
const clusterCommands = () => import('./commands/cluster.js');
const imageCommands = () => import('./commands/image.js');
const deployCommands = () => import('./commands/deploy.js');
const upCommands = () => import('./commands/up.js');

export const EXIT = { ok: 0, failed: 1, usage: 2, stalled: 3, fork: 4, internal: 70 } as const;

export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (isFsError(error)) return EXIT.failed; // a path the user gave or the machine's state, never a bug of ours
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof ExpectedStall) return EXIT.stalled;
  if (error instanceof ForkFound) return EXIT.fork;
  if (error instanceof InputError || error instanceof CheckFailed || error instanceof EnvironmentError) return EXIT.failed;
  return EXIT.internal;
}

// Flags shared by several commands, declared once so names and defaults cannot drift.
const keysOption = (what = 'keys folder') => new Option('--keys <dir>', what).default('keys');
// `keys` commands took --dir first; it stays as a hidden alias of --keys.
const dirAlias = () => new Option('--dir <dir>', 'alias of --keys').hideHelp();
const withKeysDir = <T extends { keys: string; dir?: string }>(o: T): T & { dir: string } => ({ ...o, dir: o.dir ?? o.keys });
const configsOption = () => new Option('--configs <dir>', 'configs folder').default('configs');
const networkOption = () => new Option('--network <name>', 'overlay network; it also names the deployment').default(DEFAULT_NETWORK);
const spreadOption = () => new Option('--spread', "spread the nodes evenly over the swarm's hosts");
const netOption = () => new Option('--net <conditions>', "every node's egress, e.g. delay=80ms,jitter=10ms,loss=0.5%,rate=20mbit");
const zonesOption = () => new Option('--zones <file>', 'zones file (JSON): nodes per zone and one-way conditions between zones');
const faultsOption = () => new Option('--faults <plan>', 'faults to cause, timed from the common start: crash:7,8@3s;pause:2@2s-12s;partition:1-4|5-8@3s-15s;slow:3@0s-20s,cpu=0.2, random:K, or a JSON file');
const seedOption = () => new Option('--seed <text>', 'seed of --faults random:K (the same seed, the same faults)');
const strictOption = () => new Option('--strict', 'also require a clean shutdown of every node');
const registryOption = (what = 'registry the swarm pulls from') => new Option('--registry <host:port>', what).default(DEFAULT_REGISTRY);

export function buildProgram(out: Output): Command {
  const program = new Command('gomelctl')
    .description('Run gomel (Aleph BFT) committees on Docker Swarm')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => out.warn(s.trimEnd()), writeOut: (s) => out.line(s.trimEnd()) });

  const keys = program.command('keys').description('gomel member keys and committee.ka');
  keys
    .command('gen')
    .description('create or resize the committee; existing keys are kept')
    .option('--n <count>', 'committee size (default: the current size)')
    .addOption(keysOption())
    .addOption(dirAlias())
    .option('--host-prefix <prefix>', 'node k is <prefix><k> (default: the committee\'s current prefix, else node)')
    .option('--ports <list>', 'address columns, e.g. 9000,10000,11000 (default: one per Sync entry of --config)')
    .option('--setup-ports <list>', 'setup-address columns (default: one per SyncSetup entry of --config)')
    .addOption(new Option('--seed <hex>', '32-byte committee seed, hex').conflicts('seedFile'))
    .option('--seed-file <file>', 'read the committee seed from a file')
    .option('--addresses <file>', "per-node addresses in gomel's generator format (<setup>|<addresses>)")
    .option('--regenerate', 'replace every existing key (from a new seed unless --seed is given)')
    .option('--config <name>', 'deploy config whose Sync list sets the address columns', 'config')
    .addOption(configsOption())
    .action(async (o) => (await keysCommands()).keysGen(withKeysDir(o), out));
  keys
    .command('verify')
    .description('check committee.ka and every <pid>.pk against each other')
    .addOption(keysOption('keys folder (every member file must be there)'))
    .addOption(dirAlias())
    .option('--committee <file>', 'verify this committee file instead of <dir>/committee.ka')
    .option('--pk <files...>', 'verify only these member files (a node holds just its own)')
    .action(async (o) => (await keysCommands()).keysVerify(withKeysDir(o), out));
  keys
    .command('show')
    .description('list the nodes with their addresses and public-key fingerprints')
    .addOption(keysOption())
    .addOption(dirAlias())
    .option('--json', 'machine-readable output')
    .action(async (o) => (await keysCommands()).keysShow(withKeysDir(o), out));

  const config = program.command('config').description("gomel's config.json files");
  config
    .command('check [names...]')
    .description('validate configs alone and against the committee')
    .addOption(configsOption())
    .addOption(keysOption())
    .action(async (names: string[], o) => (await configCommands()).configCheck(o, names, out));
  config
    .command('sync [names...]')
    .description('bring configs in line with the committee (NParents, CRPFixedPrefix)')
    .addOption(configsOption())
    .addOption(keysOption())
    .option('--check', 'change nothing; exit 1 if a sync would change something')
    .option('--dry-run', 'show what would change, change nothing')
    .action(async (names: string[], o) => (await configCommands()).configSync(o, names, out));

  const cluster = program.command('cluster').description('the swarm, its overlay network and registry');
  cluster
    .command('init')
    .description('initialise swarm mode, create the overlay network, check the registry (idempotent)')
    .option('--advertise-addr <addr>', 'address workers reach this manager on')
    .addOption(networkOption())
    .option('--subnet <cidr>', 'overlay subnet for a new network (default: the first free 10.N.0.0/16; a /24 stops at ~250 containers)')
    .addOption(registryOption())
    .action(async (o) => (await clusterCommands()).clusterInit(o, out));
  cluster
    .command('join-token')
    .description('print what a worker runs to join: the registry to trust and `docker swarm join`')
    .addOption(registryOption())
    .action(async (o) => (await clusterCommands()).clusterJoinToken(o, out));

  const image = program.command('image').description('the image every node runs');
  image
    .command('rebuild')
    .description('assemble the build context in memory, build and push through the Engine API')
    .addOption(keysOption('keys folder (only committee.ka goes in, unless --bake-keys)'))
    .addOption(configsOption())
    .addOption(registryOption('registry to push to'))
    .option('--tag <ref>', 'image reference (default: <registry>/aleph:test)')
    .addOption(new Option('--code <dir>', 'payload: a consensus-go checkout (or a folder with consensus-go/ and bn256/, or a GOPATH), compiled at build time').conflicts('binary'))
    .option('--bn256 <dir>', 'with --code: the github.com/cloudflare/bn256 checkout (at 828ba4f), if not beside consensus-go as ../bn256')
    .option('--binary <file>', 'payload: a static gomel binary')
    .option('--base <image>', 'base image (default: gomelctl/base:busybox; for --code golang:1.13 when the engine has it, else gomelctl/base:golang)')
    .option('--bake-keys', "put every node's private key into the image (as gomel's original test did)")
    .option('--force', 'rebuild without cache even if the context is unchanged')
    .option('--json', 'progress and result as JSON lines')
    .option('--templates <dir>', 'templates folder (default: the one shipped with gomelctl)')
    .action(async (o) => {
      await (await imageCommands()).imageRebuild(o, out);
    });

  const collect = (value: string, previous: string[]) => [...previous, value];
  const deploy = program.command('deploy').description('the committee as Docker Swarm services');
  deploy
    .command('spawn')
    .description('one service per node with its own key as a secret; waits until every task runs')
    .addOption(keysOption())
    .addOption(configsOption())
    .option('--config <name>', 'gomel config each node runs', 'config')
    .option('--image <ref>', 'image (default: <registry>/aleph:test, pinned by digest)')
    .addOption(registryOption('registry of the default image'))
    .addOption(networkOption())
    .option('--constraint <expr>', 'placement constraint, repeatable', collect, [])
    .addOption(spreadOption())
    .addOption(netOption())
    .addOption(zonesOption())
    .addOption(faultsOption())
    .addOption(seedOption())
    .option('--cap-add <cap>', 'Linux capability for the nodes, repeatable (e.g. NET_ADMIN)', collect, [])
    .option('--parallel <k>', 'services created at once', '8')
    .option('--timeout <s>', 'seconds to wait for every task to run', '120')
    .option('--settle <s>', 'seconds to keep watching once all run, to catch nodes that fail at once (default: 8 + N/16, past the nodes\' common start; 0: none)')
    .action(async (o) => {
      await (await deployCommands()).deploySpawn(o, out);
    });
  deploy
    .command('status')
    .description('per node: task state, swarm node, since, exit code or error')
    .addOption(networkOption())
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await (await deployCommands()).deployStatus(o, out);
    });
  deploy
    .command('logs')
    .description("each node's output and its /extract files into --out")
    .addOption(networkOption())
    .option('--out <dir>', 'where to write them', 'logs')
    .addOption(keysOption('keys folder: its committee.ka goes beside the logs when it is the deployed one'))
    .addOption(configsOption())
    .option('--follow', 'keep streaming the output')
    .action(async (o) => (await deployCommands()).deployLogs(o, out));
  deploy
    .command('clean')
    .description("remove the deployment's services and secrets (only those gomelctl labelled)")
    .addOption(networkOption())
    .action(async (o) => (await deployCommands()).deployClean(o, out));

  program
    .command('up')
    .description('keys gen → config sync → config check → cluster init → image rebuild → deploy spawn → logs → verdict')
    .option('--n <count>', 'committee size (default: keep the current one)')
    .addOption(new Option('--code <dir>', 'deploy real gomel, compiled from a consensus-go checkout (see image rebuild --code)').conflicts('binary'))
    .option('--bn256 <dir>', 'with --code: the github.com/cloudflare/bn256 checkout (at 828ba4f), if not beside consensus-go as ../bn256')
    .option('--binary <file>', 'deploy real gomel from a static binary')
    .option('--config <name>', 'gomel config the nodes run', 'config')
    .addOption(keysOption())
    .addOption(configsOption())
    .addOption(registryOption())
    .addOption(networkOption())
    .option('--logs <dir>', 'where the nodes\' logs are collected', 'logs')
    .option('--timeout <s>', 'seconds to wait for the nodes to start, and then to finish', '300')
    .option('--parallel <k>', 'services created at once', '8')
    .option('--subnet <cidr>', 'overlay subnet when the network is created (default: a free 10.x.0.0/16)')
    .addOption(strictOption())
    .option('--tag <ref>', 'image reference (default: <registry>/aleph:test)')
    .addOption(spreadOption())
    .addOption(netOption())
    .addOption(zonesOption())
    .addOption(faultsOption())
    .addOption(seedOption())
    .option('--stall <s>', 'seconds without a new ordered unit that end the wait and judge at once (default: max(20, 10 timing rounds))')
    .option('--cap-add <cap>', 'Linux capability for the nodes, repeatable (NET_ADMIN lets `gomelctl fault partition` cut nodes off live)', collect, [])
    .option('--keep', 'leave nodes still running at the end running (default: stopped once their logs are collected)')
    .action(async (o) => (await upCommands()).up(o, out));
  program
    .command('down')
    .description('remove the deployment (deploy clean)')
    .addOption(networkOption())
    .action(async (o) => (await upCommands()).down(o, out));

  program
    .command('report [runs...]')
    .description('what a run measured, as figures and charts in one HTML file; several run folders are compared')
    .option('--logs <dir>', 'the run to report on, when no run folders are given', 'logs')
    .option('--out <file>', 'the HTML file (default: <logs>/report.html, or report.html when comparing)')
    .option('--config <name|file>', 'config whose LevelLimit applies (default: each run\'s conf.json, else config)')
    .addOption(configsOption())
    .addOption(keysOption('keys folder whose committee.ka the run used, when a logs folder has none'))
    .option('--json', 'the figures as JSON')
    .action(async (runs: string[], o) => {
      await (await import('./commands/report.js')).report(runs, o, out);
    });

  program
    .command('fault')
    .description('a fault on the running deployment, now: crash|stop|pause|resume|slow|partition|isolate|heal <nodes>')
    .argument('<action>', 'crash, stop, pause, resume, slow, partition, isolate or heal')
    .argument('[nodes]', "nodes as in --faults: 7, 1-4, node3; a partition's groups: '1-4|5-8'; heal: all when none")
    .addOption(networkOption())
    .option('--cpu <fraction>', 'slow: the fraction of the CPU gomel keeps, 0.01 to 0.99')
    .action(async (action: string, nodes: string | undefined, o) => {
      await (await import('./commands/fault.js')).fault(action, nodes, o, out);
    });
  program
    .command('verdict')
    .description('did the committee reach consensus? reads the logs `deploy logs` collected')
    .option('--logs <dir>', 'one folder (or <pid>.log[.gz] set) per node', 'logs')
    .option('--config <name|file>', 'config whose LevelLimit applies: a name in --configs or a path (default: logs/conf.json, else config)')
    .addOption(configsOption())
    .addOption(keysOption('keys folder whose committee.ka the run used, when the logs folder has none'))
    .addOption(strictOption())
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await (await import('./commands/verdict.js')).verdict(o, out);
    });

  return program;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Control characters shown as escapes (ESC as \x1b, a newline as \n), except those in `keep`.
 * Paths and flags come from users: an ESC in `--keys` must not recolour the terminal,
 * and a newline must not split a one-line error (N96).
 */
export function escapeControls(text: string, keep = ''): string {
  return text.replace(CONTROL, (c) => {
    if (keep.includes(c)) return c;
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`);
  });
}

/** Runs the CLI and returns the exit code; prints one line for any error. */
export async function run(argv: readonly string[], out: Output = processOutput): Promise<number> {
  // Everything printed goes through here: lines keep their line breaks, nothing else raw.
  const safe: Output = {
    line: (t) => out.line(escapeControls(t, '\n\t')),
    warn: (t) => out.warn(escapeControls(t, '\n\t')),
    tty: out.tty,
    ...(out.status ? { status: (t: string) => out.status!(escapeControls(t, '')) } : {}),
  };
  try {
    await buildProgram(safe).parseAsync(argv as string[], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    const code = exitCodeOf(error);
    if (error instanceof CommanderError) return code; // commander already printed it
    const message = isFsError(error) ? fsProblem(error, '(unknown path)').message : error instanceof Error ? error.message : String(error);
    // An error is one line, whatever it quotes; a bug's stack keeps its lines.
    out.warn(`gomelctl: ${code === EXIT.internal && error instanceof Error && error.stack ? escapeControls(error.stack, '\n') : escapeControls(message)}`);
    return code;
  }
}
