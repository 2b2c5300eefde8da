// Declares the commands and flags, and is the one place that maps errors to exit codes.
import { Command, CommanderError } from '@commander-js/extra-typings';
import {
  CheckFailed,
  EnvironmentError,
  ExpectedStall,
  ForkFound,
  InputError,
  Interrupted,
  UsageError,
} from './core/errors.js';
import { printLines, processOutput, type Output } from './commands/output.js';
import { registerCluster } from './commands/cluster.flags.js';
import { registerConfig } from './commands/config.flags.js';
import { registerDeploy } from './commands/deploy.flags.js';
import { registerFault } from './commands/fault.flags.js';
import { registerImage } from './commands/image.flags.js';
import { registerKeys } from './commands/keys.flags.js';
import { registerReport, registerVerdict } from './commands/report.flags.js';
import { registerUp } from './commands/up.flags.js';
import { registerExperiment } from './commands/experiment.flags.js';
import { keysFolderOf, refuseEmptyPaths } from './commands/shared-flags.js';
import { VERSION } from './version.js';
import { fsProblem, isFsError } from './fs/input.js';
import { keyMaterialRuns, keyRedactor, redactKeyMaterial } from './core/keys/secrets.js';
import path from 'node:path';

const EXIT = { ok: 0, failed: 1, usage: 2, stalled: 3, fork: 4, internal: 70, interrupted: 130 } as const;

export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (isFsError(error)) return EXIT.failed; // a path the user gave or the machine's state, never a bug of ours
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof ExpectedStall) return EXIT.stalled;
  if (error instanceof ForkFound) return EXIT.fork;
  if (error instanceof Interrupted) return EXIT.interrupted;
  if (error instanceof InputError || error instanceof CheckFailed || error instanceof EnvironmentError)
    return EXIT.failed;
  return EXIT.internal;
}

/** The program: each command declares its own flags next to its code (src/commands/*.flags.ts). */
function buildProgram(out: Output): Command {
  const program = new Command('gomelctl')
    .description('Run gomel (Aleph BFT) committees on Docker Swarm')
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      // A usage error is one line, printed by run() from the CommanderError (usageLine): commander's
      // own error text, and the help it prints to stderr when a command is missing, would be many.
      outputError: () => undefined,
      writeErr: () => undefined,
      writeOut: (s) => printLines(out.line, s.trimEnd()),
    });
  // Before any command's action: a path given as '' (shared-flags.ts).
  program.hook('preAction', (_, action) => refuseEmptyPaths(action));
  registerKeys(program, out);
  registerConfig(program, out);
  registerCluster(program, out);
  registerImage(program, out);
  registerDeploy(program, out);
  registerUp(program, out);
  registerReport(program, out);
  registerFault(program, out);
  registerVerdict(program, out);
  registerExperiment(program, out);
  return program;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Control characters shown as escapes (ESC as \x1b, a newline as \n), except those in `keep`.
 * Paths and flags come from users: an ESC in `--keys` must not recolour the terminal,
 * and a newline must not split a one-line error (N96).
 */
