// Issue 25, keys, locks, recovery and config sync: each case (by its id) reproduced
// first, then held. The folders live in temp dirs; the engine is never used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { cli, copyLogs, DOCKER_CONFIGS, REPO, snapshot, tempDir, until } from './helpers.js';
import { withLock } from '../src/fs/lock.js';

type T = Parameters<typeof tempDir>[0];

/**
 * A config folder whose config.json asks for gomel's default columns (3 Sync entries: 9000, 10000,
 * 11000). A folder not there no longer means the default columns: a named config must be there (B5).
 */
const DEFAULT_COLUMNS = DOCKER_CONFIGS;

/** A fresh root with an 8-node committee in root/k (the default columns). */
async function committee(t: T, n = '8') {
  const root = await tempDir(t);
  const k = path.join(root, 'k');
  const r = await cli(['keys', 'gen', '--n', n, '--keys', k, '--configs', DEFAULT_COLUMNS]);
  assert.equal(r.code, 0, r.err);
  return { root, k };
}

test('N27: a .pk whose third field is the RMC secret in decimal: no digit of it in any message', async (t) => {
  const { k } = await committee(t);
  const [sk, rmc] = (await fs.readFile(path.join(k, '3.pk'), 'utf8')).trim().split(' ');
  const decimal = BigInt(`0x${Buffer.from(rmc!, 'base64').toString('hex')}`).toString();
  await fs.writeFile(path.join(k, '3.pk'), `${sk} ${rmc} ${decimal}\n`);
  for (const args of [
    ['keys', 'verify', '--keys', k],
    ['keys', 'verify', '--committee', path.join(k, 'committee.ka'), '--pk', path.join(k, '3.pk')],
    ['keys', 'gen', '--n', '9', '--keys', k],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.err, /3\.pk:1: field 3 \(the pid\) is not a pid in 0\.\.65534/);
    const digits = `${decimal.slice(0, 6)}|${decimal[0]}\\.${decimal.slice(1, 6)}`;
    assert.doesNotMatch(r.err + r.out, new RegExp(digits), 'no leading digits of the secret');
  }
});

// ---- helpers for the cases below

const BIN = path.join(REPO, 'bin/gomelctl');
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** The CLI as another process: as `nobody` for the permission cases (root ignores modes). */
function runAs(args: string[], uid?: number): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_HOST: 'unix:///tmp/no-such.sock' },
    ...(uid !== undefined ? { uid, gid: uid } : {}),
    timeout: 90_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function chownTree(p: string, uid: number): Promise<void> {
  await fs.chown(p, uid, uid);
  if ((await fs.lstat(p)).isDirectory()) for (const e of await fs.readdir(p)) await chownTree(path.join(p, e), uid);
}

/** A process's start time as the lock records it (field 22 of /proc/<pid>/stat). */
async function startTime(pid: number): Promise<string> {
  const text = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19]!;
}

/** A tmpfs at a fresh folder, unmounted before its folder is removed; undefined where mounting is not allowed. */
async function tmpfs(t: T, size: string): Promise<{ root: string; mount: string } | undefined> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gomelctl-test-'));
  const mount = path.join(root, 'mnt');
  await fs.mkdir(mount);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mount]).status === 0;
  t.after(async () => {
    if (mounted) spawnSync('umount', [mount]);
    await fs.rm(root, { recursive: true, force: true });
  });
  return mounted ? { root, mount } : undefined;
}

const lines = async (file: string) => (await fs.readFile(file, 'utf8')).trimEnd().split('\n').length;
const hidden = async (root: string) => (await fs.readdir(root)).filter((e) => e.startsWith('.'));

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = Date.now();
  const r = await fn();
  return [r, Date.now() - t0];
}

// ---- crash recovery by generation

