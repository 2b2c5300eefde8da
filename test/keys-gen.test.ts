import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, copyDir, DOCKER_CONFIGS, DOCKER_KEYS, REPO, snapshot, tempDir } from './helpers.js';
import { keysGen } from '../src/commands/keys.js';
import { captureOutput } from '../src/commands/output.js';
import { configColumns } from '../src/core/keys/keys-plan.js';
import { deriveEd25519Seed, deriveNode, ed25519PublicKey } from '../src/core/keys/derive.js';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { N } from '../src/core/keys/bn256.js';

const SEED = '5cbd325d0aa0f0e616720e946cd112ee7ac0109fb2e75e8d93e265958673f5c7';
const gen = (dir: string, ...args: string[]) =>
  cli(['keys', 'gen', '--dir', dir, '--configs', DOCKER_CONFIGS, ...args]); // its config.json: the default columns

test('the same seed gives the same files, byte for byte', async (t) => {
  const root = await tempDir(t);
  assert.equal((await gen(path.join(root, 'a'), '--n', '5', '--seed', SEED)).code, 0);
  assert.equal((await gen(path.join(root, 'b'), '--n', '5', '--seed', SEED)).code, 0);
  assert.deepEqual(await snapshot(path.join(root, 'a')), await snapshot(path.join(root, 'b')));
});

test('the shipped default committee is reproducible from its committed seed', async (t) => {
  const dir = path.join(await tempDir(t), 'keys');
  const seed = (await fs.readFile(path.join(REPO, 'keys/seed'), 'utf8')).trim();
  assert.equal(
    (await cli(['keys', 'gen', '--dir', dir, '--n', '8', '--seed', seed, '--configs', path.join(REPO, 'configs')]))
      .code,
    0,
  );
  // Contents only: git does not keep the 0600 modes of a checkout (keys gen restores them).
  assert.deepEqual(await snapshot(dir, false), await snapshot(path.join(REPO, 'keys'), false));
});

test('derived keys differ per node and the RMC scalar lies in [1, n)', () => {
  const seed = new Uint8Array(Buffer.from(SEED, 'hex'));
  const a = deriveNode(seed, 0);
  const b = deriveNode(seed, 1);
  assert.notDeepEqual(a.publicKey, b.publicKey);
  assert.notEqual(a.privateKey.rmcSecret, b.privateKey.rmcSecret);
  for (const node of [a, b]) assert.ok(node.privateKey.rmcSecret >= 1n && node.privateKey.rmcSecret < N);
});

test('ed25519 public keys by OpenSSL are the ones @noble/ed25519 derives', () => {
  ed.hashes.sha512 = sha512;
  const seed = new Uint8Array(Buffer.from(SEED, 'hex'));
  for (let pid = 0; pid < 50; pid++) {
    const edSeed = deriveEd25519Seed(seed, pid);
    assert.deepEqual(ed25519PublicKey(edSeed), ed.getPublicKey(edSeed));
  }
});

test('configColumns reads the Sync and SyncSetup lists, and nothing else', () => {
  assert.deepEqual(configColumns('{"Sync": [{}, {}, {}], "SyncSetup": [], "LevelLimit": "bad"}'), {
    sync: 3,
    syncSetup: 0,
  });
  assert.equal(configColumns('{"Sync": {}, "SyncSetup": []}'), undefined);
  assert.equal(configColumns('{"Sync": []'), undefined);
  assert.equal(configColumns('[1, 2]'), undefined);
  assert.equal(configColumns('null'), undefined);
});

