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
import { VERSION } from './version.js';
import { fsProblem, isFsError } from './fs/input.js';
import { keyMaterialRuns, keyRedactor } from './core/keys/secrets.js';

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
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeErr: (s) => printLines(out.warn, s.trimEnd()),
      writeOut: (s) => printLines(out.line, s.trimEnd()),
    });
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

/** Runs the CLI and returns the exit code; prints one line for any error. */
export async function run(argv: readonly string[], out: Output = processOutput): Promise<number> {
  // Everything printed goes through here, and each line() is exactly one line: a newline
  // inside one came from a user (a path, a flag, a file) and is shown as \n (N96). Text that
  // spans lines is printed a line() at a time (printJson, printLines). Key material handed
  // as a value (--net "$(cat keys/0.pk)", a GOMELCTL_* setting) is never printed back, by any message (issue 30, class 10).
  const settings = Object.entries(process.env).flatMap(([k, v]) => (k.startsWith('GOMELCTL_') && v ? [v] : []));
  const redact = keyRedactor([...argv, ...settings].flatMap(keyMaterialRuns));
  const clean = (text: string, keep: string) => redact(escapeControls(text, keep));
  const safe: Output = {
    line: (t) => out.line(clean(t, '\t')),
    warn: (t) => out.warn(clean(t, '\t')),
    tty: out.tty,
    ...(out.status ? { status: (t: string) => out.status!(clean(t, '')) } : {}),
  };
  try {
    await buildProgram(safe).parseAsync(argv as string[], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    const code = exitCodeOf(error);
    if (error instanceof CommanderError) return code; // commander already printed it
    const message = isFsError(error)
      ? fsProblem(error, '(unknown path)').message
      : error instanceof Error
        ? error.message
        : String(error);
    // An error is one line, whatever it quotes; a bug's stack keeps its lines.
    out.warn(
      `gomelctl: ${code === EXIT.internal && error instanceof Error && error.stack ? clean(error.stack, '\n') : clean(message, '')}`,
    );
    return code;
  }
}
