// A clone is enough: no test, source or bench file reads anything outside the repository.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO } from './helpers.js';

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'vectors' && e.name !== 'node_modules') out.push(...(await sourceFiles(p)));
    else if (e.isFile() && /\.(ts|sh)$/.test(e.name)) out.push(p);
  }
  return out;
}

test('no file under src/, test/, bench/ or scripts/ refers to a folder beside the repository', async () => {
  // Built from parts so that this file does not match itself.
  const outside = new RegExp(['\\.\\./sh', 'ared|/work/sh', 'ared'].join(''));
  const files = (
    await Promise.all(['src', 'test', 'bench', 'scripts'].map((d) => sourceFiles(path.join(REPO, d))))
  ).flat();
  assert.ok(files.length > 20, 'found the sources');
  const offenders = [];
  for (const f of files) if (outside.test(await fs.readFile(f, 'utf8'))) offenders.push(path.relative(REPO, f));
  assert.deepEqual(offenders, []);
});

test('the vectors the tests use are in the repository', async () => {
  for (const rel of [
    'docker-distributed/keys/committee.ka',
    'logs/swarm-8/node2/stderr.txt',
    'logs/success-4/0.log.gz',
    'testdata/test_pk.txt',
  ]) {
    await fs.access(path.join(REPO, 'test/vectors/gomel-2019-09', rel));
  }
});