function escapeControls(text: string, keep = ''): string {
  return text.replace(CONTROL, (c) => {
    if (keep.includes(c)) return c;
    const code = c.charCodeAt(0);
    return (
      NAMED[c] ??
      (code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`)
    );
  });
}

/** The command `argv` names (`keys gen`), as far as it names one: the one a usage error is about. */
function commandOf(program: Command, argv: readonly string[]): Command {
  let command = program;
  for (const word of argv) {
    if (word.startsWith('-')) continue;
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) break;
    command = sub as unknown as Command;
  }
  return command;
}

/**
 * A usage error commander found, as one line: its message (which may span lines: "unknown option
 * '--bogus'\n(Did you mean --logs?)"), the command it is about, and where its flags are listed.
 */
function usageLine(error: CommanderError, program: Command, argv: readonly string[]): string {
  const command = commandOf(program, argv);
  const names: string[] = [];
  for (let c: Command | null = command; c && c !== program; c = c.parent as Command | null) names.unshift(c.name());
  const name = names.join(' ');
  // help({ error: true }): a command that has subcommands was given none.
  const problem =
    error.code === 'commander.help'
      ? `give a command: ${command.commands.map((c) => c.name()).join(', ')}`
      : error.message
          .replace(/^error: /, '')
          .split('\n')
          .filter((l) => l.trim())
          .join(' ')
          .replace('(Did you mean', '(did you mean');
  return `${name ? `${name}: ` : ''}${problem} — see \`gomelctl${name ? ` ${name}` : ''} --help\``;
}

/** Runs the CLI and returns the exit code; prints one line for any error. */
export async function run(argv: readonly string[], out: Output = processOutput): Promise<number> {
  // Everything printed goes through here, and each line() is exactly one line: a newline
  // inside one came from a user (a path, a flag, a file) and is shown as \n (N96). Text that
  // spans lines is printed a line() at a time (printJson, printLines). Key material handed
  // as a value (--net "$(cat keys/0.pk)", a GOMELCTL_* setting) is never printed back, by any message (issue 30, class 10).
  const settings = Object.entries(process.env).flatMap(([k, v]) => (k.startsWith('GOMELCTL_') && v ? [v] : []));
  const handed = [...argv, ...settings].flatMap(keyMaterialRuns);
  // Nor are the secrets of the keys folder the command uses (its --keys, keys/ by default, and any it
  // makes on its way), in any piece of 8 characters or more: a key split into pieces shorter than
  // the shape of one (40 characters) had 58 of its 88 characters printed (hostile pass N2).
  const keysFolders = new Set<string>();
  let redact = keyRedactor(handed);
  let readSecrets: ((dirs: readonly string[]) => string[] | undefined) | undefined;
  const learnSecrets = async () => {
    if (!keysFolders.size) return;
    // Loaded here, as the commands are: --version and a usage error need none of the keys code.
    readSecrets ??= (await import('./fs/keys-dir.js')).secretWordsReader();
    const words = readSecrets([...keysFolders]);
    if (words) redact = keyRedactor([...handed, ...words]);
  };
  const clean = (text: string, keep: string) => redact(escapeControls(text, keep));
  const safe: Output = {
    line: (t) => out.line(clean(t, '\t')),
    warn: (t) => out.warn(clean(t, '\t')),
    tty: out.tty,
    ...(out.status ? { status: (t: string) => out.status!(clean(t, '')) } : {}),
    keysFolder: async (dir) => {
      keysFolders.add(path.resolve(dir));
      await learnSecrets();
    },
    // The files a command writes quote nodes and the engine as its printed lines do (hostile pass N2 follow-up).
    redact: (text) => redact(text),
  };
  const program = buildProgram(safe);
  // After refuseEmptyPaths: before the command prints anything.
  program.hook('preAction', (_, action) => safe.keysFolder!(keysFolderOf(action)));
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    const code = exitCodeOf(error);
    if (error instanceof CommanderError && code === EXIT.ok) return code; // --help, --version: printed
    await learnSecrets(); // the keys as they are now: a committee the command made (keys gen, up) is judged too
    const message =
      error instanceof CommanderError
        ? usageLine(error, program, argv)
        : isFsError(error)
          ? fsProblem(error, '(unknown path)').message
          : error instanceof Error
            ? error.message
            : String(error);
    // An error is one line, whatever it quotes; a bug's stack keeps its lines. A value it quotes from a
    // file (an experiment file, a fault plan, a zones file) was never in argv: key-shaped runs are
    // redacted by their shape too, so no reader's message can print a key or seed it was handed (issue 30, B2).
    const line =
      code === EXIT.internal && error instanceof Error && error.stack ? clean(error.stack, '\n') : clean(message, '');
    out.warn(`gomelctl: ${redactKeyMaterial(line)}`);
    return code;
  }
}
