// Issue 30, class 10: a secret handed as a flag's value was echoed. `--net "$(cat keys/0.pk)"`
// printed the private key in the error. Every line gomelctl prints goes through src/cli.ts,
// which now redacts any run of base64 or hex sharing 8 characters in a row with key material
// found in its arguments: whatever message quotes the value shows `GQR…(redacted, 88 chars)`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { keyMaterialRuns, keyRedactor, secretWords } from '../src/core/keys/secrets.js';
import { secretWordsReader } from '../src/fs/keys-dir.js';
import { execFileSync } from 'node:child_process';
import { cli, copyDir, DOCKER_CONFIGS, DOCKER_KEYS, REPO, tempDir } from './helpers.js';
import { fakeEngine, gomelctlInProcess } from './support/fake-engine.js';

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

/** A working folder holding gomel's 8-node committee (keys/) and its configs (configs/). */
async function workingFolder(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const keys = path.join(dir, 'keys');
  const configs = path.join(dir, 'configs');
  await copyDir(DOCKER_KEYS, keys);
  await copyDir(DOCKER_CONFIGS, configs);
  return { dir, keys, configs };
}

/** Every 8 characters in a row of the secrets: any of them printed is a leak. */
const windowsOf = (...secrets: string[]) =>
  secrets.flatMap((s) => Array.from({ length: s.length - 7 }, (_, i) => s.slice(i, i + 8)));

