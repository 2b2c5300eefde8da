// Where commands write: human lines to stdout, warnings and progress to stderr.
// Tests pass their own to capture what a user would see.
export interface Output {
  line(text: string): void;
  warn(text: string): void;
  /** True when stderr is a terminal, so progress may redraw one line. */
  tty: boolean;
  /** On a terminal: one status line, redrawn in place until the next line or warning. */
  status?(text: string): void;
  /**
   * From now on, nothing of the secrets in the keys folder `dir` is printed either (src/cli.ts):
   * a command that makes or fills a keys folder on its way (up's keys gen) says so.
   */
  keysFolder?(dir: string): Promise<void>;
  /**
   * Redacts, in text a command writes into a file (task.json, deploy-logs.txt, verdict.txt, up-N.txt,
   * results, report.html) that holds a node's or the engine's words, what a printed line never shows
   * (src/cli.ts): the keys folder's secrets in any piece of 8 characters or more.
   */
  redact?(text: string): string;
}

/** The redaction of text a command writes into a file (Output.redact); none where the output has none (a test's capture). */
export const writtenText =
  (out: Output) =>
  (text: string): string =>
    out.redact ? out.redact(text) : text;

// A status line on the terminal is open until something else is written: that clears it first.
let statusOpen = false;
const closeStatus = () => {
  if (statusOpen) process.stderr.write('\r\x1b[K');
  statusOpen = false;
};

export const processOutput: Output = {
  line: (text) => (closeStatus(), process.stdout.write(`${text}\n`)),
  warn: (text) => (closeStatus(), process.stderr.write(`${text}\n`)),
  tty: Boolean(process.stderr.isTTY),
  status: (text) => {
    process.stderr.write(`\r\x1b[K${text}`);
    statusOpen = true;
  },
};

/**
 * A value as indented JSON, one line() per line: every line() is one line of output
 * (src/cli.ts escapes any newline inside it), and JSON.stringify never writes a raw
 * control character inside a string, so its own line breaks are the only ones.
 */
export function printJson(out: Output, value: unknown): void {
  for (const line of JSON.stringify(value, null, 2).split('\n')) out.line(line);
}

/** Text that is ours and spans lines (an engine's or a compiler's message): one line() each. */
export function printLines(print: (line: string) => void, text: string): void {
  for (const line of text.split('\n')) print(line);
}

export function captureOutput(): Output & { lines: string[]; warnings: string[] } {
  const lines: string[] = [];
  const warnings: string[] = [];
  return { lines, warnings, line: (t) => lines.push(t), warn: (t) => warnings.push(t), tty: false };
}
