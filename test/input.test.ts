// Issue 25: the one reading layer (src/fs/input.ts) — regular files only, symbolic
// links named, sizes capped, the user's path in every error — and the logs the
// verdict and report read through it (streamed, bounded, gzip members kept).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { cli, REPO, tempDir, VECTORS } from './helpers.js';
import { eventBudget, unitText } from '../src/core/logs/log-stats.js';
import { readInput, readInputBytes, readOptionalInput } from '../src/fs/input.js';
import { MAX_LOG_BYTES, readLogStats } from '../src/fs/node-logs.js';
import type { Verdict } from '../src/core/logs/verdict.js';

const LOGS = path.join(VECTORS, 'logs');
type T = Parameters<typeof tempDir>[0];

/** A writable copy of a vector logs folder. */
async function copyLogs(t: T, name: string): Promise<string> {
  const dir = path.join(await tempDir(t), name);
  await fs.cp(path.join(LOGS, name), dir, { recursive: true });
  execFileSync('chmod', ['-R', 'u+w', dir]);
  return dir;
}
const mkfifo = (file: string) => execFileSync('mkfifo', [file]);
const verdictJson = async (dir: string) => {
  const r = await cli(['verdict', '--logs', dir, '--json']);
  assert.ok(r.out.startsWith('{'), `verdict printed JSON (exit ${r.code}: ${r.err})`);
  return { code: r.code, err: r.err, result: JSON.parse(r.out) as Verdict };
};
const nodeOf = (v: Verdict, label: string) => v.nodes.find((n) => n.label === label)!;
/** One line of output: the error of a command, as `gomelctl: <path>: …`. */
const oneLine = (err: string) => {
  assert.equal(err.split('\n').length, 1, `one line: ${err}`);
  assert.doesNotMatch(err, /unknown path|\.tmp\b|RangeError|SyntaxError|ERR_FS|at .*\(node:/);
  return err;
};

/** A temporary folder holding configs/ with the shipped config.json. */
async function withConfigs(t: Parameters<typeof tempDir>[0]): Promise<{ root: string; configs: string }> {
  const root = await tempDir(t);
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
  return { root, configs };
}

test('input layer: FIFOs, devices, sockets and folders refused by name, links named, never a hang', async (t) => {
  const dir = await tempDir(t);
  const fifo = path.join(dir, 'pipe');
  mkfifo(fifo);
  await assert.rejects(
    readInput(fifo, 'zones file'),
    /pipe: is a named pipe \(FIFO\), not a regular file — pass a regular file$/,
  );
  await assert.rejects(
    readInput('/dev/zero', 'seed file'),
    /^InputError: \/dev\/zero: is a character device, not a regular file/,
  );
  const link = path.join(dir, 'zero');
  await fs.symlink('/dev/zero', link);
  await assert.rejects(
    readInput(link),
    new RegExp(`${link}: is a character device \\(a link to /dev/zero\\), not a regular file`),
  );
  await assert.rejects(
    readInput(dir, 'config'),
    new RegExp(`^InputError: ${dir}: is a folder, not a config — pass the file inside it$`),
  );
  await assert.rejects(
    readInput(path.join(dir, 'absent'), 'zones file'),
    /absent: no such zones file — check the path$/,
  );
  await fs.symlink('nowhere', path.join(dir, 'dangling'));
  await assert.rejects(
    readInput(path.join(dir, 'dangling')),
    /dangling: is a symbolic link to nowhere, which does not exist/,
  );
  const file = path.join(dir, 'f');
  await fs.writeFile(file, 'x');
  await assert.rejects(readInput(path.join(file, 'sub')), /f\/sub: a part of the path is a file, not a folder/);
  assert.equal(await readOptionalInput(path.join(dir, 'absent')), undefined);
  assert.equal(await readOptionalInput(file), 'x');
  await assert.rejects(readOptionalInput(fifo), /named pipe/);
});

test('input layer: sizes capped before reading (a sparse 3 GB file is one line); content read whole below the cap', async (t) => {
  const dir = await tempDir(t);
  const big = path.join(dir, 'big');
  await fs.writeFile(big, '');
  await fs.truncate(big, 3 * 1024 ** 3);
  await assert.rejects(
    readInput(big, 'member file'),
    /big: is 3 GiB, more than a member file can be \(64 KiB\) — check that this is the right file$/,
  );
  await assert.rejects(readInput(big, 'committee file'), /is 3 GiB, more than a committee file can be \(256 MiB\)/);
  await assert.rejects(readInputBytes(big), /is 3 GiB, more than a file can be \(64 MiB\)/);
  const text = 'a'.repeat(200_000) + 'é\n';
  await fs.writeFile(path.join(dir, 'ok'), text);
  assert.equal(await readInput(path.join(dir, 'ok')), text);
  await assert.rejects(
    readInput(path.join(dir, 'ok'), undefined, 100_000),
    /ok: is 195\.3 KiB, more than a file can be \(97\.7 KiB\)/,
  );
  assert.equal(
    await readInput('/proc/self/status').then((s) => s.startsWith('Name:')),
    true,
    "/proc's size-0 files are read to their end",
  );
});

test('N25, N26: --seed-file /dev/zero, --zones /dev/zero, a sparse 3 GB .pk or committee.ka: one line, exit 1', async (t) => {
  const { root, configs } = await withConfigs(t);
  const keys = path.join(root, 'keys');
  for (const seed of ['/dev/zero', '/dev/urandom']) {
    const r = await cli(['keys', 'gen', '--n', '4', '--keys', keys, '--configs', configs, '--seed-file', seed]);
    assert.equal(r.code, 1);
    assert.match(
      oneLine(r.err),
      new RegExp(`^gomelctl: ${seed}: is a character device, not a regular file — pass a regular file$`),
    );
  }
  assert.equal((await cli(['keys', 'gen', '--n', '4', '--keys', keys, '--configs', configs])).code, 0);
  const zones = await cli(['deploy', 'spawn', '--keys', keys, '--configs', configs, '--zones', '/dev/zero']);
  assert.equal(zones.code, 1);
  assert.match(oneLine(zones.err), /^gomelctl: \/dev\/zero: is a character device, not a regular file/);
  for (const [name, message] of [
    ['3.pk', /3\.pk: is 3 GiB, more than a member file can be/],
    ['committee.ka', /committee\.ka: is 3 GiB, more than a committee file can be/],
  ] as const) {
    const copy = path.join(root, `k-${name}`);
    await fs.cp(keys, copy, { recursive: true });
    await fs.truncate(path.join(copy, name), 3 * 1024 ** 3);
    const r = await cli(['keys', 'verify', '--keys', copy]);
    assert.equal(r.code, 1, r.err);
    assert.match(oneLine(r.err), message);
  }
});

test('N63: a FIFO as a node log or as exit_status does not hang the verdict', { timeout: 30_000 }, async (t) => {
  const logDir = await copyLogs(t, 'swarm-8');
  await fs.rm(path.join(logDir, 'node2/1.config.log.gz'));
  mkfifo(path.join(logDir, 'node2/1.config.log'));
  const { code, result } = await verdictJson(logDir);
  assert.equal(code, 1);
  const node2 = nodeOf(result, 'node2');
  assert.equal(node2.reached, false);
  assert.match(
    node2.reasons[0]!,
    /^log unreadable: .*node2\/1\.config\.log: is a named pipe \(FIFO\), not a regular file/,
  );
  assert.ok(nodeOf(result, 'node1').reached, 'the other nodes are judged');

  const statusDir = await copyLogs(t, 'swarm-8');
  await fs.rm(path.join(statusDir, 'node3/exit_status'));
  mkfifo(path.join(statusDir, 'node3/exit_status'));
  const r = await cli(['verdict', '--logs', statusDir]);
  assert.equal(r.code, 1);
  assert.match(
    oneLine(r.err),
    /node3\/exit_status: is a named pipe \(FIFO\), not a regular file — pass a regular file$/,
  );
});

test('N25 (logs), N73, N74: stderr.txt linked to /dev/zero, a malformed task.json, exit_status a folder: one line naming the file', async (t) => {
  const zero = await copyLogs(t, 'swarm-8');
  await fs.rm(path.join(zero, 'node3/stderr.txt'));
  await fs.symlink('/dev/zero', path.join(zero, 'node3/stderr.txt'));
  const z = await cli(['verdict', '--logs', zero]);
  assert.equal(z.code, 1);
  assert.match(
    oneLine(z.err),
    /node3\/stderr\.txt: is a character device \(a link to \/dev\/zero\), not a regular file/,
  );

  const task = await copyLogs(t, 'swarm-8');
  await fs.writeFile(path.join(task, 'node2/task.json'), '{bad');
  const bad = await cli(['verdict', '--logs', task]);
  assert.equal(bad.code, 1);
  assert.match(
    oneLine(bad.err),
    /node2\/task\.json: not valid JSON \(at character 1\) — collect the logs again with `gomelctl deploy logs`, or remove the file$/,
  );
  await fs.writeFile(path.join(task, 'node2/task.json'), '[1]');
  assert.match(
    oneLine((await cli(['verdict', '--logs', task])).err),
    /node2\/task\.json: expected a JSON object with the task's "state"/,
  );

  const folder = await copyLogs(t, 'swarm-8');
  await fs.rm(path.join(folder, 'node3/exit_status'));
  await fs.mkdir(path.join(folder, 'node3/exit_status'));
  const f = await cli(['verdict', '--logs', folder]);
  assert.equal(f.code, 1);
  assert.match(oneLine(f.err), /node3\/exit_status: is a folder, not a file/);
});

test("N71: a complete gzip member followed by garbage keeps the member's lines and names the garbage", async (t) => {
  const dir = await copyLogs(t, 'success-4');
  const file = path.join(dir, '1.log.gz');
  await fs.appendFile(file, 'junk');
  const { code, result } = await verdictJson(dir);
  assert.equal(code, 0, 'pid 1 is judged on its lines');
  const pid1 = nodeOf(result, 'pid 1');
  assert.ok(pid1.reached);
  assert.match(pid1.notes.join('; '), /4 bytes of trailing garbage after the gzip data \(from byte \d+\) ignored/);
});

test('gzip logs: several members are one log; a member whose checksum fails is named', async (t) => {
  const dir = await tempDir(t);
  const lines = Array.from({ length: 50_000 }, (_, i) => `{"E":"Z","C":${i % 4},"H":${i}}`);
  const text = `${lines.join('\n')}\n`;
  const cut = text.indexOf('\n', text.length / 2) + 1;
  const file = path.join(dir, '0.log.gz');
  // A gzip header with a file name (what `gzip file` writes), then a second member.
  const named = gzipSync(text.slice(0, cut));
  const header = Buffer.from([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3, ...Buffer.from('0.log\0')]);
  await fs.writeFile(file, Buffer.concat([header, named.subarray(10), gzipSync(text.slice(cut)), Buffer.alloc(16)]));
  const { stats, problem } = await readLogStats(file);
  assert.equal(problem, undefined, 'zero padding after the last member is fine');
  assert.equal(stats!.order.length, 50_000);
  assert.equal(unitText(stats!.order[49_999]!), '3:49999');
  const corrupt = gzipSync(text);
  corrupt.writeUInt32LE(corrupt.readUInt32LE(corrupt.length - 8) ^ 1, corrupt.length - 8);
  await fs.writeFile(file, corrupt);
  assert.match(
    (await readLogStats(file)).problem!,
    /log corrupt: the gzip member ending at byte \d+ fails its checksum/,
  );
  await fs.writeFile(file, corrupt.subarray(0, corrupt.length - 4));
  assert.equal((await readLogStats(file)).problem, 'log truncated (the gzip stream ends early)');
  await fs.writeFile(file, 'plain text, not gzip\n');
  assert.match((await readLogStats(file)).problem!, /not gzip data/);
});

test('N66: a small .gz that inflates past the cap stops there, is not judged, and names the log', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, '2.log.gz');
  const zLines = Buffer.from('{"C":1,"H":1,"T":9,"E":"Z"}\n'.repeat(40_000)); // ~1 MiB
  await fs.writeFile(file, gzipSync(Buffer.concat(Array.from({ length: 8 }, () => zLines)), { level: 9 }));
  assert.ok((await fs.stat(file)).size < 64 * 1024);
  let seen = 0;
  const { stats, problem } = await readLogStats(file, () => seen++, 1024 * 1024);
  assert.equal(stats, undefined, 'a log read in part does not speak for its node');
  assert.match(
    problem!,
    new RegExp(
      `^log too large: ${file} holds more than 1 MiB once inflated, far more than a gomel run writes — not judged; check the file$`,
    ),
  );
  assert.ok(seen < 40_000, `stopped at the cap (${seen} lines seen)`);
  const plain = path.join(dir, '3.log');
  await fs.writeFile(plain, gunzipSync(await fs.readFile(file)));
  assert.match((await readLogStats(plain, undefined, 1024 * 1024)).problem!, /3\.log holds more than 1 MiB, far more/);
  assert.equal(MAX_LOG_BYTES, 256 * 1024 * 1024);
});

