import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { cli, REPO, tempDir } from './helpers.js';
import { assembleContext } from '../src/commands/image.js';
import { readTar } from '../src/docker/build-context.js';
import { renderTemplate } from '../src/core/image/context.js';

const base = { keys: path.join(REPO, 'keys'), configs: path.join(REPO, 'configs'), registry: '127.0.0.1:5000' };

test('probe context: files, modes and layer order; no private key by default', async () => {
  const { tar } = await assembleContext(base);
  const entries = await readTar(tar);
  const names = entries.map((e) => e.name);
  assert.deepEqual(names.slice(0, 4), ['Dockerfile', 'payload/answer.sh', 'run.sh', 'node-lib.sh']);
  assert.deepEqual(
    names.filter((n) => n.startsWith('configs/')),
    [
      'configs/config.json',
      'configs/g.json',
      'configs/g_m.json',
      'configs/g_m-f.json',
      'configs/g_m-g.json',
      'configs/m-f.json',
      'configs/m-rf.json',
    ],
  );
  assert.equal(names[names.length - 1], 'keys/committee.ka');
  assert.ok(!names.some((n) => n.endsWith('.pk') || n.endsWith('seed')), 'no private material');
  const mode = (n: string) => entries.find((e) => e.name === n)!.mode & 0o777;
  assert.equal(mode('run.sh'), 0o755);
  assert.equal(mode('payload/answer.sh'), 0o755);
  assert.equal(mode('keys/committee.ka'), 0o644);
  const dockerfile = entries[0]!.content.toString();
  assert.match(dockerfile, /^FROM gomelctl\/base:busybox$/m);
  // Layer order in the Dockerfile: payload, run.sh, configs, committee.
  const order = ['COPY payload/', 'COPY run.sh', 'COPY configs/', 'COPY keys/'].map((s) => dockerfile.indexOf(s));
  assert.deepEqual(
    [...order].sort((a, b) => a - b),
    order,
  );
  assert.ok(order.every((i) => i > 0));
});

test('the same inputs give a byte-identical tar; a resized committee changes only its own entry', async (t) => {
  const a = await assembleContext(base);
  const b = await assembleContext(base);
  assert.ok(a.tar.equals(b.tar));
  const keys = path.join(await tempDir(t), 'keys');
  await fs.cp(base.keys, keys, { recursive: true });
  const committee = path.join(keys, 'committee.ka');
  await fs.writeFile(committee, (await fs.readFile(committee, 'utf8')).split('\n').slice(0, 7).join('\n') + '\n');
  await fs.rm(path.join(keys, '7.pk'));
  const c = await assembleContext({ ...base, keys });
  const [ea, ec] = [await readTar(a.tar), await readTar(c.tar)];
  const differing = ea.filter((e, i) => !e.content.equals(ec[i]!.content)).map((e) => e.name);
  assert.deepEqual(differing, ['keys/committee.ka']);
});

test('--bake-keys adds every <pid>.pk after the committee', async () => {
  const entries = await readTar((await assembleContext({ ...base, bakeKeys: true })).tar);
  const keys = entries.filter((e) => e.name.startsWith('keys/')).map((e) => e.name);
  assert.deepEqual(keys, ['keys/committee.ka', ...Array.from({ length: 8 }, (_, i) => `keys/${i}.pk`)]);
});

test('--binary: the binary is the payload, with the gomel run.sh', async (t) => {
  const bin = path.join(await tempDir(t), 'gomel');
  await fs.writeFile(bin, '#!/bin/sh\n', { mode: 0o755 });
  const entries = await readTar((await assembleContext({ ...base, binary: bin })).tar);
  assert.equal(entries[1]!.name, 'payload/gomel');
  assert.equal(entries[1]!.mode & 0o777, 0o755);
  assert.match(
    entries.find((e) => e.name === 'run.sh')!.content.toString(),
    /COMMITTEE=\/gomel\/keys\/committee\.ka\n[^]*--keys_addrs "\$COMMITTEE"/,
  );
});