test('N7: of two folders left aside, the newest generation is restored, whatever the directory order; the older is removed', async (t) => {
  for (let round = 0; round < 6; round++) {
    const { root, k } = await committee(t); // A: 8 nodes
    await fs.rename(k, path.join(root, 'A'));
    assert.equal((await cli(['keys', 'gen', '--n', '10', '--keys', k, '--configs', DEFAULT_COLUMNS])).code, 0); // C: 10 nodes
    const a = `.k.old-${2 + round}-${randomBytes(6).toString('hex')}`;
    const c = `.k.old-${10 + round}-${randomBytes(6).toString('hex')}`; // "10" sorts before "2" as text
    await fs.rename(path.join(root, 'A'), path.join(root, a));
    await fs.rename(k, path.join(root, c)); // as if killed between the renames of a later run
    const r = await cli(['keys', 'verify', '--keys', k]);
    assert.equal(r.code, 0, r.err);
    assert.equal(await lines(path.join(k, 'committee.ka')), 10, `round ${round}: the newest committee`);
    assert.deepEqual(await hidden(root), [], 'the superseded one is gone');
  }
});

test('N7: a folder left aside by a finished run (killed before removing it) is cleared by the next keys gen, never restored later', async (t) => {
  const { root, k } = await committee(t);
  await fs.cp(k, path.join(root, `.k.old-1-${randomBytes(6).toString('hex')}`), { recursive: true }); // the pre-regenerate committee
  assert.equal((await cli(['keys', 'gen', '--n', '10', '--keys', k, '--configs', DEFAULT_COLUMNS])).code, 0);
  assert.deepEqual(await hidden(root), []);
});

test('N16, N17: --keys k/../k, k/. and /abs/./k/../k resize the folder in place of k, leaving nothing aside', async (t) => {
  const { root, k } = await committee(t);
  for (const [spelling, n] of [
    [`${k}/../k`, '10'],
    [`${k}/.`, '11'],
    [`${root}/./k/../k`, '12'],
  ] as const) {
    const r = await cli(['keys', 'gen', '--n', n, '--keys', spelling, '--configs', DEFAULT_COLUMNS]);
    assert.equal(r.code, 0, `${spelling}: ${r.err}`);
    assert.equal(await lines(path.join(k, 'committee.ka')), Number(n));
    assert.deepEqual((await fs.readdir(root)).sort(), ['k'], spelling);
  }
});

test(
  'N19: a keys folder that is a mount point is updated file by file, each atomically',
  { skip: !isRoot },
  async (t) => {
    const m = await tmpfs(t, '4m');
    if (!m) return t.skip('no mount here');
    const { mount: k } = m;
    for (const n of ['4', '9', '6']) {
      const r = await cli(['keys', 'gen', '--n', n, '--keys', k, '--configs', DEFAULT_COLUMNS]);
      assert.equal(r.code, 0, r.err);
      assert.equal(await lines(path.join(k, 'committee.ka')), Number(n));
    }
    assert.deepEqual((await fs.readdir(k)).filter((e) => e.endsWith('.pk')).sort(), [
      '0.pk',
      '1.pk',
      '2.pk',
      '3.pk',
      '4.pk',
      '5.pk',
    ]);
    assert.deepEqual(
      (await fs.readdir(k)).filter((e) => e.startsWith('.gomelctl-') && e !== '.gomelctl-history.json'),
      [],
      'no staging left',
    );
    assert.equal((await cli(['keys', 'verify', '--keys', k])).code, 0);
  },
);

test(
  'N19: a keys gen killed inside a mount point after its set was complete is rolled forward by the next command',
  { skip: !isRoot },
  async (t) => {
    const m = await tmpfs(t, '4m');
    if (!m) return t.skip('no mount here');
    const { root, mount: k } = m;
    assert.equal((await cli(['keys', 'gen', '--n', '4', '--keys', k, '--configs', DEFAULT_COLUMNS])).code, 0);
    // What a run leaves when killed just after marking its set complete: a commit folder inside.
    const other = path.join(root, 'other');
    assert.equal(
      (
        await cli([
          'keys',
          'gen',
          '--n',
          '4',
          '--keys',
          other,
          '--configs',
          DEFAULT_COLUMNS,
          '--seed',
          (await fs.readFile(path.join(k, 'seed'), 'utf8')).trim(),
        ])
      ).code,
      0,
    );
    assert.equal((await cli(['keys', 'gen', '--n', '7', '--keys', other, '--configs', DEFAULT_COLUMNS])).code, 0);
    await fs.cp(other, path.join(k, '.gomelctl-commit-3'), { recursive: true });
    await fs.writeFile(path.join(k, '.gomelctl-commit-3', '.remove'), '[]');
    await fs.mkdir(path.join(k, '.gomelctl-new-4')); // and an incomplete one after it
    const r = await cli(['keys', 'verify', '--keys', k]);
    assert.equal(r.code, 0, r.err);
    assert.equal(await lines(path.join(k, 'committee.ka')), 7);
    assert.deepEqual(
      (await fs.readdir(k)).filter((e) => e.startsWith('.gomelctl-') && e !== '.gomelctl-history.json'),
      [],
    );
  },
);

