// A file the user put inside a node folder gomelctl wrote (logs/node1/notes.txt)
// was deleted with it: deploy logs replaced the folder whole. Now only what the
// manifest records gomelctl writing there goes; anything else is kept and named,
// or, when the verdict would read it as the node's evidence, the folder is
// refused before anything is deleted. A run killed at any write leaves the
// manifest naming every file of gomelctl's and none of the user's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { captureOutput } from '../src/commands/output.js';
import { checkLogsFolder } from '../src/fs/logs-folder.js';
import { discoverNodes } from '../src/fs/node-logs.js';
import { leaves, tempDir } from './helpers.js';
import { collectEngine } from './support/collect-engine.js';

const collect = (out: string, extract: Record<string, Record<string, string>>, fresh = false) => {
  const o = captureOutput();
  return deployLogs(
    { network: 'aleph_net', out, fresh, keys: 'none', configs: 'none' },
    o,
    collectEngine(extract),
  ).then(() => o);
};

const read = (file: string) => fs.readFile(file, 'utf8');

const RUN1 = {
  node1: { '0.config.log': 'run 1\n', exit_status: '0\n', 'sub/old.txt': 'x\n' },
  node2: { '1.config.log': 'run 1\n', exit_status: '0\n' },
};
const RUN2 = {
  node1: { '0.config.log': 'run 2\n', exit_status: '0\n' },
  node2: { '1.config.log': 'run 2\n', exit_status: '0\n', 'new.txt': 'y\n' },
};

test("a user's file inside a node folder gomelctl wrote is kept, by deploy logs again and by a fresh run, and named in one line", async (t) => {
  const logs = path.join(await tempDir(t), 'logs');
  await collect(logs, RUN1);
  await fs.writeFile(path.join(logs, 'node1', 'notes.txt'), 'my notes\n');
  await fs.mkdir(path.join(logs, 'node1', 'mine'));
  await fs.writeFile(path.join(logs, 'node1', 'mine', 'a.txt'), 'mine\n');

  for (const fresh of [false, true]) {
    const o = await collect(logs, RUN2, fresh);
    assert.deepEqual(await leaves(path.join(logs, 'node1')), [
      '0.config.log',
      'exit_status',
      'mine/a.txt',
      'notes.txt',
      'task.json',
    ]);
    assert.deepEqual(await leaves(path.join(logs, 'node2')), ['1.config.log', 'exit_status', 'new.txt', 'task.json']);
    assert.equal(await read(path.join(logs, 'node1', 'notes.txt')), 'my notes\n');
    assert.equal(await read(path.join(logs, 'node1', 'mine', 'a.txt')), 'mine\n');
    assert.equal(await read(path.join(logs, 'node1', '0.config.log')), 'run 2\n');
    const kept = o.lines.filter((l) => /kept/.test(l));
    assert.deepEqual(kept, [`${path.join(logs, 'node1')}: kept mine/a.txt, notes.txt, which gomelctl did not write`]);
  }

  // A fresh run without node1: gomelctl's files go, the user's stay, and the folder is still one gomelctl may use.
  for (let i = 0; i < 2; i++) {
    const o = await collect(logs, { node2: RUN2.node2 }, true);
    assert.deepEqual(await leaves(path.join(logs, 'node1')), ['mine/a.txt', 'notes.txt']);
    assert.ok(o.lines.some((l) => l.startsWith(`${path.join(logs, 'node1')}: kept mine/a.txt, notes.txt`)));
  }
  // The verdict finds no node in a folder holding only the user's files.
  assert.deepEqual(
    (await discoverNodes(logs)).map((n) => n.label),
    ['node2'],
  );

  // A name the node's /extract brings that a kept file already has: the user's file wins, and the evidence says so.
  const o = await collect(logs, { node1: { 'notes.txt': 'from gomel\n', '0.config.log': 'run 3\n' } }, true);
  assert.equal(await read(path.join(logs, 'node1', 'notes.txt')), 'my notes\n');
  assert.equal(await read(path.join(logs, 'node1', '0.config.log')), 'run 3\n');
  const task = JSON.parse(await read(path.join(logs, 'node1', 'task.json'))) as { incomplete?: string[] };
  assert.match(task.incomplete!.join('; '), /"notes\.txt" from its \/extract was not written: .*notes\.txt is kept/);
  assert.ok(o.warnings.some((w) => /node1: evidence incomplete: "notes\.txt"/.test(w)));
});

