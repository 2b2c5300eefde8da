// Hostile pass B1–B3 (issue 30): inputs a user can hand gomelctl that grow without bound
// (B3: configs of 130,000 Params keys), multiply (B1: experiment grids) or carry secrets (B2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cli, copyLogs, REPO, tempDir } from './helpers.js';
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

// Hostile pass 5, B2: a value read from a committee or a config is quoted clipped (bounded.ts quoted),
// and a committee line longer than any committee's is refused by its length. Before, a 20 MB address
// was a 20 MB error line from keys verify, verdict and report, and a 10 MB field name a 10 MB line.
/** Every line of a command's output and errors is short. */
const shortLines = (r: { out: string; err: string }, what: string) => {
  for (const line of `${r.out}\n${r.err}`.split('\n'))
    assert.ok(line.length < 600, `${what}: a line of ${line.length} characters: ${line.slice(0, 200)}`);
};

test('hostile 5 B2: a committee line of 1 MB, and a long bad address, are one short line naming the file and line', async (t) => {
  const root = await tempDir(t);
  const keys = path.join(root, 'keys');
  await fs.cp(path.join(REPO, 'keys'), keys, { recursive: true });
  await promisify(execFile)('chmod', ['-R', 'u+w', keys]);
  const committee = path.join(keys, 'committee.ka');
  const lines = (await fs.readFile(committee, 'utf8')).split('\n');
  const logs = await copyLogs(t, 'twin8', path.join(REPO, 'test/vectors/real-runs'));
  for (const [tail, message] of [
    [
      'x'.repeat(1_000_000),
      /committee\.ka:3: the line is 1000\d{3} characters long; no line of it can be longer than 16384/,
    ],
    [
      'x'.repeat(10_000),
      /committee\.ka:3: address "node3:11000xxxxx+…" has no port in 1\.\.65535 — use a port such as 9000$/,
    ],
  ] as const) {
    const long = lines.map((l, i) => (i === 2 ? `${l}${tail}` : l)).join('\n');
    await fs.writeFile(committee, long);
    await fs.writeFile(path.join(logs, 'committee.ka'), long);
    for (const args of [
      ['keys', 'verify', '--keys', keys],
      ['verdict', '--logs', logs],
      ['report', '--logs', logs],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 1, `${args[0]}: ${r.err}`);
      shortLines(r, args[0]!);
      assert.match(r.err, message, args[0]);
    }
  }
});

test('hostile 5 B2: a 1 MB field name, Params key or value of a config is clipped in config check and verdict', async (t) => {
  const root = await tempDir(t);
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  const long = (c: string) => c.repeat(1_000_000);
  const write = async (
    name: string,
    edit: (c: Awaited<ReturnType<typeof shipped>> & Record<string, unknown>) => void,
  ) => {
    const config = (await shipped()) as Awaited<ReturnType<typeof shipped>> & Record<string, unknown>;
    edit(config);
    await fs.writeFile(path.join(configs, `${name}.json`), JSON.stringify(config));
  };
  await write('timeout', (c) => (c.Sync[0]!.Params.timeout = `${long('9')}s`));
  await write('key', (c) => (c.Sync[0]!.Params[long('k')] = '1'));
  await write('field', (c) => (c[long('x')] = 1));
  await write('values', (c) => {
    c.Sync[1]!.Params.nIn = long('z');
    c.Sync[2]!.Params.network = long('w');
  });
  const r = await cli(['config', 'check', '--configs', configs, '--keys', path.join(REPO, 'keys')]);
  assert.equal(r.code, 1, r.err);
  shortLines(r, 'config check');
  assert.match(r.out, /key\.json Sync\[0\]\.Params\.k{79}…: gomel's gossip service ignores this parameter/);
  assert.match(r.out, /field\.json x{79}…: unknown field/);
  assert.match(r.out, /values\.json Sync\[1\]\.Params\.nIn: "z{79}…" is not a whole number/);
  assert.match(r.out, /values\.json Sync\[2\]\.Params\.network: "w{79}…" is not a multicast network/);
  assert.match(r.out, /timeout\.json Sync\[0\]\.Params\.timeout: .* is not a Go duration/);

  const logs = await copyLogs(t, 'twin8', path.join(REPO, 'test/vectors/real-runs'));
  await fs.copyFile(path.join(configs, 'field.json'), path.join(logs, 'conf.json'));
  const v = await cli(['verdict', '--logs', logs]);
  assert.equal(v.code, 1, v.err);
  shortLines(v, 'verdict');
  assert.match(v.err, /conf\.json:x{79}…: cannot read LevelLimit: unknown field/);
});