// ---- locks that cannot strand a user

test('N11, N102: a dead-pid or pid-1 lock does not block a keys gen or a config sync (an empty or garbage one is no lock of ours: refused and kept, B3 below)', async (t) => {
  const { root, k } = await committee(t);
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
  const dead = spawnSync('true').pid!;
  let n = 8;
  for (const content of [`${dead}\n`, `${dead} 123\n`, '1\n', `1 ${await startTime(1).catch(() => '1')}9\n`]) {
    await fs.writeFile(path.join(root, '.k.lock'), content);
    await fs.writeFile(path.join(root, '.configs.lock'), content);
    const [r, ms] = await timed(() => cli(['keys', 'gen', '--n', String(++n), '--keys', k, '--configs', configs]));
    assert.equal(r.code, 0, `${JSON.stringify(content)}: ${r.err}`);
    assert.ok(ms < 10_000, `${JSON.stringify(content)}: took ${ms} ms`);
    const [s, ms2] = await timed(() => cli(['config', 'sync', '--keys', k, '--configs', configs]));
    assert.equal(s.code, 0, s.err);
    assert.ok(ms2 < 10_000, `${JSON.stringify(content)}: config sync took ${ms2} ms`);
  }
});

test(
  'B3: a lock that is a FIFO, a link to /dev/zero or a file of other text is refused in one line naming it, not waited on, read or removed',
  { timeout: 60_000 }, // before the fix the FIFO hung keys gen and report forever
  async (t) => {
    const { root, k } = await committee(t);
    const lock = path.join(root, '.k.lock');
    const before = await snapshot(k);
    for (const [make, kind] of [
      [() => execFileSync('mkfifo', [lock]), 'a named pipe \\(FIFO\\)'],
      [() => fs.symlink('/dev/zero', lock), 'a symbolic link'],
    ] as const) {
      await fs.rm(lock, { force: true });
      await make();
      const r = await cli(['keys', 'gen', '--n', '9', '--keys', k]);
      assert.equal(r.code, 1, r.err);
      assert.equal(r.err.split('\n').length, 1, r.err);
      assert.match(
        r.err,
        new RegExp(`${lock}: is ${kind}, not a lock file gomelctl wrote .* — remove it and run again$`),
      );
      assert.deepEqual(await snapshot(k), before, 'the committee is unchanged');
      assert.ok((await fs.lstat(lock)).isFIFO() || (await fs.lstat(lock)).isSymbolicLink(), 'what is not ours is left');
    }
    // A regular file that is no lock of ours (its text, or its size) is someone else's: refused and kept.
    for (const text of ['my notes, not a lock\n', `${'9'.repeat(100)}\n`, '', 'garbage\n']) {
      await fs.rm(lock, { force: true });
      await fs.writeFile(lock, text);
      const r = await cli(['keys', 'gen', '--n', '9', '--keys', k]);
      assert.equal(r.code, 1, r.err);
      assert.match(
        r.err,
        new RegExp(`${lock}: is a file whose text is no lock gomelctl wrote .* — remove it and run again$`),
      );
      assert.equal(await fs.readFile(lock, 'utf8'), text, "the user's file is kept");
      assert.deepEqual(await snapshot(k), before, 'the committee is unchanged');
    }
    const logs = await copyLogs(t, 'swarm-8');
    const logsLock = path.join(path.dirname(logs), '.swarm-8.lock');
    execFileSync('mkfifo', [logsLock]);
    const r = await cli(['report', '--logs', logs]);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, new RegExp(`${logsLock}: is a named pipe \\(FIFO\\), not a lock file gomelctl wrote`));
  },
);

