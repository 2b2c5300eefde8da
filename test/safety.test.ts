// Nothing lost, nothing leaked: the findings of a hostile test, each reproduced
// first, then the walk of every path option and the kill/concurrency faults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, copyDir, DOCKER_CONFIGS, DOCKER_KEYS, REPO, snapshot, tempDir } from './helpers.js';
import { checkImageRef, inspectBinary } from '../src/core/image/payload.js';
import { stageFolder } from '../src/fs/atomic.js';

const BIN = path.join(REPO, 'bin/gomelctl');
type T = Parameters<typeof tempDir>[0];

/** gomel's own 8-node keys (from its generator) and configs, writable. */
async function gomelProject(t: T) {
  const root = await tempDir(t);
  const keys = path.join(root, 'keys');
  const configs = path.join(root, 'configs');
  await copyDir(DOCKER_KEYS, keys);
  await copyDir(DOCKER_CONFIGS, configs);
  return { root, keys, configs, flags: ['--keys', keys, '--configs', configs] };
}

function runBin(args: string[]): { done: Promise<number | null>; kill: () => void; err: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return {
    done: new Promise((r) => child.on('close', (code) => r(code))),
    kill: () => child.kill('SIGKILL'),
    err: () => err,
  };
}

const privateFiles = (snap: Record<string, string>) =>
  Object.fromEntries(Object.entries(snap).filter(([k]) => k.endsWith('.pk')));

test('two keys gen on one folder at once, 20 times: every original key survives byte for byte and the folder verifies', async (t) => {
  const p = await gomelProject(t);
  const before = privateFiles(await snapshot(p.keys, false));
  for (let i = 0; i < 20; i++) {
    const n = String(20 + (i % 3));
    const a = runBin(['keys', 'gen', '--n', n, ...p.flags]);
    await new Promise((r) => setTimeout(r, i % 5));
    const b = runBin(['keys', 'gen', '--n', n, ...p.flags]);
    const codes = await Promise.all([a.done, b.done]);
    assert.deepEqual(codes, [0, 0], `round ${i}: ${a.err()} ${b.err()}`);
    const after = await snapshot(p.keys, false);
    for (const [name, hash] of Object.entries(before)) assert.equal(after[name], hash, `round ${i}: ${name} kept`);
    assert.equal((await cli(['keys', 'verify', '--keys', p.keys])).code, 0, `round ${i}: verifies`);
  }
  assert.deepEqual(
    (await fs.readdir(p.root)).filter((f) => f.startsWith('.keys')),
    [],
    'no leftovers',
  );
});

test('keys gen and config sync killed at random moments (20 times each) lose nothing', async (t) => {
  const p = await gomelProject(t);
  const original = privateFiles(await snapshot(p.keys, false));
  // Half the kills at a random moment, half the moment keys gen's staged folder appears: those land
  // mid-write for sure, and the count of kills that found it is checked, not assumed.
  let midWrite = 0;
  for (let i = 0; i < 20; i++) {
    const run = runBin(['keys', 'gen', '--n', i % 2 ? '40' : '300', ...p.flags]);
    let exited = false;
    void run.done.then(() => (exited = true));
    if (i % 2) await new Promise((r) => setTimeout(r, 20 + ((i * 37) % 400)));
    else
      while (!exited && !(await fs.readdir(p.root)).some((f) => /^\.keys\.new-/.test(f)))
        await new Promise((r) => setTimeout(r, 1));
    if ((await fs.readdir(p.root)).some((f) => /^\.keys\.(new|old)-/.test(f))) midWrite++;
    run.kill();
    await run.done;
    const verify = await cli(['keys', 'verify', '--keys', p.keys]);
    assert.equal(verify.code, 0, `kill ${i}: ${verify.err}`);
    const now = await snapshot(p.keys, false);
    for (const [name, hash] of Object.entries(original)) assert.equal(now[name], hash, `kill ${i}: ${name} intact`);
  }
  assert.ok(midWrite >= 5, `kills that landed while keys gen wrote its staged folder: ${midWrite} of 20`);
  const config = path.join(p.configs, 'config.json');
  for (let i = 0; i < 20; i++) {
    const run = runBin(['config', 'sync', ...p.flags]);
    await new Promise((r) => setTimeout(r, 10 + ((i * 53) % 300)));
    run.kill();
    await run.done;
    const check = await cli(['config', 'check', 'config', ...p.flags]);
    assert.equal(check.code, 0, `kill ${i}: config.json still whole: ${check.err}`);
    JSON.parse(await fs.readFile(config, 'utf8'));
  }
});