test('a key or seed handed as any flag or argument never appears in stdout or stderr', async (t) => {
  const { dir, keys, configs } = await workingFolder(t);
  // Any command that gets as far as the engine meets a stand-in that records and answers nothing useful.
  const engine = await fakeEngine(dir, () => ({ json: {} }));
  t.after(() => engine.close());
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = engine.host;
  t.after(() => (saved === undefined ? delete process.env.DOCKER_HOST : (process.env.DOCKER_HOST = saved)));

  const member = await fs.readFile(path.join(keys, '0.pk'), 'utf8');
  const [sk, rmc] = member.trim().split(' ') as [string, string];
  const seed = randomBytes(32).toString('hex');
  const windows = windowsOf(sk, rmc, seed);
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

test("secretWords: a member file's signing key and RMC secret, and a seed; not the pid", () => {
  const [sk, rmc] = [
    'GQRJithpel9a7UDjUmCklpwLfrWLiFaHeuRmryxG5GYVYGCtmIsumlXS5/2rmcLG1BXMwjfPsAdggGHiQhRC/g==',
    'XxohRKfEMxj5uWoSoKRiLDk1NU4nyncfFCHFOpuuSMs=',
  ];
  assert.deepEqual(secretWords(`\uFEFF${sk} ${rmc} 12345\n`), [sk, rmc]);
  assert.deepEqual(secretWords(`${'ab'.repeat(32)}\n`), ['ab'.repeat(32)]);
  // Any 8 characters in a row of them, in a piece no key shape finds, is redacted; the text around it is not.
  const redact = keyRedactor(secretWords(`${sk} ${rmc} 0\n`));
  const pieces = `${sk.slice(0, 29)} ${sk.slice(29, 58)} ${sk.slice(58)} ${rmc.slice(0, 22)} ${rmc.slice(22)}`;
  assert.deepEqual(keyMaterialRuns(pieces), [sk.slice(58)], 'only the padded piece has the shape of key material');
  assert.equal(
    redact(`bad key ${pieces}; x${sk.slice(40, 48)}y, node12 units 0123abcd`),
    `bad key GQR…(redacted, 29 chars) FaH…(redacted, 29 chars) 2rm…(redacted, 30 chars) Xxo…(redacted, 22 chars) k1N…(redacted, 22 chars); x5G…(redacted, 10 chars), node12 units 0123abcd`,
  );
});

test('hostile pass N2: a key of the keys folder split into pieces no key shape finds is never printed: a zones file, a probe error, a task error', async (t) => {
  const { dir, keys, configs } = await workingFolder(t);
  const [sk, rmc] = (await fs.readFile(path.join(keys, '3.pk'), 'utf8')).trim().split(' ') as [string, string];
  // gomel's committee came without one: a seed of its own, 0600 as keys gen writes it.
  const seed = randomBytes(32).toString('hex');
  await fs.writeFile(path.join(keys, 'seed'), `${seed}\n`, { mode: 0o600 });
  const windows = windowsOf(sk, rmc, seed);
  const leaked = (r: { out: string; err: string }) => windows.filter((w) => `${r.out}\n${r.err}`.includes(w));
  // 29 characters each, as the hostile pass split it, and the seed in 32: none is 40 long or padded.
  const pieces = `${sk.slice(0, 29)} ${sk.slice(29, 58)} ${sk.slice(58, 86)} ${rmc.slice(0, 30)} ${seed.slice(0, 32)} ${seed.slice(32)}`;
  assert.deepEqual(keyMaterialRuns(pieces), []);

  // A zones file quoting them, read by deploy spawn with --keys.
  const zones = path.join(dir, 'zones.json');
  await fs.writeFile(zones, JSON.stringify({ zones: { a: `1-4 ${pieces}`, b: '5-8' }, links: { 'a>b': 'delay=5ms' } }));
  const image = `r/aleph@sha256:${'a'.repeat(64)}`;
  const spawn = await cli([
    'deploy',
    'spawn',
    '--dry-run',
    '--keys',
    keys,
    '--configs',
    configs,
    '--image',
    image,
    '--zones',
    zones,
  ]);
  assert.equal(spawn.code, 1, spawn.err);
  assert.match(spawn.err, /zones\.json:zones\.a: "1-4 \S+…\(redacted, 29 chars\) /);
  assert.deepEqual(leaked(spawn), [], spawn.err);

  // A node's probe report saying them in its error, judged by the verdict with --keys.
  const logs = path.join(dir, 'logs');
  await fs.mkdir(logs);
  await fs.copyFile(path.join(keys, 'committee.ka'), path.join(logs, 'committee.ka'));
  await probeReports(logs, pieces);
  const verdict = await cli(['verdict', '--logs', logs, '--keys', keys]);
  assert.equal(verdict.code, 1, verdict.err);
  assert.match(verdict.out, /node4: FAIL .*redacted/);
  assert.deepEqual(leaked(verdict), [], verdict.out);

  // An engine's task error quoting them, read by deploy status with the working folder's keys/ (the default).
  const engine = await fakeEngine(dir, (r) => ({
    json:
      r.path === '/services'
        ? [
            {
              ID: 's1',
              Spec: {
                Name: 'node4',
                Labels: { 'org.gomelctl.managed': 'true', 'org.gomelctl.deployment': 'aleph_net' },
                TaskTemplate: { ContainerSpec: { Image: image, Command: ['run.sh', 'config'] } },
              },
            },
          ]
        : r.path === '/tasks'
          ? [
              {
                ID: 't1',
                ServiceID: 's1',
                DesiredState: 'shutdown',
                CreatedAt: '2026-01-01T00:00:00Z',
                Status: { State: 'failed', Err: `bad key ${pieces}`, Timestamp: '2026-01-01T00:01:00Z' },
              },
            ]
          : [],
  }));
  t.after(() => engine.close());
  const status = await gomelctlInProcess(['deploy', 'status'], dir, { DOCKER_HOST: engine.host });
  assert.match(status.out + status.err, /bad key \S+…\(redacted, 29 chars\)/);
  assert.deepEqual(leaked(status), [], status.out + status.err);
});

test("a keys folder is read for the printer again only when it changed (up's keys gen), never blocked by a FIFO", async (t) => {
  const { dir, keys } = await workingFolder(t);
  const read = secretWordsReader();
  assert.equal(read([keys])!.length, 16, "8 members' signing keys and RMC secrets");
  assert.equal(read([keys]), undefined, 'unchanged: nothing read again');
  // A FIFO where a member file would be is no member file: skipped, never waited on.
  execFileSync('mkfifo', [path.join(keys, '8.pk')]);
  await fs.writeFile(path.join(keys, 'seed'), `${'ab'.repeat(32)}\n`, { mode: 0o600 });
  const again = read([keys])!;
  assert.equal(again.length, 17);
  assert.ok(again.includes('ab'.repeat(32)), 'the new seed');
  assert.deepEqual(read([path.join(dir, 'none'), path.join(keys, 'committee.ka')]), []);
});

/** A service's output as the engine sends it: multiplexed frames (stdout), each under 128 bytes so that its header is ASCII. */
const framed = (text: string) =>
  (text.match(/[^]{1,100}/g) ?? [])
    .map((p) => `\x01\x00\x00\x00\x00\x00\x00${String.fromCharCode(p.length)}${p}`)
    .join('');

test('hostile pass N2, in files: a key cut into pieces is redacted in task.json and deploy-logs.txt (a task error, a shipped name) and in verdict.txt (a probe error)', async (t) => {
  const { dir, keys, configs } = await workingFolder(t);
  const [sk, rmc] = (await fs.readFile(path.join(keys, '3.pk'), 'utf8')).trim().split(' ') as [string, string];
  const seed = randomBytes(32).toString('hex');
  await fs.writeFile(path.join(keys, 'seed'), `${seed}\n`, { mode: 0o600 });
  const windows = windowsOf(sk, rmc, seed);
  const pieces = `${sk.slice(0, 29)} ${sk.slice(29, 58)} ${sk.slice(58, 86)} ${rmc.slice(0, 30)} ${seed.slice(0, 32)} ${seed.slice(32)}`;
  assert.deepEqual(keyMaterialRuns(pieces), [], 'no piece has the shape of key material');
  // A shipped file's name holds letters, digits and ._- only: the longest such run of the signing key.
  const named = sk.split(/[+/=]/).sort((a, b) => b.length - a.length)[0]!;
  assert.ok(named.length >= 8);
  const output = [
    `panic: bad key ${pieces}`,
    `gomelctl-ship tok file 0 ${named}.log ${2 ** 30} ${'0'.repeat(64)} 1`,
    'gomelctl-ship tok data 0 0 AAAA',
    'gomelctl-ship tok end 1',
    '',
  ].join('\n');
  const engine = await fakeEngine(dir, (r) =>
    r.path === '/services'
      ? {
          json: [
            {
              ID: 's1',
              Spec: {
                Name: 'node4',
                Labels: { 'org.gomelctl.managed': 'true', 'org.gomelctl.deployment': 'aleph_net' },
                TaskTemplate: { ContainerSpec: { Image: 'r/aleph:1', Command: ['run.sh', 'config'] } },
              },
            },
          ],
        }
      : r.path === '/tasks'
        ? {
            json: [
              {
                ID: 't1',
                ServiceID: 's1',
                DesiredState: 'shutdown',
                CreatedAt: '2026-01-01T00:00:00Z',
                Status: { State: 'failed', Err: `bad key ${pieces}`, Timestamp: '2026-01-01T00:01:00Z' },
              },
            ],
          }
        : r.path === '/services/s1/logs'
          ? { text: framed(output) }
          : { json: [] },
  );
  t.after(() => engine.close());
  const logs = path.join(dir, 'logs');
  const collected = await gomelctlInProcess(['deploy', 'logs', '--out', logs, '--configs', configs], dir, {
    DOCKER_HOST: engine.host,
  });
  assert.equal(collected.code, 0, collected.err);
  const leakedIn = async (file: string) => {
    const text = await fs.readFile(file, 'utf8');
    return { redacted: text.includes('(redacted, '), leaked: windows.filter((w) => text.includes(w)), text };
  };
  // Before the fix: the task error's pieces and the file's name, whole in both files.
  for (const file of [path.join(logs, 'node4', 'task.json'), path.join(logs, 'deploy-logs.txt')]) {
    const { redacted, leaked, text } = await leakedIn(file);
    assert.ok(redacted, text);
    assert.deepEqual(leaked, [], `${file}: ${text}`);
  }
  const task = JSON.parse(await fs.readFile(path.join(logs, 'node4', 'task.json'), 'utf8')) as { error: string };
  assert.match(task.error, /^bad key \S+…\(redacted, 29 chars\) /);

  // A probe report's error, in the folder deploy logs wrote: verdict.txt is written beside the logs.
  await probeReports(logs, pieces);
  const verdict = await gomelctlInProcess(['verdict', '--logs', logs, '--keys', keys], dir);
  assert.equal(verdict.code, 1, verdict.err);
  // Before the fix: printed redacted, written whole.
  const { redacted, leaked, text } = await leakedIn(path.join(logs, 'verdict.txt'));
  assert.match(text, /node4: FAIL .*redacted/);
  assert.ok(redacted);
  assert.deepEqual(leaked, [], text);
});

test("hostile pass N2, in report.html: a node's stderr quoting a key of --keys cut into pieces is redacted in the page", async (t) => {
  const dir = await tempDir(t);
  const logs = path.join(dir, 'logs');
  await fs.cp(path.join(REPO, 'test/vectors/real-runs/twin8'), logs, { recursive: true });
  const keys = path.join(dir, 'keys');
  await fs.mkdir(keys);
  const [sk, rmc] = [randomBytes(64).toString('base64'), randomBytes(32).toString('base64')];
  await fs.writeFile(path.join(keys, '0.pk'), `${sk} ${rmc} 0\n`, { mode: 0o600 });
  await fs.writeFile(path.join(logs, 'node2', 'stderr.txt'), `panic: bad key ${sk.slice(0, 29)} ${sk.slice(29, 58)}\n`);
  const r = await cli(['report', '--logs', logs, '--keys', keys, '--out', path.join(dir, 'r.html')]);
  assert.equal(r.code, 0, r.err);
  const page = await fs.readFile(path.join(dir, 'r.html'), 'utf8');
  // Before the fix: the panic line whole in the page.
  assert.match(page, /bad key \S+…\(redacted, 29 chars\) \S+…\(redacted, 29 chars\)/);
  assert.deepEqual(
    windowsOf(sk, rmc).filter((w) => page.includes(w)),
    [],
  );
});

/** Eight probe nodes' reports in `logs`, node4's failing with an error that quotes `quoted`. */
async function probeReports(logs: string, quoted: string): Promise<void> {
  for (let k = 1; k <= 8; k++) {
    await fs.mkdir(path.join(logs, `node${k}`), { recursive: true });
    const peers = Array.from({ length: 8 }, (_, p) => `peer ${p} node${p + 1}:9000 ok`);
    const error = k === 4 ? [`error ${quoted}`] : [];
    const result = `result ${k === 4 ? 'fail' : 'ok'}`;
    const report = [`pid ${k - 1}`, 'config config', 'nodes 8', 'key ok', ...peers, ...error, result, ''];
    await fs.writeFile(path.join(logs, `node${k}`, 'probe.txt'), report.join('\n'));
  }
}