test("N18: a command's own lock is re-entered, not waited on (--configs k --keys k)", async (t) => {
  const { k } = await committee(t);
  // A keys folder holds no config.json (it would be a file gomelctl does not manage there), and a
  // named --configs must hold the config (B5): refused before any lock is taken.
  const [r, ms] = await timed(() => cli(['keys', 'gen', '--n', '10', '--keys', k, '--configs', k]));
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--config config: there is no .*k\/config\.json/);
  assert.ok(ms < 10_000, `took ${ms} ms`);
  let inner = false;
  await withLock(k, () => withLock(k, async () => void (inner = true), 200));
  assert.ok(inner);
});

test('N4: config sync while a keys gen sits between its two renames waits on its lock and reads the new committee', async (t) => {
  const { root, k } = await committee(t);
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
  const next = path.join(root, 'next');
  await fs.cp(k, next, { recursive: true });
  assert.equal((await cli(['keys', 'gen', '--n', '16', '--keys', next, '--configs', DEFAULT_COLUMNS])).code, 0);
  // The writer: a live process holding k's lock, k moved aside, the new folder not yet in place.
  const writer = spawn('sleep', ['30']);
  t.after(() => void writer.kill());
  await fs.writeFile(path.join(root, '.k.lock'), `${writer.pid} ${await startTime(writer.pid!)}\n`);
  await fs.rename(k, path.join(root, '.k.old-1-abcdef'));
  setTimeout(() => {
    void (async () => {
      await fs.rename(next, k);
      await fs.rm(path.join(root, '.k.old-1-abcdef'), { recursive: true });
      await fs.rm(path.join(root, '.k.lock'));
    })();
  }, 1500);
  const r = await cli(['config', 'sync', '--keys', k, '--configs', configs]);
  assert.equal(r.code, 0, r.err);
  assert.match(await fs.readFile(path.join(configs, 'config.json'), 'utf8'), /"NParents": 16/);
});

