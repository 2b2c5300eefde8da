import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { REPO, tempDir } from './helpers.js';
import { assembleContext } from '../src/commands/image.js';
import { readTar } from '../src/docker/build-context.js';
import { renderTemplate } from '../src/core/image-context.js';

const base = { keys: path.join(REPO, 'keys'), configs: path.join(REPO, 'configs'), registry: '127.0.0.1:5000' };

test('probe context: files, modes and layer order; no private key by default', async () => {
  const { tar } = await assembleContext(base);
  const entries = await readTar(tar);
  const names = entries.map((e) => e.name);
  assert.deepEqual(names.slice(0, 4), ['Dockerfile', 'payload/answer.sh', 'run.sh', 'node-lib.sh']);
  assert.deepEqual(names.filter((n) => n.startsWith('configs/')), ['configs/config.json', 'configs/g.json', 'configs/g_m.json', 'configs/g_m-f.json', 'configs/g_m-g.json', 'configs/m-f.json', 'configs/m-rf.json']);
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
  assert.deepEqual([...order].sort((a, b) => a - b), order);
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
  assert.match(entries.find((e) => e.name === 'run.sh')!.content.toString(), /COMMITTEE=\/gomel\/keys\/committee\.ka\n[^]*--keys_addrs "\$COMMITTEE"/);
});

test('missing payloads and unknown placeholders are clear errors', async (t) => {
  await assert.rejects(assembleContext({ ...base, binary: '/nonexistent/gomel' }), /no such gomel binary/);
  await assert.rejects(assembleContext({ ...base, code: await tempDir(t) }), /not a consensus-go checkout \(no cmd\/gomel and pkg\/\)/);
  assert.throws(() => renderTemplate('FROM {{NOPE}}', {}), /\{\{NOPE\}\} has no value/);
});