test('private keys are never replaced when committee.ka is missing or short', async (t) => {
  const p = await gomelProject(t);
  const before = await snapshot(p.keys, false);
  const committee = await fs.readFile(path.join(p.keys, 'committee.ka'), 'utf8');
  await fs.rm(path.join(p.keys, 'committee.ka'));
  const missing = await cli(['keys', 'gen', '--n', '8', ...p.flags]);
  assert.equal(missing.code, 1);
  assert.match(
    missing.err,
    /committee\.ka: missing, but 8 private key file\(s\) are here .* keys are never replaced — restore committee\.ka/,
  );
  await fs.writeFile(path.join(p.keys, 'committee.ka'), committee.split('\n').slice(0, 6).join('\n') + '\n');
  const short = await cli(['keys', 'gen', '--n', '8', ...p.flags]);
  assert.equal(short.code, 1);
  assert.match(short.err, /has 6 lines, but 6\.pk, 7\.pk exist beyond them/);
  const after = await snapshot(p.keys, false);
  for (const name of Object.keys(before).filter((f) => f.endsWith('.pk')))
    assert.equal(after[name], before[name], name);
  // A stray key beyond the committee is kept, and said so.
  await fs.writeFile(path.join(p.keys, 'committee.ka'), committee);
  await fs.copyFile(path.join(p.keys, '7.pk'), path.join(p.keys, '9.pk'));
  const stray = await cli(['keys', 'gen', '--n', '8', '--ports', '9000,10000', ...p.flags]);
  assert.equal(stray.code, 0, stray.err);
  assert.match(stray.out, /kept 9\.pk, which has no committee line/);
  assert.equal((await snapshot(p.keys, false))['9.pk'], before['7.pk']);
});

test('keys gen never deletes what it did not make: a file, a folder of notes, a sub-folder', async (t) => {
  const root = await tempDir(t);
  const file = path.join(root, 'notes.txt');
  await fs.writeFile(file, 'mine\n');
  const onFile = await cli(['keys', 'gen', '--n', '4', '--keys', file]);
  assert.equal(onFile.code, 1);
  assert.match(onFile.err, /notes\.txt: is not a folder/);
  assert.equal(await fs.readFile(file, 'utf8'), 'mine\n');
  const notes = path.join(root, 'notes');
  await fs.mkdir(notes);
  await fs.writeFile(path.join(notes, 'todo.md'), 'x\n');
  const onNotes = await cli(['keys', 'gen', '--n', '4', '--keys', notes]);
  assert.equal(onNotes.code, 1);
  assert.match(
    onNotes.err,
    /notes: holds todo\.md, which gomelctl does not manage .* move them out, or pass another --keys folder/,
  );
  const p = await gomelProject(t);
  await fs.mkdir(path.join(p.keys, 'backup'));
  await fs.writeFile(path.join(p.keys, 'backup', 'old.pk'), 'x\n');
  const sub = await cli(['keys', 'gen', '--n', '9', ...p.flags]);
  assert.equal(sub.code, 1);
  assert.match(sub.err, /holds backup\//);
  assert.equal(await fs.readFile(path.join(p.keys, 'backup', 'old.pk'), 'utf8'), 'x\n');
});

test('keys gen on a keys folder whose 2.pk is a symbolic link says it is a link; the link and its target are left as they were (hostile pass h8)', async (t) => {
  const p = await gomelProject(t);
  const outside = path.join(p.root, 'outside.pk');
  await fs.rename(path.join(p.keys, '2.pk'), outside);
  const bytes = await fs.readFile(outside);
  await fs.symlink(outside, path.join(p.keys, '2.pk'));
  const r = await cli(['keys', 'gen', '--n', '6', ...p.flags]);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /keys: holds 2\.pk \(a symbolic link to .*outside\.pk\), which gomelctl does not manage .* move them out \(gomelctl never writes through a link: its target is unchanged\), or pass another --keys folder$/,
  );
  assert.equal(await fs.readlink(path.join(p.keys, '2.pk')), outside);
  assert.deepEqual(await fs.readFile(outside), bytes);
});