test('N9: a writer killed but not reaped (a zombie) holds no lock: its leftovers are recovered at once', async (t) => {
  const { root, k } = await committee(t);
  // The child becomes a zombie: its parent shell execs into a sleep that never reaps it, and only then
  // is the child killed. (A child that exited by itself could end before the exec, and the shell reaped
  // it: under load /proc/<pid> was gone.)
  const parent = spawn('sh', ['-c', 'sleep 300 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => void parent.kill());
  const zombie = Number(await new Promise<string>((r) => parent.stdout.once('data', (d: Buffer) => r(d.toString()))));
  await until(
    async () => (await fs.readFile(`/proc/${parent.pid}/cmdline`, 'utf8')).startsWith('sleep\u000030'),
    () => `the parent of ${zombie} has not become its sleep`,
  );
  process.kill(zombie, 'SIGKILL');
  // A zombie, not merely a process that has yet to exit: until its state says so.
  await until(
    async () => (await fs.readFile(`/proc/${zombie}/stat`, 'utf8')).includes(') Z '),
    () => `process ${zombie} is not a zombie`,
  );
  // The lock as this gomelctl writes it, and as an older one did (the pid alone).
  for (const lock of [`${zombie} ${await startTime(zombie)}\n`, `${zombie}\n`]) {
    await fs.writeFile(path.join(root, '.k.lock'), lock);
    await fs.rename(k, path.join(root, '.k.old-1-abcdef'));
    const [r, ms] = await timed(() => cli(['keys', 'verify', '--keys', k]));
    assert.equal(r.code, 0, r.err);
    assert.ok(ms < 10_000, `took ${ms} ms`);
  }
});

test(
  'N13: a keys gen or config sync that changes nothing needs no lock: a read-only parent folder is fine',
  { skip: !isRoot },
  async (t) => {
    const { root, k } = await committee(t);
    const configs = path.join(root, 'configs');
    await fs.mkdir(configs);
    await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
    assert.equal((await cli(['config', 'sync', '--keys', k, '--configs', configs])).code, 0);
    await chownTree(root, NOBODY);
    await fs.chmod(root, 0o555);
    const gen = runAs(['keys', 'gen', '--keys', k, '--configs', DEFAULT_COLUMNS], NOBODY);
    assert.equal(gen.code, 0, gen.err);
    assert.match(gen.out, /nothing to change/);
    const sync = runAs(['config', 'sync', '--keys', k, '--configs', configs], NOBODY);
    assert.equal(sync.code, 0, sync.err);
    assert.match(sync.out, /up to date/);
  },
);

test(
  'N12: config sync in a read-only configs folder fails before saying "updated", naming the folder',
  { skip: !isRoot },
  async (t) => {
    const { root, k } = await committee(t);
    const configs = path.join(root, 'configs');
    await fs.mkdir(configs);
    await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
    assert.equal((await cli(['keys', 'gen', '--n', '4', '--keys', k, '--configs', DEFAULT_COLUMNS])).code, 0);
    await chownTree(root, NOBODY);
    await fs.chmod(configs, 0o555);
    const r = runAs(['config', 'sync', '--keys', k, '--configs', configs], NOBODY);
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.out, /updated/);
    assert.match(r.err, new RegExp(`${configs}: permission denied`));
    assert.equal(r.err.trim().split('\n').length, 1);
  },
);

test(
  'N14: a keys folder we may not read is "permission denied" naming it, not "no committee file"',
  { skip: !isRoot },
  async (t) => {
    const { root, k } = await committee(t);
    await chownTree(root, NOBODY);
    await fs.chmod(k, 0o000);
    for (const args of [
      ['keys', 'verify', '--keys', k],
      ['keys', 'show', '--keys', k],
      ['keys', 'gen', '--n', '9', '--keys', k],
    ]) {
      const r = runAs(args, NOBODY);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.err, new RegExp(`${k}: permission denied`), args.join(' '));
      assert.doesNotMatch(r.err, /no committee file/);
    }
  },
);

test(
  'N10, N11: a full disk names the keys folder, not "(unknown path)", and leaves no lock behind',
  { skip: !isRoot },
  async (t) => {
    const m = await tmpfs(t, '128k');
    if (!m) return t.skip('no mount here');
    const { mount: full } = m;
    const k = path.join(full, 'k');
    assert.equal((await cli(['keys', 'gen', '--n', '8', '--keys', k, '--configs', DEFAULT_COLUMNS])).code, 0);
    const big = await cli(['keys', 'gen', '--n', '1000', '--keys', k, '--configs', DEFAULT_COLUMNS]);
    assert.equal(big.code, 1);
    assert.match(big.err, new RegExp(`${k}: no space left on the device`));
    assert.equal(await lines(path.join(k, 'committee.ka')), 8, 'the old committee intact');
    await fs.writeFile(path.join(full, 'fill'), Buffer.alloc(200 * 1024)).catch(() => undefined); // the disk entirely full
    const r = await cli(['keys', 'gen', '--n', '9', '--keys', k, '--configs', DEFAULT_COLUMNS]);
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.err, /unknown path/);
    assert.deepEqual(
      (await fs.readdir(full)).filter((e) => e.endsWith('.lock')),
      [],
      'no empty lock left',
    );
    await fs.rm(path.join(full, 'fill'));
    const [again, ms] = await timed(() => cli(['keys', 'gen', '--n', '9', '--keys', k, '--configs', DEFAULT_COLUMNS]));
    assert.equal(again.code, 0, again.err);
    assert.ok(ms < 10_000);
  },
);

// ---- nothing deleted that gomelctl did not write; kept keys byte-identical

