// Vectors: files written by gomel's own tools (test/vectors/gomel-2019-09).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, copyDir, DOCKER_KEYS, tempDir, VECTORS } from './helpers.js';
import { encodeG2, G2_GENERATOR } from '../src/core/keys/bn256.js';
import { decodeG2 } from '../src/core/keys/g2.js';
import { parseCommittee } from '../src/core/keys/committee.js';

test('keys verify accepts the docker-distributed committee and its 8 member files', async () => {
  const r = await cli(['keys', 'verify', '--dir', DOCKER_KEYS]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /8 nodes, 3 address and 0 setup-address columns/);
});

test('keys verify accepts gomel testdata (4 nodes, setup columns, one member file)', async () => {
  const r = await cli([
    'keys',
    'verify',
    '--committee',
    path.join(VECTORS, 'testdata/test_committee.txt'),
    '--pk',
    path.join(VECTORS, 'testdata/test_pk.txt'),
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /4 nodes, 2 address and 2 setup-address columns; 1 member file/);
});

test('the G2 codec round-trips every verification key of the vectors', async () => {
  for (const file of [path.join(DOCKER_KEYS, 'committee.ka'), path.join(VECTORS, 'testdata/test_committee.txt')]) {
    for (const m of parseCommittee(await fs.readFile(file, 'utf8'), file)) {
      assert.deepEqual(encodeG2(decodeG2(m.verificationKey)), m.verificationKey);
    }
  }
  assert.deepEqual(decodeG2(encodeG2(G2_GENERATOR)), G2_GENERATOR);
});

// Each tampering of a copy of the docker-distributed keys, and what the error must name.
const tamperings: { name: string; apply: (dir: string) => Promise<void>; expect: RegExp }[] = [
  {
    name: 'a flipped byte in a private key',
    apply: async (dir) => {
      const file = path.join(dir, '3.pk');
      const [sk, rmc, pid] = (await fs.readFile(file, 'utf8')).trim().split(' ') as [string, string, string];
      const bytes = Buffer.from(rmc, 'base64');
      bytes[5] = bytes[5]! ^ 0x01;
      await fs.writeFile(file, `${sk} ${bytes.toString('base64')} ${pid}\n`);
    },
    expect: /committee\.ka:4: RMC verification key does not match .*3\.pk/,
  },
  {
    name: 'a flipped byte in a signing seed',
    apply: async (dir) => {
      const file = path.join(dir, '2.pk');
      const [sk, rmc, pid] = (await fs.readFile(file, 'utf8')).trim().split(' ') as [string, string, string];
      const bytes = Buffer.from(sk, 'base64');
      bytes[0] = bytes[0]! ^ 0x80;
      await fs.writeFile(file, `${bytes.toString('base64')} ${rmc} ${pid}\n`);
    },
    expect: /2\.pk:1: signing private key is corrupt/,
  },
  {
    name: 'two swapped committee lines',
    apply: async (dir) => {
      const file = path.join(dir, 'committee.ka');
      const lines = (await fs.readFile(file, 'utf8')).split('\n');
      [lines[0], lines[1]] = [lines[1]!, lines[0]!];
      await fs.writeFile(file, lines.join('\n'));
    },
    expect: /committee\.ka:1: signing public key does not match .*0\.pk/,
  },
  { name: 'a missing member file', apply: (dir) => fs.rm(path.join(dir, '5.pk')), expect: /missing member file 5\.pk/ },
  {
    name: 'bad base64',
    apply: async (dir) => {
      const file = path.join(dir, 'committee.ka');
      await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace(/^(.{10})./m, '$1*'));
    },
    expect: /committee\.ka:1: signing public key is not valid base64/,
  },
  {
    name: 'an off-curve verification key',
    apply: async (dir) => {
      const file = path.join(dir, 'committee.ka');
      const lines = (await fs.readFile(file, 'utf8')).split('\n');
      const fields = lines[6]!.split('|');
      const vk = Buffer.from(fields[1]!, 'base64');
      vk[128] = vk[128]! ^ 0x01; // y.real's last byte
      fields[1] = vk.toString('base64');
      lines[6] = fields.join('|');
      await fs.writeFile(file, lines.join('\n'));
    },
    expect: /committee\.ka:7: RMC verification key invalid: not a point of the BN256 G2 group/,
  },
  {
    name: 'a 3-line committee',
    apply: async (dir) => {
      const file = path.join(dir, 'committee.ka');
      await fs.writeFile(file, (await fs.readFile(file, 'utf8')).split('\n').slice(0, 3).join('\n') + '\n');
      for (const pid of [3, 4, 5, 6, 7]) await fs.rm(path.join(dir, `${pid}.pk`));
    },
    expect: /committee has 3 members, gomel needs at least 4/,
  },
  {
    name: 'inconsistent address columns',
    apply: async (dir) => {
      const file = path.join(dir, 'committee.ka');
      await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace(' node3:11000', ''));
    },
    expect: /committee\.ka:3: 0 setup and 2 address columns, line 1 has 0 and 3/,
  },
];

for (const t of tamperings) {
  test(`keys verify rejects ${t.name}, naming file and line`, async (ctx) => {
    const dir = path.join(await tempDir(ctx), 'keys');
    await copyDir(DOCKER_KEYS, dir);
    await t.apply(dir);
    const r = await cli(['keys', 'verify', '--dir', dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, t.expect);
    assert.equal(r.err.split('\n').length, 1, 'one line');
    assert.doesNotMatch(r.err, /[A-Za-z0-9+/]{40,}/, 'no key material in the message');
  });
}

test('an address field gomel would misread (double, leading or trailing space) is refused with its line', async (t) => {
  const dir = await tempDir(t);
  const text = await fs.readFile(path.join(DOCKER_KEYS, 'committee.ka'), 'utf8');
  const lines = text.trimEnd().split('\n');
  for (const [edit, name] of [
    [(l: string) => l.replace(' node3:10000', '  node3:10000'), 'double'],
    [(l: string) => `${l} `, 'trailing'],
  ] as const) {
    const file = path.join(dir, `${name}.ka`);
    await fs.writeFile(file, [...lines.slice(0, 2), edit(lines[2]!), ...lines.slice(3)].join('\n') + '\n');
    const r = await cli(['keys', 'verify', '--committee', file]);
    assert.equal(r.code, 1, name);
    assert.match(
      r.err,
      new RegExp(
        `${name}\\.ka:3: address field ".*" has a double, leading or trailing space; gomel would read an empty address there — separate addresses with single spaces`,
      ),
    );
  }
});
