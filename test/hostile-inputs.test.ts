// Hostile pass B1–B3 (issue 30): inputs a user can hand gomelctl that grow without bound
// (B3: configs of 130,000 Params keys), multiply (B1: experiment grids) or carry secrets (B2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cli, REPO, tempDir } from './helpers.js';
import { checkConfigText } from '../src/core/config/check.js';
import { SHOWN_PROBLEMS } from '../src/commands/config.js';

const shipped = async () =>
  JSON.parse(await fs.readFile(path.join(REPO, 'configs/config.json'), 'utf8')) as {
    Sync: { Params: Record<string, string> }[];
  };

test('B3: a config of 130,000 ignored Params keys is checked, not a RangeError (push(...) of them overflowed the stack)', async () => {
  const config = await shipped();
  for (let i = 0; i < 130_000; i++) config.Sync[0]!.Params[`k${i}`] = '1';
  const { problems } = checkConfigText(JSON.stringify(config), undefined);
  assert.equal(problems.filter((p) => /^Sync\[0\]\.Params\.k\d+$/.test(p.path)).length, 130_000);
});

test('B3: config check prints at most SHOWN_PROBLEMS problems, errors first, and "and K more"', async (t) => {
  const root = await tempDir(t);
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  const config = await shipped();
  for (let i = 0; i < SHOWN_PROBLEMS + 10; i++) config.Sync[0]!.Params[`k${i}`] = '1';
  config.Sync[0]!.Params.timeout = 'soon'; // one error after the warnings
  await fs.writeFile(path.join(configs, 'config.json'), JSON.stringify(config));
  const r = await cli(['config', 'check', '--configs', configs, '--keys', path.join(REPO, 'keys')]);
  assert.equal(r.code, 1);
  const lines = r.out.split('\n');
  assert.match(lines[1]!, /^ {2}error: .*Sync\[0\]\.Params\.timeout: "soon" is not a Go duration/);
  assert.equal(lines.filter((l) => /^ {2}(error|warning): /.test(l)).length, SHOWN_PROBLEMS);
  // The shipped config's own 3 warnings, the ignored keys and the bad timeout, less those shown.
  assert.equal(
    lines.at(-1),
    `  … and ${3 + SHOWN_PROBLEMS + 10 + 1 - SHOWN_PROBLEMS} more in ${path.join(configs, 'config.json')}`,
  );
});

test('B3: a Sync of 40 services against the committee names a few ports, not one per service', async () => {
  const config = await shipped();
  config.Sync = Array.from({ length: 40 }, () => config.Sync[0]!);
  const { problems } = checkConfigText(JSON.stringify(config), { size: 8, addressColumns: 3, setupColumns: 1 });
  const columns = problems.find((p) => p.path === 'Sync' && /address columns/.test(p.message));
  assert.match(columns!.fix, /\(ports 9000,10000,11000,12000,… \(40 ports\); keeps the keys\)/);
});

test('B3: unknown fields are named a few at a time', async () => {
  const config = (await shipped()) as unknown as Record<string, unknown>;
  for (let i = 0; i < 10; i++) config[`Extra${i}`] = 1;
  const { problems } = checkConfigText(JSON.stringify(config), undefined);
  assert.ok(problems.some((p) => p.path === 'Extra0, Extra1, Extra2 and 7 more'));
});