test('no private key in any error: a .pk whose third field is key material', async (t) => {
  const p = await gomelProject(t);
  const [signing, rmc] = (await fs.readFile(path.join(p.keys, '2.pk'), 'utf8')).trim().split(' ');
  await fs.writeFile(path.join(p.keys, '2.pk'), `${signing} ${rmc} ${rmc}\n`);
  const runs = [
    await cli(['keys', 'verify', '--keys', p.keys]),
    await cli(['keys', 'gen', '--n', '9', ...p.flags]),
    await cli(['keys', 'verify', '--committee', path.join(p.keys, 'committee.ka'), '--pk', path.join(p.keys, '2.pk')]),
  ];
  for (const r of runs) {
    assert.equal(r.code, 1);
    assert.match(r.err, /2\.pk:1: field 3 \(the pid\) is not a decimal number/);
    for (const secret of [signing!, rmc!])
      assert.ok(!r.err.includes(secret) && !r.out.includes(secret), 'no key material printed');
  }
});

test('a resize never carries a corrupt key or a swapped committee line forward', async (t) => {
  const p = await gomelProject(t);
  const good = await fs.readFile(path.join(p.keys, '3.pk'), 'utf8');
  const [signing, , pid] = good.trim().split(' ');
  await fs.writeFile(path.join(p.keys, '3.pk'), `${signing} AQ== ${pid}\n`); // RMC secret 1: a valid scalar, not this line's
  const corrupt = await cli(['keys', 'gen', '--n', '10', ...p.flags]);
  assert.equal(corrupt.code, 1);
  assert.match(corrupt.err, /committee\.ka:4: RMC verification key does not match .*3\.pk/);
  await fs.writeFile(path.join(p.keys, '3.pk'), good);
  const lines = (await fs.readFile(path.join(p.keys, 'committee.ka'), 'utf8')).trimEnd().split('\n');
  [lines[0], lines[1]] = [lines[1]!, lines[0]!];
  await fs.writeFile(path.join(p.keys, 'committee.ka'), `${lines.join('\n')}\n`);
  const swapped = await cli(['keys', 'gen', '--n', '10', ...p.flags]);
  assert.equal(swapped.code, 1);
  assert.match(swapped.err, /committee\.ka:1: signing public key does not match .*0\.pk/);
  assert.ok(!(await fs.readdir(p.keys)).includes('9.pk'), 'nothing written');
});