test("a user's file the verdict would read as the node's evidence refuses the folder before anything is deleted", async (t) => {
  // gomel's log, the probe's report, run.sh's records, and what the report reads (fault actions, the start plan).
  for (const name of ['7.log', '3.config.log.gz', 'probe.txt', 'started_at', 'faults.log', 'start_plan']) {
    const logs = path.join(await tempDir(t), 'logs');
    await collect(logs, RUN1);
    const file = path.join(logs, 'node1', name);
    await fs.writeFile(file, 'the user wrote this\n');
    const before = await leaves(logs);
    const bytes = await Promise.all(before.map((f) => read(path.join(logs, f))));
    for (const fresh of [false, true])
      await assert.rejects(
        collect(logs, RUN2, fresh),
        (e: Error) => {
          assert.match(
            e.message,
            new RegExp(
              `^${file.replace(/[.]/g, '\\.')}: gomelctl did not write it, and the verdict or the report would read it as node1's evidence — move it out of`,
            ),
          );
          assert.doesNotMatch(e.message, /\n/);
          return true;
        },
        name,
      );
    await assert.rejects(
      checkLogsFolder(logs, true, '--logs'),
      /the report would read it as node1's evidence/,
      'up refuses it first',
    );
    assert.deepEqual(await leaves(logs), before, 'nothing was deleted or added');
    assert.deepEqual(await Promise.all(before.map((f) => read(path.join(logs, f)))), bytes);
  }
});

test('a node folder from before gomelctl recorded its files: what the node writes goes, anything else stays and is named', async (t) => {
  const root = await tempDir(t);
  const logs = path.join(root, 'logs');
  await collect(logs, RUN1);
  // The manifest an older gomelctl wrote: its entries, no files.
  const marker = path.join(logs, '.gomelctl-logs');
  const { network, entries } = JSON.parse(await read(marker)) as { network: string; entries: string[] };
  await fs.writeFile(marker, `${JSON.stringify({ network, entries })}\n`);
  await fs.writeFile(path.join(logs, 'node1', 'setup_0.config.log'), 'setup\n');
  await fs.writeFile(path.join(logs, 'node1', 'notes.txt'), 'my notes\n');
  const o = await collect(logs, RUN2);
  assert.deepEqual(await leaves(path.join(logs, 'node1')), [
    '0.config.log',
    'exit_status',
    'notes.txt',
    'sub/old.txt',
    'task.json',
  ]);
  assert.equal(await read(path.join(logs, 'node1', '0.config.log')), 'run 2\n');
  assert.ok(
    o.lines.includes(
      `${path.join(logs, 'node1')}: kept notes.txt, sub/old.txt, which gomelctl did not write (as far as it can tell: it wrote this folder before it recorded each file)`,
    ),
    o.lines.join('\n'),
  );
});

test("a link the user put in a node folder is kept, and nothing of the node's is written through it", async (t) => {
  const root = await tempDir(t);
  const logs = path.join(root, 'logs');
  const elsewhere = path.join(root, 'elsewhere');
  await fs.mkdir(elsewhere);
  await collect(logs, RUN1);
  await fs.rm(path.join(logs, 'node1', 'sub'), { recursive: true });
  await fs.symlink(elsewhere, path.join(logs, 'node1', 'sub'));
  const o = await collect(logs, RUN1, true);
  assert.deepEqual(await fs.readdir(elsewhere), [], 'nothing written through the link');
  assert.ok((await fs.lstat(path.join(logs, 'node1', 'sub'))).isSymbolicLink());
  assert.ok(o.lines.includes(`${path.join(logs, 'node1')}: kept sub, which gomelctl did not write`));
  assert.ok(
    o.warnings.some((w) => /"sub\/old\.txt" from its \/extract was not written: .*node1\/sub is kept there/.test(w)),
  );
});

/**
 * A run in crashAt(k, …) dies at its k-th change to the file system: that call and every
 * later one of the run fail, as if the process were gone, while the test itself goes on.
 */