test('B1: a grid of 40 × 40 × 40 × 40 points is refused from its axes, within a 64 MB heap (building it took 1.3 GB)', async (t) => {
  const dir = await tempDir(t);
  await fs.cp(path.join(REPO, 'configs'), path.join(dir, 'configs'), { recursive: true });
  await fs.writeFile(path.join(dir, 'gomel'), '#!/bin/sh\n', { mode: 0o755 });
  const axis = `[${Array.from({ length: 40 }, (_, i) => i + 1).join(',')}]`;
  const n = `[${Array.from({ length: 40 }, (_, i) => i + 4).join(',')}]`;
  const file = path.join(dir, 'g.yaml');
  await fs.writeFile(
    file,
    `binary: gomel\nconfigs: configs\nn: ${n}\nconfig: {Txpu: ${axis}, LogBuffer: ${axis}, LogMemInterval: ${axis}}\n`,
  );
  // A heap cap, not a clock: before, the grid was built first and the process died out of memory.
  const run = promisify(execFile)(process.execPath, [
    '--max-old-space-size=64',
    path.join(REPO, 'bin/gomelctl'),
    'experiment',
    'plan',
    file,
  ]);
  const failed = await run.then(
    () => assert.fail('refused'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(failed.code, 2);
  assert.equal(
    failed.stderr,
    `gomelctl: ${file}: the grid is 2560000 runs (2560000 points × 1 repeats), more than 200 — cut an axis, or split the grid over several files\n`,
  );
});

test('N6: an experiment file over 256 KiB (a million values took 1 GB) is refused by its size within a 64 MB heap, exit 2', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'big.yaml');
  await fs.writeFile(file, `binary: gomel\nn: [${Array(1_000_000).fill(4).join(',')}]\n`);
  // A heap cap, not a clock: before, the list was parsed and typed whole and the process died out of memory.
  const failed = await promisify(execFile)(process.execPath, [
    '--max-old-space-size=64',
    path.join(REPO, 'bin/gomelctl'),
    'experiment',
    'plan',
    file,
  ]).then(
    () => assert.fail('refused'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(failed.code, 2);
  assert.equal(
    failed.stderr,
    `gomelctl: ${file}: is 1.9 MiB, more than an experiment file can be (256 KiB) — check that this is the right file\n`,
  );
});

test('B2: a key or seed quoted from an experiment file, a fault plan or a zones file is redacted in the error', async (t) => {
  const dir = await tempDir(t);
  await fs.cp(path.join(REPO, 'configs'), path.join(dir, 'configs'), { recursive: true });
  await fs.writeFile(path.join(dir, 'gomel'), '#!/bin/sh\n', { mode: 0o755 });
  const member = await fs.readFile(path.join(REPO, 'keys/0.pk'), 'utf8');
  const signing = member.split(' ')[0]!;
  const seed = (await fs.readFile(path.join(REPO, 'keys/seed'), 'utf8')).trim();
  await fs.writeFile(path.join(dir, 'plan.json'), JSON.stringify([{ kind: 'crash', nodes: signing, at: '3s' }]));
  await fs.writeFile(
    path.join(dir, 'z.json'),
    JSON.stringify({ zones: { a: '1-2', b: '3-4' }, links: { 'a>b': `delay=${seed}` } }),
  );
  const plan = async (name: string, axis: Record<string, unknown>) => {
    const file = path.join(dir, name);
    await fs.writeFile(file, JSON.stringify({ binary: 'gomel', configs: 'configs', n: [4], ...axis }));
    const r = await cli(['experiment', 'plan', file]);
    assert.equal(r.code, 2, r.err);
    for (const secret of [signing, member.split(' ')[1]!, seed])
      assert.ok(!r.err.includes(secret.slice(10, 30)), `${name}: no part of a secret is printed`);
    return r.err;
  };
  const redacted = (s: string) => `${s.slice(0, 3)}…(redacted, ${s.length} chars)`;
  assert.ok(
    (await plan('e1.json', { faults: ['plan.json'] })).includes(
      `plan.json:[0].nodes: "${redacted(signing)}" is not a node`,
    ),
  );
  assert.ok(
    (await plan('e2.json', { net: [{ zones: 'z.json' }] })).includes(`z.json:links.a>b: "delay=${redacted(seed)}"`),
  );
  assert.ok((await plan('e3.json', { net: [member] })).includes(`net[0]: at n 4: ${redacted(signing)} `));
  // config check quotes a config's values too.
  const config = await shipped();
  config.Sync[2]!.Params.network = seed;
  await fs.writeFile(path.join(dir, 'configs/config.json'), JSON.stringify(config));
  const check = await cli([
    'config',
    'check',
    '--configs',
    path.join(dir, 'configs'),
    '--keys',
    path.join(REPO, 'keys'),
  ]);
  assert.ok(check.out.includes(`"${redacted(seed)}" is not a multicast network`), check.out.replaceAll(seed, '<seed>'));
});
