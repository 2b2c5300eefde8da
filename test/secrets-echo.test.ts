// Issue 30, class 10: a secret handed as a flag's value was echoed. `--net "$(cat keys/0.pk)"`
// printed the private key in the error. Every line gomelctl prints goes through src/cli.ts,
// which now redacts any run of base64 or hex sharing 8 characters in a row with key material
// found in its arguments: whatever message quotes the value shows `GQR…(redacted, 88 chars)`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { keyMaterialRuns, keyRedactor } from '../src/core/keys/secrets.js';
import { cli, copyDir, DOCKER_CONFIGS, DOCKER_KEYS, tempDir } from './helpers.js';
import { fakeEngine } from './support/fake-engine.js';

test('key material in a value: padded base64 and seeds are found, paths and image digests are not', () => {
  const [sk, rmc] = [
    'GQRJithpel9a7UDjUmCklpwLfrWLiFaHeuRmryxG5GYVYGCtmIsumlXS5/2rmcLG1BXMwjfPsAdggGHiQhRC/g==',
    'XxohRKfEMxj5uWoSoKRiLDk1NU4nyncfFCHFOpuuSMs=',
  ];
  const seed = 'ab'.repeat(32);
  assert.deepEqual(keyMaterialRuns(`${sk} ${rmc} 0\n`), [sk, rmc]);
  assert.deepEqual(keyMaterialRuns(`delay=80ms,${seed}`), [seed]);
  assert.deepEqual(keyMaterialRuns('/home/User1/Projects/Gomel2019/keys/committee.ka'), []);
  assert.deepEqual(keyMaterialRuns(`127.0.0.1:5000/aleph@sha256:${seed}`), []);
  assert.deepEqual(keyMaterialRuns('delay=80ms,loss=1%'), []);
  const redact = keyRedactor([sk, rmc]);
  assert.equal(redact(`--net ${sk}: unknown key`), '--net GQR…(redacted, 88 chars): unknown key');
  assert.equal(redact(`"${sk.slice(30, 50)}"`), `"${sk.slice(30, 33)}…(redacted, 20 chars)"`, 'a part of it too');
  assert.equal(redact('node1: 302 units, digest 0123abcd'), 'node1: 302 units, digest 0123abcd');
});

test('a key or seed handed as any flag or argument never appears in stdout or stderr', async (t) => {
  const dir = await tempDir(t);
  const keys = path.join(dir, 'keys');
  const configs = path.join(dir, 'configs');
  await copyDir(DOCKER_KEYS, keys);
  await copyDir(DOCKER_CONFIGS, configs);
  // Any command that gets as far as the engine meets a stand-in that records and answers nothing useful.
  const engine = await fakeEngine(dir, () => ({ json: {} }));
  t.after(() => engine.close());
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = engine.host;
  t.after(() => (saved === undefined ? delete process.env.DOCKER_HOST : (process.env.DOCKER_HOST = saved)));

  const member = await fs.readFile(path.join(keys, '0.pk'), 'utf8');
  const [sk, rmc] = member.trim().split(' ') as [string, string];
  const seed = randomBytes(32).toString('hex');
  const windows = [sk, rmc, seed].flatMap((s) => Array.from({ length: s.length - 7 }, (_, i) => s.slice(i, i + 8)));
  const local = ['--keys', keys, '--configs', configs];
  const commands = (v: string): string[][] => [
    ['up', ...local, '--net', v],
    ['deploy', 'spawn', ...local, '--net', `delay=80ms,${v}`],
    ['up', ...local, '--zones', v],
    ['deploy', 'spawn', ...local, '--zones', v],
    ['up', ...local, '--faults', v],
    ['deploy', 'spawn', ...local, '--faults', `crash:${v}@3s`],
    ['deploy', 'spawn', ...local, '--faults', JSON.stringify([{ kind: v, nodes: '1', at: '1s' }])],
    ['up', ...local, '--tag', v],
    ['image', 'rebuild', ...local, '--tag', `registry:5000/${v}`],
    ['up', ...local, '--registry', v],
    ['cluster', 'init', '--registry', v],
    ['cluster', 'join-token', '--registry', v],
    ['up', ...local, '--subnet', v],
    ['cluster', 'init', '--subnet', v],
    ['up', ...local, '--n', v],
    ['keys', 'gen', '--keys', path.join(dir, 'new-keys'), '--n', v],
    ['deploy', 'spawn', ...local, '--image', v],
    ['up', ...local, '--network', v],
    ['deploy', 'status', '--network', v],
    ['up', ...local, '--config', v],
    ['deploy', 'spawn', ...local, '--config', v],
    ['up', ...local, '--timeout', v],
    ['up', ...local, '--parallel', v],
    ['deploy', 'spawn', ...local, '--settle', v],
    ['up', ...local, '--cap-add', v],
    ['up', ...local, '--net-impl', v],
    ['keys', 'show', '--keys', v],
    ['verdict', '--logs', v],
    ['report', '--logs', v],
    ['fault', 'crash', v],
    ['fault', 'slow', '1', '--cpu', v],
    ['config', 'check', ...local, v],
    [v],
    ['keys', v],
    ['up', `--${v}`],
  ];
  const leaks: string[] = [];
  for (const value of [member, sk, rmc, seed, `x${sk.slice(0, 60)}`])
    for (const args of commands(value)) {
      const r = await cli(args);
      const printed = `${r.out}\n${r.err}`;
      const shown = args.map((a) => (windows.some((w) => a.includes(w)) ? '<holding the key>' : a)).join(' ');
      if (r.code === 0 || r.code === 70) leaks.push(`${shown}: exit ${r.code}`);
      if (windows.some((w) => printed.includes(w))) leaks.push(`${shown}: prints 8 characters of the key in a row`);
    }
  // The settings gomelctl reads from the environment are values handed to it too.
  process.env.GOMELCTL_ENGINE_TIMEOUT = seed;
  t.after(() => delete process.env.GOMELCTL_ENGINE_TIMEOUT);
  const r = await cli(['deploy', 'status']);
  if (windows.some((w) => `${r.out}\n${r.err}`.includes(w))) leaks.push('GOMELCTL_ENGINE_TIMEOUT=<seed>: printed');
  assert.deepEqual([...new Set(leaks)], []);
});
