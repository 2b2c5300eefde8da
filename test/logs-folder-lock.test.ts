// Issue 30, class 9: a logs folder had no lock. Two `deploy logs` (or `up --logs`) into
// one folder mixed their files, and the manifest the last one wrote left the other's
// files unlisted: orphans no later run would remove. deploy logs and report now hold
// the folder's lock (fs/lock.ts) from reading the folder to writing its last file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { captureOutput } from '../src/commands/output.js';
import type { Engine } from '../src/docker/engine.js';
import { report } from '../src/commands/report.js';
import { withLogsFolderLock } from '../src/fs/logs-folder.js';
import { copyLogs, leaves, tempDir } from './helpers.js';
import { collectEngine } from './support/collect-engine.js';

const collect = (out: string, engine: Engine, fresh: boolean) =>
  deployLogs({ network: 'aleph_net', out, fresh }, captureOutput(), engine);

/** A promise and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

test('two deploy logs into one folder at once: the second waits, and the manifest lists exactly what is there', async (t) => {
  for (const fresh of [false, true]) {
    const logs = path.join(await tempDir(t), 'logs');
    // The first run is held inside its collection until the second has begun, and the second
    // reads the engine only once the first collects: without a lock they interleave.
    const secondBegan = gate();
    const firstCollects = gate();
    const first = collect(
      logs,
      collectEngine(
        { node1: { 'a.txt': 'first\n' }, node2: { 'a.txt': 'first\n' } },
        {
          beforeArchive: async () => {
            firstCollects.open();
            await secondBegan.opened;
          },
        },
      ),
      fresh,
    );
    const second = collect(
      logs,
      collectEngine(
        { node1: { 'b.txt': 'second\n' }, node3: { 'b.txt': 'second\n' } },
        {
          beforeList: async () => {
            secondBegan.open();
            await firstCollects.opened;
          },
        },
      ),
      fresh,
    );
    await Promise.all([first, second]);
    const where = fresh ? ' (fresh runs)' : '';
    const manifest = JSON.parse(await fs.readFile(path.join(logs, '.gomelctl-logs'), 'utf8')) as {
      entries: string[];
      files: Record<string, string[]>;
    };
    const onDisk = await leaves(logs);
    for (const leaf of onDisk) {
      if (leaf === '.gomelctl-logs') continue;
      const [top, ...rest] = leaf.split('/');
      const listed = rest.length ? manifest.files[top!]?.includes(rest.join('/')) : manifest.entries.includes(top!);
      assert.ok(listed, `${leaf} is on disk but not in the manifest: an orphan${where}`);
    }
    for (const [folder, files] of Object.entries(manifest.files))
      for (const f of files) assert.ok(onDisk.includes(`${folder}/${f}`), `${folder}/${f} listed, not there${where}`);
    // The second run came after the first: its files are the nodes' now.
    assert.deepEqual(await leaves(path.join(logs, 'node1')), ['b.txt', 'task.json'], where);
    assert.deepEqual(
      await fs.readdir(path.dirname(logs)),
      ['logs'],
      `no lock or temporary file is left beside the folder${where}`,
    );
  }
});

test('report writing report.html into a run folder waits while deploy logs holds it', async (t) => {
  const logs = await copyLogs(t, 'swarm-8');
  // Seen when a lock of the folder is tried and found taken (tryCreate's link fails).
  const tried = gate();
  const link = fs.link;
  fs.link = (async (from: string, to: string) => {
    try {
      return await link(from, to);
    } catch (error) {
      if (to.endsWith(`.${path.basename(logs)}.lock`)) tried.open();
      throw error;
    }
  }) as typeof fs.link;
  t.after(() => (fs.link = link));
  const page = path.join(logs, 'report.html');
  // deploy logs' hold on the folder, taken by a task of its own (the report is not part of it).
  const holding = gate();
  const done = gate();
  const holder = withLogsFolderLock(logs, async () => {
    holding.open();
    await done.opened;
  });
  await holding.opened;
  const writing = report([logs], { logs, configs: 'configs', keys: 'keys' }, captureOutput());
  const first = await Promise.race([tried.opened.then(() => 'waits'), writing.then(() => 'wrote')]);
  assert.equal(first, 'waits', 'the report was written while deploy logs held the folder');
  assert.equal(await fs.lstat(page).catch(() => undefined), undefined);
  done.open();
  await Promise.all([holder, writing]);
  assert.match(await fs.readFile(page, 'utf8'), /<html/);
});