test('N32: a 07.pk beside 7.pk is reported by verify and kept, byte for byte, by keys gen', async (t) => {
  const { root, k } = await committee(t);
  const o = path.join(root, 'o');
  assert.equal((await cli(['keys', 'gen', '--n', '8', '--keys', o, '--configs', DEFAULT_COLUMNS])).code, 0);
  const stray = (await fs.readFile(path.join(o, '3.pk'), 'utf8')).replace(/ \d+\n$/, ' 7\n');
  await fs.writeFile(path.join(k, '07.pk'), stray, { mode: 0o600 });
  const verify = await cli(['keys', 'verify', '--keys', k]);
  assert.equal(verify.code, 1);
  assert.match(verify.err, /07\.pk: not a member file name: gomel opens 7\.pk/);
  const gen = await cli(['keys', 'gen', '--n', '10', '--keys', k, '--configs', DEFAULT_COLUMNS]);
  assert.equal(gen.code, 0, gen.err);
  assert.match(gen.out, /kept 07\.pk/);
  assert.equal(await fs.readFile(path.join(k, '07.pk'), 'utf8'), stray);
});

test('N30: kept member files with CRLF, tabs, no final newline or "03" keep their bytes across a resize', async (t) => {
  const { k } = await committee(t);
  const odd: Record<string, (s: string) => string> = {
    '1.pk': (s) => s.replace('\n', '\r\n'),
    '2.pk': (s) => s.replace(/ /g, '\t'),
    '3.pk': (s) => s.trimEnd(),
    '4.pk': (s) => s.replace(/ 4\n$/, ' 04\n'),
  };
  const before: Record<string, string> = {};
  for (const [name, edit] of Object.entries(odd)) {
    before[name] = edit(await fs.readFile(path.join(k, name), 'utf8'));
    await fs.writeFile(path.join(k, name), before[name]!);
  }
  const r = await cli(['keys', 'gen', '--n', '10', '--keys', k, '--configs', DEFAULT_COLUMNS]);
  assert.equal(r.code, 0, r.err);
  for (const name of Object.keys(odd)) assert.equal(await fs.readFile(path.join(k, name), 'utf8'), before[name], name);
  assert.equal((await cli(['keys', 'verify', '--keys', k])).code, 0);
});

// ---- --addresses

test('A12, N100: --addresses with ragged columns or one address twice is refused up front, naming the lines', async (t) => {
  const root = await tempDir(t);
  const k = path.join(root, 'k');
  const cases: [string, RegExp][] = [
    [
      '|a1:9000 a1:9001\n|a2:9000\n|a3:9000 a3:9001\n|a4:9000 a4:9001\n',
      /r\.txt:2: 0 setup and 1 address columns, line 1 has 0 and 2/,
    ],
    ['a1:8000|a1:9000\n|a2:9000\n|a3:9000\n|a4:9000\n', /r\.txt:2: 0 setup and 1 address columns, line 1 has 1 and 1/],
    ['|a:9000\n|a:9000\n|c:9000\n|d:9000\n', /r\.txt:2: address "a:9000" is also on line 1/],
  ];
  for (const [text, message] of cases) {
    await fs.writeFile(path.join(root, 'r.txt'), text);
    const r = await cli(['keys', 'gen', '--keys', k, '--addresses', path.join(root, 'r.txt')]);
    assert.equal(r.code, 1, text);
    assert.match(r.err, message);
    assert.deepEqual(await fs.readdir(root), ['r.txt'], 'nothing written');
  }
});

// ---- config sync: links, modes, owners; NParents follows a resize whatever the folders

async function configsWith(root: string, nParents = 8) {
  const c = path.join(root, 'c');
  await fs.mkdir(c, { recursive: true });
  const text = (await fs.readFile(path.join(REPO, 'configs/config.json'), 'utf8')).replace(
    /"NParents": \d+/,
    `"NParents": ${nParents}`,
  );
  await fs.writeFile(path.join(c, 'config.json'), text);
  return c;
}

