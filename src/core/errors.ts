// Typed errors. Only src/cli.ts turns them into exit codes (see exitCodeOf there).

/** Bad command-line arguments: exit 2, nothing was changed. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Bad input found in a file: names the file, the line or JSON path, and the fix. */
export class InputError extends Error {
  override name = 'InputError';
  constructor(
    readonly file: string,
    readonly where: string | undefined,
    readonly problem: string,
    readonly fix?: string,
  ) {
    super(`${file}${where ? `:${where}` : ''}: ${problem}${fix ? ` — ${fix}` : ''}`);
  }
}

/** The tool ran, and what it checked is wrong (a failed check, verdict, deploy): exit 1. */
export class CheckFailed extends Error {
  override name = 'CheckFailed';
}

/** More nodes were faulty than the committee tolerates, and the correct ones agree: the stall BFT allows. Exit 3. */
export class ExpectedStall extends CheckFailed {
  override name = 'ExpectedStall';
}

/** Two nodes ordered different units at one position: safety is broken. Exit 4. */
export class ForkFound extends CheckFailed {
  override name = 'ForkFound';
}

/** The user interrupted (Ctrl-C) a command that stops cleanly on it (experiment run): exit 130, as a shell reports SIGINT. */
export class Interrupted extends Error {
  override name = 'Interrupted';
}

/** Something outside us failed: the engine, the registry, the filesystem. Exit 1. */
export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new UsageError(message);
}