test('every path option: missing, a folder, a dangling link, a path through a file — exit 1 or 2, one line naming the path', async (t) => {
  const root = await tempDir(t);
  const p = await gomelProject(t);
  const missing = path.join(root, 'absent');
  const folder = path.join(root, 'a-folder');
  await fs.mkdir(folder);
  const dangling = path.join(root, 'dangling');
  await fs.symlink(path.join(root, 'nowhere'), dangling);
  const file = path.join(root, 'plain');
  await fs.writeFile(file, 'x\n');
  const throughFile = path.join(file, 'below');
  const keysDir = path.join(root, 'k');
  const cases: [string[], string][] = [];
  for (const bad of [missing, folder, dangling, throughFile]) {
    cases.push([['keys', 'gen', '--n', '4', '--keys', keysDir, '--seed-file', bad], bad]);
    cases.push([['keys', 'gen', '--n', '4', '--keys', keysDir, '--addresses', bad], bad]);
    cases.push([['keys', 'verify', '--committee', bad], bad]);
    cases.push([['keys', 'verify', '--committee', path.join(p.keys, 'committee.ka'), '--pk', bad], bad]);
    cases.push([['verdict', '--logs', bad], bad]);
    cases.push([
      [
        'verdict',
        '--logs',
        path.join(REPO, 'test/vectors/gomel-2019-09/logs/success-4'),
        '--config',
        path.join(bad, 'x.json'),
      ],
      bad,
    ]);
    cases.push([['image', 'rebuild', '--binary', bad, ...p.flags], bad]);
    cases.push([['config', 'check', '--configs', bad, '--keys', p.keys], bad]);
  }
  for (const bad of [file, throughFile]) {
    cases.push([['keys', 'gen', '--n', '4', '--keys', bad], bad]);
    cases.push([['keys', 'show', '--keys', bad], bad]);
    cases.push([['config', 'sync', '--configs', bad, '--keys', p.keys], bad]);
    cases.push([['verdict', '--logs', bad], bad]);
  }
  cases.push([['keys', 'gen', '--n', '4', '--keys', '/proc/gomelctl-keys'], '/proc/gomelctl-keys']);
  // Member files that are a folder, or a link to nothing.
  const odd = path.join(root, 'odd-keys');
  await fs.cp(p.keys, odd, { recursive: true });
  await fs.rm(path.join(odd, '3.pk'));
  await fs.mkdir(path.join(odd, '3.pk'));
  await fs.rm(path.join(odd, '5.pk'));
  await fs.symlink(path.join(root, 'gone.pk'), path.join(odd, '5.pk'));
  cases.push([['keys', 'verify', '--keys', odd], path.join(odd, '3.pk')]);
  cases.push([['keys', 'gen', '--n', '9', '--keys', odd, '--configs', p.configs], path.join(odd, '3.pk')]);
  await fs.rm(path.join(odd, '3.pk'), { recursive: true });
  await fs.copyFile(path.join(p.keys, '3.pk'), path.join(odd, '3.pk'));
  cases.push([['keys', 'verify', '--keys', odd], path.join(odd, '5.pk')]);
  for (const [args, named] of cases) {
    const r = await cli(args);
    const where = `gomelctl ${args.join(' ')}`;
    assert.ok(r.code === 1 || r.code === 2, `${where}: exit ${r.code}: ${r.err}`);
    assert.equal(r.err.split('\n').length, 1, `${where}: one line: ${r.err}`);
    assert.ok(
      r.err.includes(path.basename(named)) || r.err.includes(path.basename(path.dirname(named))),
      `${where}: names the path: ${r.err}`,
    );
    assert.doesNotMatch(r.err, /\n\s+at |Error: E[A-Z]+:|unknown path/, `${where}: no Node error`);
  }
});

test('bad input is refused up front: an image tag with spaces or upper case, a --binary that is not a static program, nested JSON', async (t) => {
  assert.throws(
    () => checkImageRef('127.0.0.1:5000/My Image:t', '--tag'),
    /--tag "127\.0\.0\.1:5000\/My Image:t": not an image reference/,
  );
  assert.throws(() => checkImageRef('127.0.0.1:5000/Aleph:test', '--tag'), /not an image reference/);
  // A registry host is dot-separated names, never ".." (hostile pass 7: `--tag ../x` reached the engine).
  for (const ref of ['../x', 'a..b/x', '.a/x', 'a./x'])
    assert.throws(() => checkImageRef(ref, '--tag'), /not an image reference/, ref);
  assert.equal(
    checkImageRef('registry-1.docker.io/library/busybox:1.36', '--image'),
    'registry-1.docker.io/library/busybox:1.36',
  );
  assert.equal(checkImageRef('127.0.0.1:5000/gomelctl-it-ab12:t', '--tag'), '127.0.0.1:5000/gomelctl-it-ab12:t');
  const p = await gomelProject(t);
  const tag = await cli(['image', 'rebuild', '--tag', 'Bad Tag', ...p.flags]);
  assert.equal(tag.code, 2);
  const script = path.join(p.root, 'gomel.sh');
  await fs.writeFile(script, '#!/bin/sh\necho hi\n', { mode: 0o644 });
  const notExec = await cli(['image', 'rebuild', '--binary', script, ...p.flags]);
  assert.equal(notExec.code, 1);
  assert.match(notExec.err, /gomel\.sh: is not executable; gomel must be a static x86-64 program/);
  assert.deepEqual(inspectBinary(new TextEncoder().encode('#!/bin/sh\n'), 0o755), {
    kind: 'script',
    interpreter: '/bin/sh',
  });
  assert.equal(
    inspectBinary(new Uint8Array(await fs.readFile(process.execPath)).subarray(0, 4096), 0o755).kind,
    'refused',
    'node is dynamically linked',
  );
  const deep = path.join(p.configs, 'deep.json');
  await fs.writeFile(deep, `${'['.repeat(100000)}${']'.repeat(100000)}`);
  const nested = await cli(['config', 'check', 'deep', ...p.flags]);
  assert.equal(nested.code, 1);
  assert.match(nested.out, /nested more than 64 levels deep/);
});