test('missing payloads and unknown placeholders are clear errors', async (t) => {
  await assert.rejects(assembleContext({ ...base, binary: '/nonexistent/gomel' }), /no such gomel binary/);
  await assert.rejects(
    assembleContext({ ...base, code: await tempDir(t) }),
    /not a consensus-go checkout \(no cmd\/gomel and pkg\/\)/,
  );
  assert.throws(() => renderTemplate('FROM {{NOPE}}', {}), /\{\{NOPE\}\} has no value/);
});

// --code layouts. Small fake trees only: the stand-in GOPATH of test/fixtures/gomel-gopath
// (its consensus-go and its stand-in bn256), never real consensus-go or bn256 code.
const FIXTURE = path.join(REPO, 'test/fixtures/gomel-gopath');
const STANDIN_CONSENSUS = path.join(FIXTURE, 'src/gitlab.com/alephledger/consensus-go');
const STANDIN_BN256 = path.join(FIXTURE, 'src/github.com/cloudflare/bn256');
const payloadNames = async (options: Parameters<typeof assembleContext>[0]) =>
  (await readTar((await assembleContext(options)).tar)).filter((e) => e.name.startsWith('payload/')).map((e) => e.name);
const GOPATH_NAMES = [
  'payload/src/github.com/cloudflare/bn256/bn256.go',
  'payload/src/gitlab.com/alephledger/consensus-go/cmd/gomel/main.go',
  'payload/src/gitlab.com/alephledger/consensus-go/pkg/standin/standin.go',
];

/** A plain checkout laid out as `git clone` leaves it: work/consensus-go (with a .git) and work/bn256. */
async function sideBySide(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const work = path.join(await tempDir(t), 'work');
  await fs.cp(STANDIN_CONSENSUS, path.join(work, 'consensus-go'), { recursive: true });
  await fs.cp(STANDIN_BN256, path.join(work, 'bn256'), { recursive: true });
  await fs.mkdir(path.join(work, 'consensus-go/.git'));
  await fs.writeFile(path.join(work, 'consensus-go/.git/HEAD'), 'e8d0088\n');
  return work;
}

test('--code: a plain checkout with --bn256, beside ../bn256, or a folder holding both: gomelctl lays out the same GOPATH', async (t) => {
  const work = await sideBySide(t);
  assert.deepEqual(await payloadNames({ ...base, code: STANDIN_CONSENSUS, bn256: STANDIN_BN256 }), GOPATH_NAMES);
  assert.deepEqual(
    await payloadNames({ ...base, code: path.join(work, 'consensus-go') }),
    GOPATH_NAMES,
    '../bn256 found beside, .git left out',
  );
  assert.deepEqual(await payloadNames({ ...base, code: work }), GOPATH_NAMES);
  // The old GOPATH layout goes in as it is, byte for byte.
  const a = await assembleContext({ ...base, code: FIXTURE });
  const b = await assembleContext({ ...base, code: work });
  assert.ok(a.tar.equals(b.tar), 'the same GOPATH whichever way it was given');
});

