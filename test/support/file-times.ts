// A node:test reporter (`--test-reporter=./dist/test/support/file-times.js`) that prints, once every
// file has run, each test file's wall time: which integration file makes the suite long. Beside the
// spec reporter, which prints the tests themselves.
import path from 'node:path';
import type { TestEvent } from 'node:test/reporters';

/**
 * Node 20 runs each file as a test of its own, named by the file's path: its test:complete carries
 * the wall time of the file's process. A runner that reports no such test counts the file's
 * top-level tests instead.
 */
export function fileTimes(events: Iterable<TestEvent>): { file: string; ms: number; passed: boolean }[] {
  const files = new Map<string, { ms: number; passed: boolean; whole: boolean }>();
  for (const e of events) {
    if (e.type !== 'test:complete' || e.data.file === undefined || e.data.nesting !== 0) continue;
    const whole = e.data.name === e.data.file;
    const seen = files.get(e.data.file);
    const { duration_ms: ms, passed } = e.data.details;
    if (whole || !seen) files.set(e.data.file, { ms, passed, whole });
    else if (!seen.whole) files.set(e.data.file, { ms: seen.ms + ms, passed: seen.passed && passed, whole });
  }
  return [...files].map(([file, f]) => ({ file, ms: f.ms, passed: f.passed }));
}

export function fileTimesTable(times: { file: string; ms: number; passed: boolean }[]): string {
  if (times.length === 0) return '';
  const row = (s: number, name: string) => `${(s / 1000).toFixed(1).padStart(8)}  ${name}\n`;
  const total = times.reduce((sum, t) => sum + t.ms, 0);
  return [
    'wall time per file (s):\n',
    ...times.map((t) => row(t.ms, `${path.basename(t.file)}${t.passed ? '' : '  (failed)'}`)),
    row(total, 'all files'),
  ].join('');
}

export default async function* fileTimesReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const events: TestEvent[] = [];
  for await (const e of source) if (e.type === 'test:complete') events.push(e);
  yield fileTimesTable(fileTimes(events));
}
