// N89: `deploy logs --out $PWD` then `up --logs $PWD` in a folder holding keys/,
// configs/ and notes emptied it. Now a folder gomelctl did not write is refused
// before anything is written, fresh or not, and a fresh run removes only what
// the manifest lists. Run against a stub engine, as the issue's reproduction did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { captureOutput } from '../src/commands/output.js';
import type { Engine } from '../src/docker/engine.js';
import { tempDir } from './helpers.js';
import tar from 'tar-stream';

const stub = {
  listServices: async (labels: Record<string, string>) => [
    {
      ID: 's1',
      Spec: { Name: 'node1', Labels: labels, TaskTemplate: { ContainerSpec: { Command: ['run.sh', 'config'] } } },
    },
  ],
  listTasks: async () => [
    { ServiceID: 's1', CreatedAt: '1', Status: { State: 'complete', ContainerStatus: { ExitCode: 0 } } },
  ],
  listNodes: async () => [],
  serviceOutput: async () => 'hi\n',
  containerArchive: async () => undefined,
} as unknown as Engine;

/** What deploy logs leaves for a one-node run: its manifest, its seal, its node lines, the node's folder and output. */
const ONE_NODE_FOLDER = ['.gomelctl-logs', '.gomelctl-seal', 'deploy-logs.txt', 'node1', 'node1.log'];

test('N89: a folder holding what gomelctl did not write is never emptied; a fresh run removes only its own entries', async (t) => {
  const root = await tempDir(t);
  await fs.mkdir(path.join(root, 'keys'));
  await fs.writeFile(path.join(root, 'keys', '0.pk'), 'secret\n');
  await fs.writeFile(path.join(root, 'NOTES.md'), 'notes\n');
  for (const fresh of [false, true]) {
    await assert.rejects(
      deployLogs({ network: 'aleph_net', out: root, fresh, keys: 'none', configs: 'none' }, captureOutput(), stub),
      /was not written by `gomelctl deploy logs` \((keys, NOTES\.md|NOTES\.md, keys)\).*gomelctl deletes only what it wrote/,
    );
  }
  assert.deepEqual((await fs.readdir(root)).sort(), ['NOTES.md', 'keys']);
  assert.equal(await fs.readFile(path.join(root, 'keys', '0.pk'), 'utf8'), 'secret\n');

  // A folder of its own: written, then emptied of exactly its entries by a fresh run.
  const logs = path.join(root, 'logs');
  await deployLogs({ network: 'aleph_net', out: logs, keys: 'none', configs: 'none' }, captureOutput(), stub);
  assert.deepEqual((await fs.readdir(logs)).sort(), ONE_NODE_FOLDER);
  await fs.writeFile(path.join(logs, 'mine.txt'), "a user's file\n");
  await assert.rejects(
    deployLogs({ network: 'aleph_net', out: logs, fresh: true, keys: 'none', configs: 'none' }, captureOutput(), stub),
    /holds files gomelctl did not write there \(mine\.txt\)/,
  );
  await fs.rm(path.join(logs, 'mine.txt'));
  // Inside a node folder, a user's file is kept (logs-folder-kept.test.ts); gomelctl's go.
  await fs.writeFile(path.join(logs, 'node1', 'task.json'), 'from the last run\n');
  await fs.writeFile(path.join(logs, 'node1', 'stale'), "a user's file\n");
  await deployLogs(
    { network: 'aleph_net', out: logs, fresh: true, keys: 'none', configs: 'none' },
    captureOutput(),
    stub,
  );
  assert.deepEqual(
    (await fs.readdir(path.join(logs, 'node1'))).sort(),
    ['stale', 'task.json'],
    "the last run's node folder was emptied of what gomelctl wrote there",
  );
  assert.notEqual(await fs.readFile(path.join(logs, 'node1', 'task.json'), 'utf8'), 'from the last run\n');
});