const crashes = new AsyncLocalStorage<{ after: number; calls: number }>();
let underWay = 0;
const MUTATING = ['writeFile', 'mkdir', 'rm', 'rmdir', 'unlink', 'rename', 'copyFile', 'open', 'appendFile'] as const;

function installCrashes(t: { after: (fn: () => void) => void }): void {
  const saved = new Map(MUTATING.map((n) => [n, fs[n]]));
  for (const n of MUTATING) {
    const original = saved.get(n) as (...args: unknown[]) => Promise<unknown>;
    (fs as unknown as Record<string, unknown>)[n] = (...args: unknown[]) => {
      const crash = crashes.getStore();
      const reads = n === 'open' && (args[1] === undefined || args[1] === 'r');
      if (!crash || reads) return original.apply(fs, args);
      if (++crash.calls >= crash.after) return Promise.reject(new Error('killed'));
      underWay++;
      return original.apply(fs, args).finally(() => underWay--);
    };
  }
  t.after(() => {
    for (const n of MUTATING) (fs as unknown as Record<string, unknown>)[n] = saved.get(n);
  });
}

/** Runs `fn` dying at its `after`-th change; true when it finished first. Returns once its changes under way are done. */
async function crashAt(after: number, fn: () => Promise<unknown>): Promise<boolean> {
  const crash = { after, calls: 0 };
  try {
    await crashes.run(crash, fn);
  } catch (e) {
    assert.equal((e as Error).message, 'killed');
  }
  while (underWay) await new Promise((resolve) => setTimeout(resolve, 1));
  return crash.calls < after;
}

test('killed at any write, the manifest names every file gomelctl left and none of the user’s; the next run cleans up', async (t) => {
  installCrashes(t);
  // The last run's logs, with the user's notes among them: copied afresh for each crash.
  const root = await tempDir(t);
  const last = path.join(root, 'last');
  await collect(last, RUN1);
  await fs.writeFile(path.join(last, 'node1', 'notes.txt'), 'my notes\n');
  for (const fresh of [false, true]) {
    let finished = false;
    for (let k = 1; !finished; k++) {
      assert.ok(k < 300, 'the run finishes with enough writes allowed');
      const logs = path.join(root, `logs-${fresh}-${k}`);
      await fs.cp(last, logs, { recursive: true });
      finished = await crashAt(k, () => collect(logs, RUN2, fresh));
      const where = `killed at write ${k}${fresh ? ' of a fresh run' : ''}`;
      const manifest = JSON.parse(await read(path.join(logs, '.gomelctl-logs'))) as {
        entries: string[];
        files?: Record<string, string[]>;
      };
      for (const leaf of await leaves(logs)) {
        if (leaf === '.gomelctl-logs' || leaf === 'node1/notes.txt') continue;
        const [top, ...rest] = leaf.split('/');
        const recorded = rest.length
          ? (manifest.files?.[top!] ?? []).some((f) => f === rest.join('/') || f.startsWith(`${rest.join('/')}/`))
          : manifest.entries.includes(top!) || /^\.\.gomelctl-(logs|seal)\.[0-9a-f]+\.tmp$/.test(top!);
        assert.ok(recorded, `${where}: ${leaf} is on disk but not in the manifest`);
      }
      assert.ok(
        !Object.values(manifest.files ?? {}).some((paths) => paths.includes('notes.txt')),
        `${where}: the user's file is recorded as gomelctl's`,
      );
      assert.equal(await read(path.join(logs, 'node1', 'notes.txt')), 'my notes\n', where);
      // The next run takes the folder, keeps the user's file and leaves exactly this run's files.
      await collect(logs, RUN2, true);
      assert.deepEqual(
        await leaves(path.join(logs, 'node1')),
        ['0.config.log', 'exit_status', 'notes.txt', 'task.json'],
        where,
      );
      assert.deepEqual(await leaves(logs), [
        '.gomelctl-logs',
        '.gomelctl-seal',
        'deploy-logs.txt',
        'node1.log',
        'node1/0.config.log',
        'node1/exit_status',
        'node1/notes.txt',
        'node1/task.json',
        'node2.log',
        'node2/1.config.log',
        'node2/exit_status',
        'node2/new.txt',
        'node2/task.json',
      ]);
    }
  }
});