test('A13: a config that is a symbolic link is synced through the link; the link stays a link', async (t) => {
  const { root, k } = await committee(t);
  const real = path.join(root, 'real');
  await fs.mkdir(real);
  await fs.copyFile(path.join(await configsWith(root), 'config.json'), path.join(real, 'config.json'));
  const c = path.join(root, 'c2');
  await fs.mkdir(c);
  await fs.symlink('../real/config.json', path.join(c, 'config.json'));
  assert.equal((await cli(['keys', 'gen', '--n', '4', '--keys', k, '--configs', DEFAULT_COLUMNS])).code, 0);
  const r = await cli(['config', 'sync', '--configs', c, '--keys', k]);
  assert.equal(r.code, 0, r.err);
  assert.ok((await fs.lstat(path.join(c, 'config.json'))).isSymbolicLink(), 'still a link');
  assert.match(await fs.readFile(path.join(real, 'config.json'), 'utf8'), /"NParents": 4,/);
});

test("A14: config sync keeps a config's mode and owner", { skip: !isRoot }, async (t) => {
  const { root, k } = await committee(t);
  const c = await configsWith(root);
  const file = path.join(c, 'config.json');
  await fs.chmod(file, 0o640);
  await fs.chown(file, 1234, 1235);
  assert.equal((await cli(['keys', 'gen', '--n', '4', '--keys', k, '--configs', DEFAULT_COLUMNS])).code, 0);
  assert.equal((await cli(['config', 'sync', '--configs', c, '--keys', k])).code, 0);
  const st = await fs.stat(file);
  assert.equal(st.mode & 0o777, 0o640);
  assert.deepEqual([st.uid, st.gid], [1234, 1235]);
  assert.match(await fs.readFile(file, 'utf8'), /"NParents": 4,/);
});

test('NParents follows a resize whatever folders are used: the size before it is kept with the committee', async (t) => {
  const { root, k } = await committee(t);
  const c = await configsWith(root); // never synced, not the configs folder keys gen saw
  assert.equal((await cli(['keys', 'gen', '--n', '16', '--keys', k, '--configs', DEFAULT_COLUMNS])).code, 0);
  const r = await cli(['config', 'sync', '--configs', c, '--keys', k]);
  assert.equal(r.code, 0, r.err);
  assert.match(await fs.readFile(path.join(c, 'config.json'), 'utf8'), /"NParents": 16,/);
});

// ---- paths: folders, files, links

test('A8: a config.json that is a folder, and --keys under a file, are named by their real path', async (t) => {
  const { root, k } = await committee(t);
  const c = path.join(root, 'c');
  await fs.mkdir(path.join(c, 'config.json'), { recursive: true });
  const check = await cli(['config', 'check', '--configs', c, '--keys', k]);
  assert.equal(check.code, 1);
  assert.match(check.err, new RegExp(`${c}/config\\.json: is a folder`));
  await fs.writeFile(path.join(root, 'afile'), 'x\n');
  const under = await cli(['keys', 'gen', '--n', '4', '--keys', path.join(root, 'afile', 'sub')]);
  assert.equal(under.code, 1);
  assert.match(under.err, new RegExp(`${root}/afile: is a file, not a folder`));
});

test('N99: a chain of links to a keys folder works alike in gen and verify; a loop of links is named as one', async (t) => {
  const { root, k } = await committee(t);
  await fs.symlink(k, path.join(root, 'kl1'));
  await fs.symlink('kl1', path.join(root, 'kl2'));
  const gen = await cli(['keys', 'gen', '--n', '10', '--keys', path.join(root, 'kl2'), '--configs', DEFAULT_COLUMNS]);
  assert.equal(gen.code, 0, gen.err);
  assert.ok((await fs.lstat(path.join(root, 'kl2'))).isSymbolicLink());
  assert.equal(await lines(path.join(k, 'committee.ka')), 10);
  assert.equal((await cli(['keys', 'verify', '--keys', path.join(root, 'kl2')])).code, 0);
  await fs.symlink('lb', path.join(root, 'la'));
  await fs.symlink('la', path.join(root, 'lb'));
  for (const args of [
    ['keys', 'verify'],
    ['keys', 'gen', '--n', '4'],
    ['config', 'check'],
  ]) {
    const r = await cli([...args, '--keys', path.join(root, 'la')]);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.err, /la: is a loop of symbolic links/, args.join(' '));
  }
});