test("the verdict's memory is bounded over the run: one node's huge log costs its own judgement only; a stray stderr.txt is read in part", async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  // node3's log forged with 70 k ordered units: over the share of a node of 256 (64 k), under one of 8 (2 M).
  const file = path.join(dir, 'node3/2.config.log.gz');
  const z = Array.from({ length: 70_000 }, (_, i) => `{"E":"Z","C":${i % 8},"H":${i},"T":1}`);
  await fs.writeFile(file, gzipSync(`${z.join('\n')}\n`));
  const capped = await readLogStats(file, undefined, undefined, eventBudget(256));
  assert.equal(capped.stats, undefined);
  assert.match(capped.problem!, /holds more than 64000 units and rounds, this node's share/);
  let seen = 0;
  await readLogStats(file, () => seen++, undefined, 1000);
  assert.equal(seen, 1000, 'nothing past the share reaches the report either');
  assert.equal(eventBudget(8), 2_000_000);
  assert.deepEqual([64, 256, 1024].map(eventBudget), [250_000, 64_000, 64_000]);
  // A 20 MB stderr.txt beside node5's log: once refused (the whole verdict failed), now its head is read.
  await fs.writeFile(path.join(dir, 'node5/stderr.txt'), 'x'.repeat(20 * 1024 * 1024));
  const r = await cli(['verdict', '--logs', dir, '--json']);
  const v = JSON.parse(r.out) as { nodes: { label: string; reached: boolean }[] };
  assert.equal(v.nodes.find((n) => n.label === 'node5')!.reached, true, r.err);
  assert.equal(v.nodes.find((n) => n.label === 'node1')!.reached, true);
});

