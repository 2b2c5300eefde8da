// The last readers moved onto the one reading layer (src/fs/input.ts): a BOM before
// committee.ka reaches the parser (gomel's base64 refuses it, A9), and a config that
// is a FIFO is refused by name instead of hanging keys gen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, REPO, tempDir } from './helpers.js';

test('A9: keys verify and config check refuse a committee.ka that starts with a BOM, naming the file and the fix', async (t) => {
  const root = await tempDir(t);
  const keys = path.join(root, 'k');
  assert.equal(
    (await cli(['keys', 'gen', '--n', '8', '--keys', keys, '--configs', path.join(REPO, 'configs')])).code,
    0,
  );
  const file = path.join(keys, 'committee.ka');
  await fs.writeFile(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), await fs.readFile(file)]));
  const verify = await cli(['keys', 'verify', '--keys', keys]);
  assert.equal(verify.code, 1);
  assert.match(verify.err, /committee\.ka:1.*BOM/);
  assert.equal(verify.err.trim().split('\n').length, 1);
});

test('keys gen with a config that is a FIFO: refused by name, no hang', async (t) => {
  const root = await tempDir(t);
  const configs = path.join(root, 'c');
  await fs.mkdir(configs);
  execFileSync('mkfifo', [path.join(configs, 'config.json')]);
  const r = await cli(['keys', 'gen', '--n', '4', '--keys', path.join(root, 'k'), '--configs', configs]);
  assert.equal(r.code, 1);
  assert.match(r.err, /config\.json: is a named pipe \(FIFO\), not a regular file/);
});