test('keys gen takes its address columns from the config, and names a config it cannot read them from', async (t) => {
  const root = await tempDir(t);
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  await fs.writeFile(
    path.join(configs, 'two.json'),
    JSON.stringify({ Sync: [{ Type: 'gossip' }, { Type: 'fetch' }], SyncSetup: [{ Type: 'rmc' }] }),
  );
  await fs.writeFile(path.join(configs, 'bad.json'), '{"Sync": "gossip", "SyncSetup": []}');
  const ok = await cli([
    'keys',
    'gen',
    '--dir',
    path.join(root, 'k'),
    '--n',
    '4',
    '--configs',
    configs,
    '--config',
    'two',
  ]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(await fs.readFile(path.join(root, 'k/committee.ka'), 'utf8'), /\|node1:11000\|node1:9000 node1:10000\n/);
  const bad = await cli([
    'keys',
    'gen',
    '--dir',
    path.join(root, 'k2'),
    '--n',
    '4',
    '--configs',
    configs,
    '--config',
    'bad',
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /bad\.json:Sync: cannot take the address columns from it: expected array/);
});

test('B5: a config named with --config or --configs that is not there is exit 2 naming it, and no key changes', async (t) => {
  const root = await tempDir(t);
  const configs = path.join(root, 'configs');
  await copyDir(DOCKER_CONFIGS, configs);
  const keys = path.join(root, 'keys');
  assert.equal((await cli(['keys', 'gen', '--n', '8', '--keys', keys, '--configs', configs])).code, 0);
  const before = await snapshot(keys);
  const nowhere = path.join(root, 'nonexistent-folder');
  for (const [args, message] of [
    // a typo of g_m: before, the committee was resized to 9 with the default columns, exit 0
    [
      ['--n', '9', '--config', 'g_mm', '--configs', configs],
      `--config g_mm: there is no ${configs}/g_mm.json — choose one of the .json files in ${configs}`,
    ],
    [['--config', 'g_m', '--configs', nowhere], `--configs ${nowhere}: there is no such folder, so no g_m.json`],
    [['--n', '9', '--configs', nowhere], `--configs ${nowhere}: there is no such folder, so no config.json`],
    [
      ['--n', '9', '--config', 'g_mm', '--ports', '9000', '--setup-ports', ''],
      `--config g_mm: there is no configs/g_mm.json`,
    ],
  ] as const) {
    const r = await cli(['keys', 'gen', '--keys', keys, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.ok(r.err.includes(message), `${args.join(' ')}: ${r.err}`);
    assert.deepEqual(await snapshot(keys), before, `${args.join(' ')}: the committee is unchanged`);
  }
});

test('growing 8→16 keeps nodes 1..8 byte-identical; shrinking to 6 removes 7..16', async (t) => {
  const dir = path.join(await tempDir(t), 'keys');
  assert.equal((await gen(dir, '--n', '8')).code, 0);
  const before = await snapshot(dir);
  const grown = await gen(dir, '--n', '16');
  assert.equal(grown.code, 0, grown.err);
  assert.match(grown.out, /added node9\.\.node16; kept node1\.\.node8/);
  const after = await snapshot(dir);
  for (let pid = 0; pid < 8; pid++) assert.equal(after[`${pid}.pk`], before[`${pid}.pk`]);
  const lines16 = (await fs.readFile(path.join(dir, 'committee.ka'), 'utf8')).split('\n');
  assert.equal(lines16.length, 17);
  const shrunk = await gen(dir, '--n', '6');
  assert.match(shrunk.out, /kept node1\.\.node6; removed node7\.\.node16/);
  const files = (await fs.readdir(dir)).sort();
  assert.deepEqual(files, [
    '.gomelctl-history.json',
    '0.pk',
    '1.pk',
    '2.pk',
    '3.pk',
    '4.pk',
    '5.pk',
    'committee.ka',
    'seed',
  ]);
  // The committee's own history: its size before this resize, for config sync.
  assert.deepEqual(JSON.parse(await fs.readFile(path.join(dir, '.gomelctl-history.json'), 'utf8')), {
    size: 6,
    previousSize: 16,
  });
  assert.deepEqual(
    (await fs.readFile(path.join(dir, 'committee.ka'), 'utf8')).split('\n').slice(0, 6),
    lines16.slice(0, 6),
  );
  assert.equal((await cli(['keys', 'verify', '--dir', dir])).code, 0);
});

test("growing a committee made by gomel's own generator keeps its keys", async (t) => {
  const dir = path.join(await tempDir(t), 'keys');
  await copyDir(DOCKER_KEYS, dir);
  const before = await snapshot(dir);
  const r = await gen(dir, '--n', '10');
  assert.equal(r.code, 0, r.err);
  const after = await snapshot(dir);
  for (let pid = 0; pid < 8; pid++)
    assert.equal(after[`${pid}.pk`]!.split(':')[1], before[`${pid}.pk`]!.split(':')[1], 'same bytes');
  assert.equal(after['addresses'], before['addresses'], 'unmanaged files are carried over');
  assert.equal((await cli(['keys', 'verify', '--dir', dir])).code, 0);
});

test('private keys and seed are 0600, the folder 0700', async (t) => {
  const dir = path.join(await tempDir(t), 'keys');
  await gen(dir, '--n', '4');
  assert.equal((await fs.stat(dir)).mode & 0o777, 0o700);
  for (const f of ['0.pk', '3.pk', 'seed']) assert.equal((await fs.stat(path.join(dir, f))).mode & 0o777, 0o600, f);
  assert.equal((await fs.stat(path.join(dir, 'committee.ka'))).mode & 0o777, 0o644);
});

test('keys gen tightens private files a checkout left readable (git keeps no 0600), without touching their bytes', async (t) => {
  const dir = path.join(await tempDir(t), 'keys');
  await gen(dir, '--n', '4');
  const before = await snapshot(dir, false);
  for (const f of ['0.pk', '2.pk', 'seed']) await fs.chmod(path.join(dir, f), 0o644);
  await fs.chmod(dir, 0o755);
  const warned = await cli(['keys', 'verify', '--dir', dir]);
  assert.equal(warned.code, 0);
  assert.match(warned.err, /3 private file\(s\) readable by others .* `gomelctl keys gen` restores 0600/);
  const r = await gen(dir);
  assert.match(r.out, /tightened .*0\.pk, 2\.pk, seed to 0600/);
  for (const f of ['0.pk', '2.pk', 'seed']) assert.equal((await fs.stat(path.join(dir, f))).mode & 0o777, 0o600);
  assert.equal((await fs.stat(dir)).mode & 0o777, 0o700);
  assert.deepEqual(await snapshot(dir, false), before);
  assert.equal((await cli(['keys', 'verify', '--dir', dir])).err, '');
});

test('new addresses keep the keys; another seed needs --regenerate', async (t) => {
  const dir = path.join(await tempDir(t), 'keys');
  await gen(dir, '--n', '4', '--seed', SEED);
  const before = await snapshot(dir);
  const r = await gen(dir, '--ports', '7000,7001', '--host-prefix', 'aleph-');
  assert.match(r.out, /new addresses for node1\.\.node4/);
  const after = await snapshot(dir);
  for (let pid = 0; pid < 4; pid++) assert.equal(after[`${pid}.pk`], before[`${pid}.pk`]);
  assert.match(await fs.readFile(path.join(dir, 'committee.ka'), 'utf8'), /\|\|aleph-1:7000 aleph-1:7001\n/);

  const other = 'ab'.repeat(32);
  const refused = await gen(dir, '--seed', other);
  assert.equal(refused.code, 2);
  assert.match(refused.err, /holds another committee seed.*--regenerate/);
  const regenerated = await gen(dir, '--seed', other, '--regenerate');
  assert.match(regenerated.out, /regenerated node1\.\.node4/);
  assert.notEqual((await snapshot(dir))['0.pk'], after['0.pk']);
});

test('--addresses takes per-node addresses in gomel generator format', async (t) => {
  const root = await tempDir(t);
  const file = path.join(root, 'addrs');
  await fs.writeFile(file, ['a:1 a:2|a:3', 'b:1 b:2|b:3', 'c:1 c:2|c:3', 'd:1 d:2|d:3'].join('\n') + '\n');
  const r = await gen(path.join(root, 'keys'), '--addresses', file);
  assert.equal(r.code, 0, r.err);
  assert.match(await fs.readFile(path.join(root, 'keys/committee.ka'), 'utf8'), /\|c:1 c:2\|c:3\n/);
});

test('address columns follow the Sync list of --config', async (t) => {
  const root = await tempDir(t);
  await fs.mkdir(path.join(root, 'configs'));
  await fs.copyFile(path.join(REPO, 'configs/g_m.json'), path.join(root, 'configs/g_m.json'));
  const r = await cli([
    'keys',
    'gen',
    '--n',
    '4',
    '--dir',
    path.join(root, 'keys'),
    '--configs',
    path.join(root, 'configs'),
    '--config',
    'g_m',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(await fs.readFile(path.join(root, 'keys/committee.ka'), 'utf8'), /\|\|node4:9000 node4:10000\n$/);
});

test('a crash between writing and renaming leaves the old committee readable and verifiable', async (t) => {
  const dir = path.join(await tempDir(t), 'keys');
  await gen(dir, '--n', '4');
  const before = await snapshot(dir);
  const crash = new Error('injected crash');
  await assert.rejects(
    keysGen({ n: 9, dir, hostPrefix: 'node', config: 'config', configs: DOCKER_CONFIGS }, captureOutput(), {
      beforeSwap: () => {
        throw crash;
      },
    }),
    crash,
  );
  assert.deepEqual(await snapshot(dir), before);
  assert.deepEqual((await fs.readdir(path.dirname(dir))).sort(), ['keys'], 'no temporary folder left behind');
  assert.equal((await cli(['keys', 'verify', '--dir', dir])).code, 0);
});

test('a folder left aside between the two renames is restored on the next run', async (t) => {
  const root = await tempDir(t);
  const dir = path.join(root, 'keys');
  await gen(dir, '--n', '4');
  const before = await snapshot(dir);
  await fs.rename(dir, path.join(root, '.keys.old-123456')); // as if killed between the renames
  const r = await cli(['keys', 'verify', '--dir', dir]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(await snapshot(dir), before);
});

for (const [args, message] of [
  [['--n', '3'], /--n 3: gomel needs at least 4 nodes/],
  [['--n', 'abc'], /--n abc: expected a whole number/],
  [['--n', '70000'], /--n 70000: gomel's pids are 16-bit/],
  [['--ports', '9000,70000'], /--ports 9000,70000: "70000" is not a port/],
  [['--ports', '9000,9000'], /a port is listed twice/],
  [['--host-prefix', 'node_'], /--host-prefix "node_": must start with a letter/],
  [['--host-prefix', '1node'], /--host-prefix "1node"/],
  [['--seed', 'xyz'], /--seed: expected 64 hex digits/],
] as const) {
  test(`keys gen ${args.join(' ')} exits 2 with one line and changes nothing`, async (t) => {
    const dir = path.join(await tempDir(t), 'keys');
    await gen(dir, '--n', '4');
    const before = await snapshot(dir);
    const r = await gen(dir, ...args);
    assert.equal(r.code, 2);
    assert.match(r.err, message);
    assert.equal(r.err.split('\n').length, 1);
    assert.deepEqual(await snapshot(dir), before);
  });
}

test('keys show prints public fingerprints only', async (t) => {
  const dir = path.join(await tempDir(t), 'keys');
  await gen(dir, '--n', '4');
  const r = await cli(['keys', 'show', '--dir', dir, '--json']);
  const rows = JSON.parse(r.out) as { pid: number; host: string }[];
  assert.deepEqual(
    rows.map((x) => x.host),
    ['node1', 'node2', 'node3', 'node4'],
  );
  for (let pid = 0; pid < 4; pid++) {
    const secret = (await fs.readFile(path.join(dir, `${pid}.pk`), 'utf8')).split(' ');
    assert.ok(!r.out.includes(secret[0]!) && !r.out.includes(secret[1]!));
  }
});

test('derivation is pinned: the same seed gives byte-identical committees (70 nodes on worker threads, 100 with a resize)', async (t) => {
  const root = await tempDir(t);
  const hashOf = async (dir: string, n: number) => {
    const { createHash } = await import('node:crypto');
    const committee = createHash('sha256')
      .update(await fs.readFile(path.join(dir, 'committee.ka')))
      .digest('hex');
    const keys = createHash('sha256');
    for (let pid = 0; pid < n; pid++) keys.update(await fs.readFile(path.join(dir, `${pid}.pk`)));
    return [committee, keys.digest('hex')];
  };
  // Hashes of what gomelctl wrote before the fixed-base table changed (a hash, so no key reaches a log).
  const seventy = path.join(root, 'k70');
  assert.equal(
    (await cli(['keys', 'gen', '--n', '70', '--keys', seventy, '--configs', DOCKER_CONFIGS, '--seed', '22'.repeat(32)]))
      .code,
    0,
  );
  assert.deepEqual(await hashOf(seventy, 70), [
    '19f6b087df307b7598f2a1cd88f334813bdb3d46d0cb54c0db30056d7c8503bf',
    'ce5258ab491a3a7c113db337adf76c7425649ab00402ebb5899eb2cd5b1da084',
  ]);
  const hundred = path.join(root, 'k100');
  assert.equal(
    (await cli(['keys', 'gen', '--n', '40', '--keys', hundred, '--configs', DOCKER_CONFIGS, '--seed', '11'.repeat(32)]))
      .code,
    0,
  );
  assert.equal((await cli(['keys', 'gen', '--n', '100', '--keys', hundred, '--configs', DOCKER_CONFIGS])).code, 0);
  assert.deepEqual(await hashOf(hundred, 100), [
    '1c3ce9e27b0abc6b249e2584e8402b542458358d16f02d5668b3889c54c69af7',
    '221846fbfbe5aebfc58c520be96b7084e00b56d551f96a13908f04d3f8397979',
  ]);
});

test('keys verify of a large committee (its keys checked on worker threads) names the one member file that does not match', async (t) => {
  const dir = path.join(await tempDir(t), 'keys');
  assert.equal((await gen(dir, '--n', '520', '--seed', SEED)).code, 0);
  assert.equal((await cli(['keys', 'verify', '--keys', dir])).code, 0);
  // 517.pk gets the RMC secret of 3.pk: a valid scalar, the wrong key for its line.
  const fields = async (pid: number) => (await fs.readFile(path.join(dir, `${pid}.pk`), 'utf8')).trim().split(' ');
  const [signing, , pid] = await fields(517);
  await fs.writeFile(path.join(dir, '517.pk'), `${signing} ${(await fields(3))[1]} ${pid}\n`);
  const r = await cli(['keys', 'verify', '--keys', dir]);
  assert.equal(r.code, 1);
  assert.match(r.err, /committee\.ka:518: RMC verification key does not match .*517\.pk/);
});
