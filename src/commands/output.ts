// Where commands write: human lines to stdout, warnings and progress to stderr.
// Tests pass their own to capture what a user would see.
export interface Output {
  line(text: string): void;
  warn(text: string): void;
  /** True when stderr is a terminal, so progress may redraw one line. */
  tty: boolean;
}

export const processOutput: Output = {
  line: (text) => process.stdout.write(`${text}\n`),
  warn: (text) => process.stderr.write(`${text}\n`),
  tty: Boolean(process.stderr.isTTY),
};

export function captureOutput(): Output & { lines: string[]; warnings: string[] } {
  const lines: string[] = [];
  const warnings: string[] = [];
  return { lines, warnings, line: (t) => lines.push(t), warn: (t) => warnings.push(t), tty: false };
}
