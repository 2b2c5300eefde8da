// Issue 30, class 3: gomelctl wrote through links. A link left in a folder it writes
// (logs/node1.log → a file of the user's elsewhere) had its target overwritten. Every
// write now goes to a file gomelctl creates (src/fs/atomic.ts): the link is replaced,
// its target keeps its bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { captureOutput } from '../src/commands/output.js';
import type { Engine } from '../src/docker/engine.js';
import { LABELS } from '../src/core/labels.js';
import { committeeFingerprint } from '../src/core/image/context.js';
import { parseFaultPlan } from '../src/core/faults/plan.js';
import { cli, copyLogs, DOCKER_CONFIGS, DOCKER_KEYS, sourceMatches, tempDir } from './helpers.js';
import { collectEngine } from './support/collect-engine.js';

/** Two finished nodes deployed with gomel's 8-node committee's fingerprint, config "config" (its hash) and a run record with a fault plan. */
async function engine(): Promise<Engine> {
  const committee = committeeFingerprint(await fs.readFile(path.join(DOCKER_KEYS, 'committee.ka')));
  const hosts = ['node1', 'node2'];
  // The config's hash as deploy spawn records it: deploy logs copies conf.json only when it is the deployed one.
  const configSha256 = createHash('sha256')
    .update(await fs.readFile(path.join(DOCKER_CONFIGS, 'config.json')))
    .digest('hex');
  const run = JSON.stringify({
    version: 1,
    network: 'aleph_net',
    hosts,
    configSha256,
    faults: parseFaultPlan('crash:2@3s', hosts),
  });
  const files = (k: number) => ({ [`${k}.config.log`]: 'log\n', exit_status: '0\n' });
  return collectEngine(
    { node1: files(0), node2: files(1) },
    { labels: { [LABELS.committee]: committee, [LABELS.run]: run } },
  );
}

const collect = async (out: string, fresh: boolean) =>
  deployLogs(
    { network: 'aleph_net', out, fresh, keys: DOCKER_KEYS, configs: DOCKER_CONFIGS },
    captureOutput(),
    await engine(),
  );

/** Every file name gomelctl writes into a logs folder, each a link to a file of the user's outside it. */
const TARGETS = ['node1.log', 'committee.ka', 'conf.json', 'run.json', 'node1/task.json', 'node1/exit_status'];

test('deploy logs never writes through a link in its folder: each link is replaced, and the files outside keep their bytes', async (t) => {
  for (const fresh of [false, true]) {
    const root = await tempDir(t);
    const logs = path.join(root, 'logs');
    await collect(logs, fresh);
    const outside = path.join(root, 'outside');
    await fs.mkdir(outside);
    for (const [i, name] of TARGETS.entries()) {
      const mine = path.join(outside, `mine-${i}`);
      await fs.writeFile(mine, `the user's file ${i}\n`);
      await fs.rm(path.join(logs, name));
      await fs.symlink(mine, path.join(logs, name));
    }
    await collect(logs, fresh);
    for (const [i, name] of TARGETS.entries()) {
      assert.equal(
        await fs.readFile(path.join(outside, `mine-${i}`), 'utf8'),
        `the user's file ${i}\n`,
        `${name}${fresh ? ' (fresh)' : ''}: written through its link`,
      );
      assert.ok((await fs.lstat(path.join(logs, name))).isFile(), `${name}: a file of gomelctl's now`);
    }
    assert.equal(await fs.readFile(path.join(logs, 'node1.log'), 'utf8'), 'hi\n');
  }
});

test("report never writes through a link: logs/report.html (its own place) is replaced, the user's file kept", async (t) => {
  const logs = await copyLogs(t, 'swarm-8');
  const root = await tempDir(t);
  const mine = path.join(root, 'mine.txt');
  await fs.writeFile(mine, 'keep me\n');
  await fs.symlink(mine, path.join(logs, 'report.html'));
  const r = await cli(['report', '--logs', logs]);
  assert.equal(r.code, 0, r.err);
  assert.equal(await fs.readFile(mine, 'utf8'), 'keep me\n', 'written through logs/report.html');
  assert.ok((await fs.lstat(path.join(logs, 'report.html'))).isFile());
});