// ---- nothing secret in any output, whatever option a key file or the seed was passed to

test('a key file or the seed passed to any other option is refused by name, and not a character of it is printed', async (t) => {
  const { root, k } = await committee(t);
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
  const [sk, rmc] = (await fs.readFile(path.join(k, '3.pk'), 'utf8')).trim().split(' ') as [string, string];
  const seed = (await fs.readFile(path.join(k, 'seed'), 'utf8')).trim();
  // Any 8 characters in a row of a secret in the output is a leak.
  const windows = [sk, rmc, seed].flatMap((s) => Array.from({ length: s.length - 7 }, (_, i) => s.slice(i, i + 8)));
  const leaks = (text: string) => windows.filter((w) => text.includes(w));
  // Copies outside the keys folder are refused by their shape.
  const copies = path.join(root, 'copies');
  await fs.mkdir(copies);
  await fs.copyFile(path.join(k, '3.pk'), path.join(copies, 'config.json'));
  await fs.copyFile(path.join(k, 'seed'), path.join(copies, 'plan.json'));
  const common = ['--keys', k, '--configs', configs];
  const cases: [string[], RegExp][] = [
    [
      ['deploy', 'spawn', ...common, '--faults', path.join(k, '3.pk')],
      /3\.pk: is a secret of the committee in .*\(a private key\), not a fault plan/,
    ],
    [
      ['deploy', 'spawn', ...common, '--faults', path.join(k, 'seed')],
      /seed: is a secret of the committee in .*\(its seed\), not a fault plan/,
    ],
    [['up', ...common, '--faults', path.join(k, '3.pk')], /3\.pk: is a secret of the committee/],
    [
      ['deploy', 'spawn', ...common, '--zones', path.join(k, '3.pk')],
      /3\.pk: is a secret of the committee .*not a zones file/,
    ],
    [['keys', 'gen', '--keys', path.join(root, 'k2'), '--addresses', path.join(k, '3.pk')], /not an addresses file/],
    [['keys', 'verify', '--committee', path.join(k, 'seed')], /seed: is a secret .*not a committee file/],
    [['image', 'rebuild', ...common, '--binary', path.join(k, '3.pk')], /3\.pk: is a secret .*not a gomel binary/],
    [
      ['config', 'check', '--keys', k, '--configs', copies, 'config'],
      /config\.json: holds what looks like a private key/,
    ],
    [
      ['deploy', 'spawn', ...common, '--faults', path.join(copies, 'plan.json')],
      /plan\.json: holds what looks like a committee seed/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    // A --faults value that names no plan is a bad flag: exit 2, nothing changed (issue 30, class 6).
    assert.equal(r.code, args.includes('--faults') ? 2 : 1, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message, args.join(' '));
    assert.deepEqual(leaks(r.out + r.err), [], `${args.join(' ')}: no secret in the output`);
  }
  // Their own readers still read them.
  assert.equal((await cli(['keys', 'verify', '--keys', k])).code, 0);
  assert.equal((await cli(['keys', 'gen', '--n', '9', '--keys', k, '--configs', DEFAULT_COLUMNS])).code, 0);
  const fromSeed = await cli([
    'keys',
    'gen',
    '--n',
    '4',
    '--keys',
    path.join(root, 'k3'),
    '--configs',
    DEFAULT_COLUMNS,
    '--seed-file',
    path.join(k, 'seed'),
  ]);
  assert.equal(fromSeed.code, 0, fromSeed.err);
});

test('a fault plan file that is not JSON is named with a position, never with its text', async (t) => {
  const { root, k } = await committee(t);
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
  await fs.writeFile(path.join(root, 'plan.json'), 'xykmdAWXb954WsBmv6z9hrXmN8hfc3cv\n');
  const r = await cli(['deploy', 'spawn', '--keys', k, '--configs', configs, '--faults', path.join(root, 'plan.json')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /plan\.json: not valid JSON( \(at character \d+\))? — a fault plan file is a JSON array/);
  assert.doesNotMatch(r.err, /xykmd/);
});
