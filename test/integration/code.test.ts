// `--code`: gomel compiled at build time from a GOPATH checkout, on the local Go
// builder image (docker/setup.sh; golang:1.13 cannot be pulled here). The checkout
// is a stand-in with gomel's command-line contract (test/fixtures/gomel-gopath).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers.js';
import { keysFlags, projectFlags, sandbox } from './helpers.js';

const GOPATH = path.join(REPO, 'test/fixtures/gomel-gopath');
const MAIN = 'src/gitlab.com/alephledger/consensus-go/cmd/gomel/main.go';

test('up --code compiles the checkout into the image and runs a 4-node committee with it', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const logs = path.join(s.root, 'logs');
  const r = await s.run(['up', '--code', GOPATH, ...projectFlags(s), '--network', s.network, '--subnet', s.subnet, '--tag', s.tag, '--logs', logs, '--timeout', '180']);
  assert.match(r.err, /build: .* built/);
  assert.match(r.out, /^consensus reached by all 4 nodes \(4 units in the same order\)$/m);
  assert.match(r.out, /^shutdown: clean on all 4 nodes$/m);
  // What the run measured: the report beside the logs, its headline at the end of the verdict.
  assert.match(r.out, /^up: consensus reached by all 4 nodes \(4 units in the same order\) — 4 units in \d+\.\d s, \d+ units\/s, start skew \d\.\d\d s$/m);
  assert.match(await fs.readFile(path.join(logs, 'report.html'), 'utf8'), /<svg /);
  // The log was written by the compiled stand-in (its genesis line), not by a script.
  assert.match(await fs.readFile(path.join(logs, `${s.prefix}1`, '0.config.log'), 'utf8'), /"genesis":"standin"/);
});

test('image rebuild --code with a package missing from the GOPATH fails with one line naming it', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const code = path.join(s.root, 'gopath');
  await fs.cp(GOPATH, code, { recursive: true });
  const main = path.join(code, MAIN);
  await fs.writeFile(main, (await fs.readFile(main, 'utf8')).replace('import (', 'import (\n\t_ "github.com/rs/zerolog"'));
  const r = await s.run(['image', 'rebuild', '--code', code, '--tag', s.tag, ...projectFlags(s)], 1);
  const last = r.err.split('\n').pop()!;
  assert.match(last, /^gomelctl: .*gopath: the GOPATH of --code lacks Go package github\.com\/rs\/zerolog \(put it under src\/ in the --code folder/);
  assert.doesNotMatch(r.err, /in any of:|\(from \$GOROOT\)/, 'not a page of Go output');
});