/** A tar as an engine's archive endpoint returns one, entries of any type and name. */
async function archive(
  entries: {
    name: string;
    type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo';
    linkname?: string;
    text?: string;
  }[],
) {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', resolve));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname }, e.text ?? '', (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** An engine whose one node's task is complete and whose /extract is `tarball`. */
const oneNodeEngine = (tarball: Buffer) =>
  ({
    ...stub,
    listTasks: async () => [
      {
        ServiceID: 's1',
        CreatedAt: '1',
        Status: { State: 'complete', ContainerStatus: { ExitCode: 0, ContainerID: 'c1' } },
      },
    ],
    containerArchive: async () => tarball,
  }) as unknown as Engine;

test("a node's /extract archive from its engine is untrusted: only its regular files, only inside the node's folder", async (t) => {
  const root = await tempDir(t);
  const logs = path.join(root, 'run', 'logs');
  const tarball = await archive([
    { name: 'extract/', type: 'directory' },
    { name: 'extract/0.config.log', text: 'gomel log\n' },
    { name: 'extract/sub/', type: 'directory' },
    { name: 'extract/sub/x.txt', text: 'nested\n' },
    { name: 'extract/../escape.txt', text: 'out\n' },
    { name: 'extract/../../run-escape.txt', text: 'out\n' },
    { name: '../../../root-escape.txt', text: 'out\n' },
    { name: `${root}/absolute.txt`, text: 'out\n' },
    { name: 'extract/link', type: 'symlink', linkname: root },
    { name: 'extract/link/through-link.txt', text: 'out\n' },
    { name: 'extract/2.config.log', type: 'link', linkname: 'extract/0.config.log' },
    { name: 'extract/pipe', type: 'fifo' },
    { name: 'extract/0.config.log/under-a-file', text: 'cannot be\n' },
    // A node's own task.json, or a folder of that name (it aborted the collection: hostile pass 13).
    { name: 'extract/task.json/x', text: 'a folder named task.json\n' },
    { name: 'extract/task.json', text: '{"state":"running","hostDown":true}\n' },
  ]);
  const engine = oneNodeEngine(tarball);
  const o = captureOutput();
  await deployLogs({ network: 'aleph_net', out: logs, keys: 'none', configs: 'none' }, o, engine);
  const node = path.join(logs, 'node1');
  assert.deepEqual((await fs.readdir(node)).sort(), ['0.config.log', 'link', 'sub', 'task.json']);
  // task.json is the engine's word, as deploy logs wrote it; the node's own was not written, and said so.
  assert.equal(JSON.parse(await fs.readFile(path.join(node, 'task.json'), 'utf8')).hostDown, undefined);
  assert.match(
    o.warnings.join('\n'),
    /"task\.json\/x", "task\.json" from its \/extract were not written: task\.json is gomelctl's record of its task/,
  );
  // The link entry was never made: the file named under it landed in a real folder of the node's.
  assert.ok((await fs.lstat(path.join(node, 'link'))).isDirectory());
  assert.equal(await fs.readFile(path.join(node, '0.config.log'), 'utf8'), 'gomel log\n');
  assert.equal(await fs.readFile(path.join(node, 'sub', 'x.txt'), 'utf8'), 'nested\n');
  // Nothing above the node's folder: not in logs/, not beside it, not at the absolute path.
  assert.deepEqual((await fs.readdir(logs)).sort(), ONE_NODE_FOLDER);
  assert.deepEqual((await fs.readdir(path.join(root, 'run'))).sort(), ['logs']);
  assert.deepEqual((await fs.readdir(root)).sort(), ['run']);
  const task = JSON.parse(await fs.readFile(path.join(node, 'task.json'), 'utf8')) as { incomplete?: string[] };
  assert.match(
    task.incomplete!.join('; '),
    /4 name\(s\) in its \/extract pointed outside its folder and were not written/,
  );
  assert.match(task.incomplete!.join('; '), /"0\.config\.log\/under-a-file" from its \/extract was not written/);
  // Issue 30: its links (and a FIFO) were dropped unseen; they are named as the names outside are.
  assert.ok(
    task.incomplete!.includes(
      `3 link(s) or special file(s) in its /extract were not written, as gomelctl follows no link out of a container ("link" (symlink to ${JSON.stringify(root)}), "2.config.log" (link to "extract/0.config.log"), "pipe" (fifo))`,
    ),
    task.incomplete!.join('\n'),
  );
});

test("a node's /extract of thousands of files or long names is bounded, its own evidence first: the seal names each file (hostile pass 28: one node's 3,000 files made the seal unreadable)", async (t) => {
  const root = await tempDir(t);
  const logs = path.join(root, 'run', 'logs');
  const tarball = await archive([
    ...Array.from({ length: 400 }, (_, i) => ({ name: `extract/junk/${'\u0001'.repeat(40)}${i}`, text: '' })),
    { name: 'extract/0.config.log', text: 'gomel log\n' },
    { name: 'extract/stderr.txt', text: '' },
  ]);
  const engine = oneNodeEngine(tarball);
  await deployLogs({ network: 'aleph_net', out: logs, keys: 'none', configs: 'none' }, captureOutput(), engine);
  const node = path.join(logs, 'node1');
  assert.equal(await fs.readFile(path.join(node, '0.config.log'), 'utf8'), 'gomel log\n');
  assert.ok((await fs.lstat(path.join(node, 'stderr.txt'))).isFile());
  assert.ok((await fs.readdir(path.join(node, 'junk'))).length < 400);
  const task = JSON.parse(await fs.readFile(path.join(node, 'task.json'), 'utf8')) as { incomplete?: string[] };
  assert.match(
    task.incomplete!.join('; '),
    /\d+ more file\(s\) in its \/extract were not written: a node's folder holds at most 256 files and 64 KiB of names/,
  );
  assert.ok((await fs.stat(path.join(logs, '.gomelctl-seal'))).size < 1024 * 1024);
});

test("the names a node's /extract had refused are quoted clipped, never whole (hostile pass 29: four 3.8 MB names made task.json 107 MB)", async (t) => {
  const root = await tempDir(t);
  const logs = path.join(root, 'run', 'logs');
  const long = 'x'.repeat(200_000);
  const tarball = await archive([
    { name: 'extract/0.config.log', text: 'gomel log\n' },
    ...Array.from({ length: 4 }, (_, i) => ({ name: `extract/task.json/${long}${i}`, text: '' })),
    { name: `extract/../${long}`, text: '' },
  ]);
  const engine = oneNodeEngine(tarball);
  await deployLogs({ network: 'aleph_net', out: logs, keys: 'none', configs: 'none' }, captureOutput(), engine);
  const taskJson = path.join(logs, 'node1', 'task.json');
  assert.ok((await fs.stat(taskJson)).size < 4096, `task.json is ${(await fs.stat(taskJson)).size} bytes`);
  const task = JSON.parse(await fs.readFile(taskJson, 'utf8')) as { incomplete?: string[] };
  assert.match(task.incomplete!.join('; '), /not written: task\.json is gomelctl's record of its task/);
  assert.match(task.incomplete!.join('; '), /1 name\(s\) in its \/extract pointed outside its folder/);
});

test("a node's evidence-incomplete list says at most 20 problems, each clipped, and how many more (hostile pass 30: 240k shipped problems made deploy-logs.txt 61 MB)", async (t) => {
  const root = await tempDir(t);
  const logs = path.join(root, 'run', 'logs');
  const tarball = await archive([
    { name: 'extract/0.config.log', text: 'gomel log\n' },
    ...Array.from({ length: 30 }, (_, i) => ({ name: `extract/0.config.log/under-${i}`, text: '' })),
  ]);
  const engine = oneNodeEngine(tarball);
  await deployLogs({ network: 'aleph_net', out: logs, keys: 'none', configs: 'none' }, captureOutput(), engine);
  const task = JSON.parse(await fs.readFile(path.join(logs, 'node1', 'task.json'), 'utf8')) as { incomplete: string[] };
  assert.equal(task.incomplete.length, 21);
  assert.equal(task.incomplete.at(-1), 'and 10 more problem(s)');
});

test("a node's reason for no files collected is clipped: it may quote a shipped file's name (hostile pass 31: a 60 MB one)", async (t) => {
  const root = await tempDir(t);
  const logs = path.join(root, 'run', 'logs');
  const long = 'x'.repeat(100_000);
  const output = [`gomelctl-ship tok file 0 ${long}.log 0 ${'0'.repeat(64)} 99`, 'gomelctl-ship tok end 1', ''].join(
    '\n',
  );
  const engine = { ...stub, serviceOutput: async () => output } as unknown as Engine;
  const o = captureOutput();
  await deployLogs({ network: 'aleph_net', out: logs, keys: 'none', configs: 'none' }, o, engine);
  const task = JSON.parse(await fs.readFile(path.join(logs, 'node1', 'task.json'), 'utf8')) as { uncollected?: string };
  assert.match(task.uncollected ?? '', /^its shipment held no file whole: x+/);
  assert.ok(task.uncollected!.length <= 600, `${task.uncollected!.length} characters`);
  assert.ok((await fs.stat(path.join(logs, 'deploy-logs.txt'))).size < 8192);
});