test("report --out naming a link is refused, exit 2 in one line: the user's link and its target stay as they were (hostile pass N11)", async (t) => {
  const logs = await copyLogs(t, 'swarm-8');
  const root = await tempDir(t);
  const mine = path.join(root, 'mine.txt');
  await fs.writeFile(mine, 'keep me\n');
  // To a file of the user's, to an earlier report (which --out the file itself may replace), to nothing.
  const page = path.join(root, 'old.html');
  assert.equal((await cli(['report', '--logs', logs, '--out', page])).code, 0);
  for (const target of [mine, page, path.join(root, 'nowhere.html')]) {
    const link = path.join(root, `link-${path.basename(target)}`);
    await fs.symlink(target, link);
    const before = await fs.readdir(root);
    const r = await cli(['report', '--logs', logs, '--out', link]);
    assert.equal(r.code, 2, `${target}: ${r.err}`);
    assert.equal(r.out, '');
    assert.match(
      r.err,
      /^gomelctl: report --out .*link-[a-z.]+: a symbolic link \(to .*\); gomelctl neither writes through a link nor replaces one — pass the file it points to, or another --out$/,
    );
    assert.equal(await fs.readlink(link), target, "the link is the user's still");
    assert.deepEqual(await fs.readdir(root), before, 'nothing written beside it');
  }
  assert.equal(await fs.readFile(mine, 'utf8'), 'keep me\n');
  // A link to a character device (as /dev/stdout on a terminal) is written to as the device is: nothing replaced.
  const devNull = path.join(root, 'null');
  await fs.symlink('/dev/null', devNull);
  const r = await cli(['report', '--logs', logs, '--out', devNull]);
  assert.equal(r.code, 0, r.err);
  assert.equal(await fs.readlink(devNull), '/dev/null');
});

test('every write of gomelctl into a folder goes through src/fs/atomic.ts (never a bare write that follows links)', async () => {
  // lock.ts creates its lock with O_EXCL ('wx'), which follows no link.
  const allowed = new Set(['src/fs/atomic.ts', 'src/fs/lock.ts']);
  const writes =
    /\b(writeFile|writeFileSync|appendFile|appendFileSync|copyFile|copyFileSync|cp|cpSync|createWriteStream|truncate)\s*\(|\bopen(Sync)?\([^)]*(O_WRONLY|O_RDWR|O_CREAT|'[wa]\+?')/;
  assert.deepEqual(await sourceMatches(writes, allowed), []);
});

test("report --out over a file that is not a report gomelctl wrote is refused: a key, the seed, a run's own log keep their bytes (hostile pass R01-R05)", async (t) => {
  const logs = await copyLogs(t, 'success-4');
  const keys = await tempDir(t);
  await fs.cp(DOCKER_KEYS, keys, { recursive: true });
  const victims = [path.join(keys, '0.pk'), path.join(keys, 'committee.ka'), path.join(logs, '1.log.gz')];
  for (const file of victims) {
    const before = await fs.readFile(file);
    const r = await cli(['report', '--logs', logs, '--out', file]);
    assert.equal(r.code, 2, file);
    assert.match(
      r.err,
      /^gomelctl: report --out .*: the file exists and is not a report gomelctl wrote; give another --out, or move it away$/,
    );
    assert.deepEqual(await fs.readFile(file), before, `${file} kept its bytes`);
  }
  // Its own report is written again, as is one from a gomelctl before the mark.
  const page = path.join(logs, 'page.html');
  assert.equal((await cli(['report', '--logs', logs, '--out', page])).code, 0);
  assert.equal((await cli(['report', '--logs', logs, '--out', page])).code, 0);
  const old = (await fs.readFile(page, 'utf8')).replace('<meta name="generator" content="gomelctl report">', '');
  await fs.writeFile(page, old);
  assert.equal((await cli(['report', '--logs', logs, '--out', page])).code, 0);
});