test("N78: report --out a folder, a missing folder, a path under a file: one line naming the user's path, exit 2 (a bad --out: h8)", async (t) => {
  const root = await tempDir(t);
  const logs = await copyLogs(t, 'success-4');
  const file = path.join(root, 'afile');
  await fs.writeFile(file, 'x');
  const cases: [string, RegExp][] = [
    [
      root,
      new RegExp(
        `^gomelctl: report --out ${root}: is a folder — pass a file name inside it, e\\.g\\. --out ${root}/report\\.html$`,
      ),
    ],
    [
      path.join(root, 'nodir/r.html'),
      new RegExp(`^gomelctl: report --out ${root}/nodir/r\\.html: its folder ${root}/nodir does not exist`),
    ],
    [
      path.join(file, 'r.html'),
      new RegExp(`^gomelctl: report --out ${file}/r\\.html: a part of the path is a file, not a folder`),
    ],
  ];
  for (const [out, message] of cases) {
    const r = await cli(['report', '--logs', logs, '--out', out]);
    assert.equal(r.code, 2, out);
    assert.match(oneLine(r.err), message);
  }
  assert.deepEqual((await fs.readdir(root)).sort(), ['afile'], 'no temp file left');
  const ok = await cli(['report', '--logs', logs, '--out', path.join(root, 'r.html')]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(await fs.readFile(path.join(root, 'r.html'), 'utf8'), /^<!doctype html>/);
  const devNull = await cli(['report', '--logs', logs, '--out', '/dev/null']);
  assert.equal(devNull.code, 0, devNull.err);
  assert.ok((await fs.stat('/dev/null')).isCharacterDevice(), '/dev/null is written to, never replaced');
  const fifo = path.join(root, 'pipe');
  mkfifo(fifo);
  const piped = await cli(['report', '--logs', logs, '--out', fifo]);
  assert.equal(piped.code, 2);
  assert.match(
    oneLine(piped.err),
    /report --out .*pipe: is a named pipe \(FIFO\), not a file — pass --out a file name/,
  );
});

test('N96: control characters from flags and paths are printed escaped; an error stays one line', async (t) => {
  const { root, configs } = await withConfigs(t);
  const red = path.join(root, 'k\x1b[31mRED');
  const gen = await cli(['keys', 'gen', '--n', '4', '--keys', red, '--configs', configs]);
  assert.equal(gen.code, 0, gen.err);
  assert.doesNotMatch(gen.out + gen.err, /\x1b/);
  assert.match(gen.out, /k\\x1b\[31mRED: added node1\.\.node4/);
  const seed = await cli([
    'keys',
    'gen',
    '--n',
    '4',
    '--keys',
    path.join(root, 'k2'),
    '--configs',
    configs,
    '--seed-file',
    'a\nb\x00c\u2028',
  ]);
  assert.equal(seed.code, 1);
  assert.equal(
    oneLine(seed.err),
    'gomelctl: a\\nb\\x00c\\u2028: contains a NUL character, which no path can hold — check the path',
  );
  const zones = await cli(['deploy', 'spawn', '--keys', red, '--configs', configs, '--zones', 'z\r\x07\x9b.json']);
  assert.equal(zones.code, 1);
  assert.equal(oneLine(zones.err), 'gomelctl: z\\r\\x07\\x9b.json: no such zones file — check the path');
  const flag = await cli(['keys', 'gen', '--n', '\x1b[2J', '--keys', path.join(root, 'k3')]);
  assert.equal(flag.code, 2);
  assert.match(oneLine(flag.err), /^gomelctl: --n \\x1b\[2J: /);
  // Through the real entry point, as a user sees it.
  const bin = path.join(REPO, 'bin/gomelctl');
  let stderr = '';
  try {
    execFileSync(process.execPath, [bin, 'keys', 'verify', '--keys', path.join(root, 'no\x1b[31mkeys\nhere')], {
      cwd: root,
      env: { ...process.env, DOCKER_HOST: 'unix:///tmp/no-such.sock' },
      stdio: 'pipe',
    });
  } catch (error) {
    stderr = String((error as { stderr: Buffer }).stderr);
  }
  assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
  assert.match(stderr, /no\\x1b\[31mkeys\\nhere/);
  assert.doesNotMatch(stderr, /\x1b/);
});

test("N96: a newline in a user's path never splits a printed line; text that is ours still spans lines", async (t) => {
  const { root, configs } = await withConfigs(t);
  const bin = path.join(REPO, 'bin/gomelctl');
  const run = (args: string[]) =>
    execFileSync(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, DOCKER_HOST: 'unix:///tmp/no-such.sock' },
      encoding: 'utf8',
    });
  // Through the real entry point: what a terminal shows, line by line.
  const gen = run(['keys', 'gen', '--n', '4', '--keys', 'a\nb\x1b[2J', '--configs', configs]);
  assert.deepEqual(gen.trimEnd().split('\n'), ['keys: 4 nodes in a\\nb\\x1b[2J: added node1..node4']);
  assert.equal(run(['keys', 'gen', '--n', '8', '--keys', 'k', '--configs', configs]).trimEnd().split('\n').length, 1);
  await fs.rm(path.join(root, 'k', 'seed')); // the next resize writes a new seed and says so on its own line
  const resized = run(['keys', 'gen', '--n', '4', '--keys', 'k', '--configs', configs]).trimEnd().split('\n');
  assert.equal(resized.length, 2, resized.join('|'));
  // config sync's diff: two lines per change, as before.
  const sync = run(['config', 'sync', '--keys', 'k', '--configs', configs]).split('\n');
  const minus = sync.findIndex((l) => l === '  - "NParents": 8');
  assert.ok(minus > 0, sync.join('|'));
  assert.equal(sync[minus + 1], '  + "NParents": 4');
  // JSON output is indented over many lines and parses.
  const shown = run(['keys', 'show', '--keys', 'k', '--json']);
  assert.ok(shown.split('\n').length > 10);
  assert.equal((JSON.parse(shown) as unknown[]).length, 4);
  const verdict = (() => {
    try {
      return run(['verdict', '--json', '--logs', path.join(VECTORS, 'logs/success-4')]);
    } catch (error) {
      return String((error as { stdout: string }).stdout);
    }
  })();
  assert.equal((JSON.parse(verdict) as Verdict).nodes.length, 4);
  // commander's help is many lines.
  assert.ok(run(['keys', 'gen', '--help']).split('\n').length > 5);
});
