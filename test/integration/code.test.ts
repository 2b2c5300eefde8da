// `--code`: gomel compiled at build time from a GOPATH checkout, on the local Go
// builder image (docker/setup.sh; golang:1.13 cannot be pulled here). The checkout
// is a stand-in with gomel's command-line contract (test/fixtures/gomel-gopath),
// with a stand-in github.com/cloudflare/bn256 that offers only what gomelctl's
// known-answer check calls (G2.Unmarshal): no consensus-go or bn256 code here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers.js';
import { imageFiles, keysFlags, projectFlags, upFlags, sandbox } from './helpers.js';

const GOPATH = path.join(REPO, 'test/fixtures/gomel-gopath');
const MAIN = 'src/gitlab.com/alephledger/consensus-go/cmd/gomel/main.go';
const CONSENSUS = path.join(GOPATH, 'src/gitlab.com/alephledger/consensus-go');
const BN256 = path.join(GOPATH, 'src/github.com/cloudflare/bn256');

/** `git clone` of both, side by side: work/consensus-go and work/bn256 (stand-ins). */
async function plainCheckouts(root: string): Promise<string> {
  const work = path.join(root, 'work');
  await fs.cp(CONSENSUS, path.join(work, 'consensus-go'), { recursive: true });
  await fs.cp(BN256, path.join(work, 'bn256'), { recursive: true });
  return work;
}

test('up --code compiles the checkout into the image and runs a 4-node committee with it', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const logs = path.join(s.root, 'logs');
  const r = await s.run(['up', '--code', GOPATH, ...upFlags(s, logs), '--timeout', '180']);
  assert.match(r.err, /build: .* built/);
  assert.match(r.out, /^consensus reached by all 4 nodes \(4 units in the same order\)$/m);
  assert.match(r.out, /^shutdown: clean on all 4 nodes$/m);
  // What the run measured: the report beside the logs, its headline at the end of the verdict.
  assert.match(
    r.out,
    /^up: consensus reached by all 4 nodes \(4 units in the same order\) — 4 units in \d+\.\d s, \d+ units\/s, \d+ tx\/s \([\d.]+ [KMG]?B\/s payload\), start skew \d\.\d\d s$/m,
  );
  assert.match(await fs.readFile(path.join(logs, 'report.html'), 'utf8'), /<svg /);
  // The log was written by the compiled stand-in (its genesis line), not by a script.
  assert.match(await fs.readFile(path.join(logs, `${s.prefix}1`, '0.config.log'), 'utf8'), /"genesis":"standin"/);
});

test('image rebuild --code with a package missing from the GOPATH and from Debian fails with one line naming it', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const code = path.join(s.root, 'gopath');
  await fs.cp(GOPATH, code, { recursive: true });
  const main = path.join(code, MAIN);
  await fs.writeFile(
    main,
    (await fs.readFile(main, 'utf8')).replace('import (', 'import (\n\t_ "example.org/gomelctl/not-packaged"'),
  );
  const r = await s.run(['image', 'rebuild', '--code', code, '--tag', s.tag, ...projectFlags(s)], 1);
  const last = r.err.split('\n').pop()!;
  assert.match(
    last,
    /^gomelctl: .*gopath: the GOPATH of --code lacks Go package example\.org\/gomelctl\/not-packaged \(the Go builder has Debian's zerolog and golang\.org\/x\/crypto; put any other package under src\/ of a GOPATH folder given as --code\)$/,
  );
  assert.doesNotMatch(r.err, /in any of:|\(from \$GOROOT\)/, 'not a page of Go output');
});

test('image rebuild --code: plain checkouts side by side build gomel, with what it imports from Debian (zerolog, x/crypto) on the Go builder', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const work = await plainCheckouts(s.root);
  // gomel's own imports besides bn256: the builder must carry them (docker/setup.sh), the user brings none.
  const main = path.join(work, 'consensus-go/cmd/gomel/main.go');
  await fs.writeFile(
    main,
    (await fs.readFile(main, 'utf8')).replace(
      'import (',
      'import (\n\t_ "github.com/rs/zerolog"\n\t_ "golang.org/x/crypto/nacl/sign"\n\t_ "golang.org/x/crypto/sha3"',
    ),
  );
  const r = await s.run([
    'image',
    'rebuild',
    '--code',
    path.join(work, 'consensus-go'),
    '--tag',
    s.tag,
    ...projectFlags(s),
  ]);
  assert.match(r.err, /build: .* built/);
  assert.ok((await imageFiles(s.tag)).includes('gomel/bin/gomel'));
  // The same checkouts given as the folder holding both, or with --bn256, lay out the same context: nothing to rebuild.
  assert.match(
    (await s.run(['image', 'rebuild', '--code', work, '--tag', s.tag, ...projectFlags(s)])).err,
    /is up to date/,
  );
  assert.match(
    (
      await s.run([
        'image',
        'rebuild',
        '--code',
        path.join(work, 'consensus-go'),
        '--bn256',
        path.join(work, 'bn256'),
        '--tag',
        s.tag,
        ...projectFlags(s),
      ])
    ).err,
    /is up to date/,
  );
});

test('image rebuild --code with a bn256 that fails the known-answer check stops before gomel is built, with one line naming the commit', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const work = await plainCheckouts(s.root);
  // The stand-in's rule now refuses the 0x01-prefixed encoding of gomel 2019's keys, as bn256 before 2017-09 did.
  const bn256 = path.join(work, 'bn256/bn256.go');
  await fs.writeFile(
    bn256,
    (await fs.readFile(bn256, 'utf8')).replace('const pointMarker = 0x01', 'const pointMarker = 0x02'),
  );
  const r = await s.run(
    ['image', 'rebuild', '--code', path.join(work, 'consensus-go'), '--tag', s.tag, ...projectFlags(s)],
    1,
  );
  const last = r.err.split('\n').pop()!;
  assert.equal(
    last,
    `gomelctl: ${path.join(work, 'bn256')}: --code: github.com/cloudflare/bn256 cannot decode gomel's keys (a known G2 key written by gomel-keys fails to unmarshal); use commit 828ba4f (2019-05-23)`,
  );
  assert.doesNotMatch(r.err, /build: .* built/);
});
