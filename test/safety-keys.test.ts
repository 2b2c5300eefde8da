// Issue 25, keys, locks, recovery and config sync: each case (by its id) reproduced
// first, then held. The folders live in temp dirs; the engine is never used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, tempDir } from './helpers.js';

type T = Parameters<typeof tempDir>[0];

/** A fresh root with an 8-node committee in root/k (no configs folder: default ports). */
async function committee(t: T, n = '8') {
  const root = await tempDir(t);
  const k = path.join(root, 'k');
  const none = path.join(root, 'no-configs');
  const r = await cli(['keys', 'gen', '--n', n, '--keys', k, '--configs', none]);
  assert.equal(r.code, 0, r.err);
  return { root, k, none };
}

test('N27: a .pk whose third field is the RMC secret in decimal: no digit of it in any message', async (t) => {
  const { k } = await committee(t);
  const [sk, rmc] = (await fs.readFile(path.join(k, '3.pk'), 'utf8')).trim().split(' ');
  const decimal = BigInt(`0x${Buffer.from(rmc!, 'base64').toString('hex')}`).toString();
  await fs.writeFile(path.join(k, '3.pk'), `${sk} ${rmc} ${decimal}\n`);
  for (const args of [['keys', 'verify', '--keys', k], ['keys', 'verify', '--committee', path.join(k, 'committee.ka'), '--pk', path.join(k, '3.pk')], ['keys', 'gen', '--n', '9', '--keys', k]]) {
    const r = await cli(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.err, /3\.pk:1: field 3 \(the pid\) is not a pid in 0\.\.65534/);
    const digits = `${decimal.slice(0, 6)}|${decimal[0]}\\.${decimal.slice(1, 6)}`;
    assert.doesNotMatch(r.err + r.out, new RegExp(digits), 'no leading digits of the secret');
  }
});