test("--code: the build context carries the bn256 check before the payload, and builds on Debian's gocode", async () => {
  const entries = await readTar(
    (await assembleContext({ ...base, code: STANDIN_CONSENSUS, bn256: STANDIN_BN256 })).tar,
  );
  assert.deepEqual(
    entries.slice(0, 2).map((e) => e.name),
    ['Dockerfile', 'bn256-check.go'],
  );
  const check = entries[1]!.content.toString();
  // The check uses only G2.Unmarshal (what the stand-in offers) on a key from the vectors.
  assert.match(check, /new\(bn256\.G2\)\.Unmarshal\(data\)/);
  assert.doesNotMatch(check.replace(/new\(bn256\.G2\)\.Unmarshal/, ''), /bn256\.\w/);
  const vector = (
    await fs.readFile(path.join(REPO, 'test/vectors/gomel-2019-09/docker-distributed/keys/committee.ka'), 'utf8')
  )
    .split('\n')[0]!
    .split('|')[1]!;
  assert.ok(check.includes(`"${vector}"`));
  const dockerfile = entries[0]!.content.toString();
  assert.match(dockerfile, /^ENV GOPATH=\/go:\/usr\/share\/gocode /m);
  assert.ok(dockerfile.indexOf('COPY bn256-check.go') < dockerfile.indexOf('COPY payload/'));
  assert.ok(
    dockerfile.indexOf('/tmp/bn256-check ||') < dockerfile.indexOf('./cmd/gomel'),
    'the check runs before gomel is built',
  );
  for (const said of dockerfile.match(/echo "gomelctl: [^"]*"/g)!) assert.doesNotMatch(said, /\\n/, 'one line each');
});

test("--code GOPATH with --bn256: the given bn256 replaces the GOPATH's own", async (t) => {
  const other = path.join(await tempDir(t), 'bn256');
  await fs.mkdir(other);
  await fs.writeFile(path.join(other, 'bn256.go'), '// a different stand-in\npackage bn256\n');
  const entries = await readTar((await assembleContext({ ...base, code: FIXTURE, bn256: other })).tar);
  const bn256 = entries.filter((e) => e.name.includes('cloudflare/bn256'));
  assert.deepEqual(
    bn256.map((e) => [e.name, e.content.toString()]),
    [['payload/src/github.com/cloudflare/bn256/bn256.go', '// a different stand-in\npackage bn256\n']],
  );
});

test('--code refusals: one line naming the folder and the fix; exit 2 for bad flags, 1 for a bad folder', async (t) => {
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = 'unix:///nonexistent/gomelctl-test-engine.sock'; // refused before any engine is asked
  t.after(() => (saved === undefined ? delete process.env.DOCKER_HOST : (process.env.DOCKER_HOST = saved)));
  const dir = await tempDir(t);
  const lone = path.join(dir, 'lone/consensus-go');
  await fs.cp(STANDIN_CONSENSUS, lone, { recursive: true });
  const notBn256 = path.join(dir, 'not-bn256');
  await fs.mkdir(notBn256);
  const project = ['--keys', base.keys, '--configs', base.configs];
  const cases: { args: string[]; code: number; says: RegExp }[] = [
    {
      args: ['--code', dir],
      code: 1,
      says: new RegExp(
        `^gomelctl: ${dir}: not a consensus-go checkout \\(no cmd/gomel and pkg/\\).* — pass a consensus-go checkout at e8d0088`,
      ),
    },
    {
      args: ['--code', lone],
      code: 1,
      says: new RegExp(
        `^gomelctl: ${lone}: --code: no github\\.com/cloudflare/bn256 — pass --bn256 DIR \\(a checkout at 828ba4f\\)$`,
      ),
    },
    {
      args: ['--code', lone, '--bn256', notBn256],
      code: 1,
      says: new RegExp(
        `^gomelctl: ${notBn256}: not a github\\.com/cloudflare/bn256 checkout \\(no bn256\\.go\\) — pass --bn256 DIR`,
      ),
    },
    {
      args: ['--code', lone, '--bn256', path.join(dir, 'nope')],
      code: 2,
      says: /^gomelctl: --bn256 .*nope: no such folder — pass --bn256 DIR \(a checkout at 828ba4f\)$/,
    },
    {
      args: ['--code', path.join(dir, 'nope')],
      code: 2,
      says: /^gomelctl: --code .*nope: no such folder — pass a consensus-go checkout/,
    },
    { args: ['--bn256', STANDIN_BN256], code: 2, says: /^gomelctl: --bn256 goes with --code/ },
  ];
  for (const c of cases) {
    const r = await cli(['image', 'rebuild', ...project, ...c.args]);
    assert.equal(r.code, c.code, `${c.args.join(' ')}: ${r.err}`);
    assert.equal(r.err.split('\n').length, 1, r.err);
    assert.match(r.err, c.says);
  }
});
