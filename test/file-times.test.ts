// The integration tier's reporter (test/support/file-times.ts) on a real `node --test` run of two
// small files: one line per file with its wall time, a failed file marked, and the sum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers.js';

const REPORTER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support/file-times.js');

test('file-times: each file of a node --test run with its wall time, the failed one marked, then the sum', async (t) => {
  const dir = await tempDir(t);
  await fs.writeFile(
    path.join(dir, 'slow.test.mjs'),
    "import { test } from 'node:test';\ntest('a', () => new Promise((r) => setTimeout(r, 400)));\ntest('b', () => {});\n",
  );
  await fs.writeFile(
    path.join(dir, 'broken.test.mjs'),
    "import { test } from 'node:test';\ntest('c', () => { throw new Error('no'); });\n",
  );
  const r = spawnSync(
    process.execPath,
    ['--test', '--test-concurrency=1', `--test-reporter=${REPORTER}`, 'broken.test.mjs', 'slow.test.mjs'],
    // Without the runner's mark of a child process, which would make this run skip its files.
    { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
  );
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines[0], 'wall time per file (s):');
  const rows = lines.slice(1).map((l) => /^ +(\d+\.\d) {2}(.*)$/.exec(l)?.slice(1) ?? [l]);
  assert.deepEqual(
    rows.map((row) => row[1]),
    ['broken.test.mjs  (failed)', 'slow.test.mjs', 'all files'],
    r.stdout,
  );
  const [broken, slow, all] = rows.map((row) => Number(row[0]));
  assert.ok(slow! >= 0.4, `the file that waits 0.4 s took ${slow} s`);
  assert.ok(Math.abs(all! - broken! - slow!) <= 0.15, `the sum of the files: ${r.stdout}`);
});