test('a staged folder never swaps in a file it created ahead but was not given, and discarding leaves nothing', async (t) => {
  const root = await tempDir(t);
  const dir = path.join(root, 'keys');
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, 'committee.ka'), 'old\n');
  const leftovers = async () => (await fs.readdir(root)).filter((name) => name !== 'keys');

  const short = await stageFolder(dir, ['0.pk', '1.pk']);
  await assert.rejects(
    short.commit([{ name: '0.pk', content: 'zero\n', mode: 0o600 }]),
    /staged 1\.pk but not written/,
  );
  assert.deepEqual(await fs.readdir(dir), ['committee.ka']);
  assert.deepEqual(await leftovers(), []);

  const dropped = await stageFolder(dir, ['0.pk']);
  await dropped.discard();
  assert.deepEqual(await leftovers(), []);

  const full = await stageFolder(dir, ['0.pk']);
  await full.commit([
    { name: '0.pk', content: 'zero\n', mode: 0o600 },
    { name: 'committee.ka', content: 'new\n', mode: 0o644 },
  ]);
  await full.discard(); // after a commit: a no-op
  assert.equal(await fs.readFile(path.join(dir, '0.pk'), 'utf8'), 'zero\n');
  assert.equal((await fs.stat(path.join(dir, '0.pk'))).mode & 0o777, 0o600);
  assert.equal(await fs.readFile(path.join(dir, 'committee.ka'), 'utf8'), 'new\n');
  assert.deepEqual(await leftovers(), []);
});

test('without `sync -f` (no sync on the PATH) every file is fsynced instead, and the committee is the same', async (t) => {
  const root = await tempDir(t);
  const defaultColumns = DOCKER_CONFIGS; // its config.json: 3 Sync entries, the default columns (a folder not there is now refused)
  const seed = '22'.repeat(32);
  assert.equal(
    (
      await cli([
        'keys',
        'gen',
        '--keys',
        path.join(root, 'with'),
        '--n',
        '600',
        '--seed',
        seed,
        '--configs',
        defaultColumns,
      ])
    ).code,
    0,
  );
  // Count the fsyncs keys gen makes (FileHandle.sync, in this process): none with `sync -f`, one a file without.
  const probe = await fs.open(path.join(root, 'with', 'committee.ka'), 'r');
  const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
  await probe.close();
  const original = proto.sync;
  let fsyncs = 0;
  proto.sync = function (this: unknown) {
    fsyncs++;
    return original.call(this);
  };
  const savedPath = process.env.PATH;
  try {
    assert.equal(
      (
        await cli([
          'keys',
          'gen',
          '--keys',
          path.join(root, 'synced'),
          '--n',
          '600',
          '--seed',
          seed,
          '--configs',
          defaultColumns,
        ])
      ).code,
      0,
    );
    assert.ok(fsyncs <= 2, `with \`sync -f\` no file is fsynced one by one (${fsyncs} fsyncs)`);
    fsyncs = 0;
    process.env.PATH = path.join(root, 'empty-bin');
    // The precondition: here `sync -f` cannot run, so keys gen must take the fsync path.
    await assert.rejects(promisify(execFile)('sync', ['-f', root]), /ENOENT/);
    const r = await cli([
      'keys',
      'gen',
      '--keys',
      path.join(root, 'without'),
      '--n',
      '600',
      '--seed',
      seed,
      '--configs',
      defaultColumns,
    ]);
    assert.equal(r.code, 0, r.err);
  } finally {
    process.env.PATH = savedPath;
    proto.sync = original;
  }
  const written = (await fs.readdir(path.join(root, 'without'))).length;
  assert.ok(fsyncs >= written, `every one of the ${written} files was fsynced (${fsyncs} fsyncs)`);
  assert.deepEqual(await snapshot(path.join(root, 'without')), await snapshot(path.join(root, 'with')));
  assert.equal((await cli(['keys', 'verify', '--keys', path.join(root, 'without')])).code, 0);
});
