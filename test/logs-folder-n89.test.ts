// N89: `deploy logs --out $PWD` then `up --logs $PWD` in a folder holding keys/,
// configs/ and notes emptied it. Now a folder gomelctl did not write is refused
// before anything is written, fresh or not, and a fresh run removes only what
// the manifest lists. Run against a stub engine, as the reproduction did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { captureOutput } from '../src/commands/output.js';
import type { Engine } from '../src/docker/engine.js';
import { tempDir } from './helpers.js';

const stub = {
  listServices: async () => [
    {
      ID: 's1',
      Spec: { Name: 'node1', Labels: {}, TaskTemplate: { ContainerSpec: { Command: ['run.sh', 'config'] } } },
    },
  ],
  listTasks: async () => [
    { ServiceID: 's1', CreatedAt: '1', Status: { State: 'complete', ContainerStatus: { ExitCode: 0 } } },
  ],
  listNodes: async () => [],
  serviceOutput: async () => 'hi\n',
  containerArchive: async () => undefined,
} as unknown as Engine;

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
  assert.deepEqual((await fs.readdir(logs)).sort(), ['.gomelctl-logs', 'node1', 'node1.log']);
  await fs.writeFile(path.join(logs, 'mine.txt'), "a user's file\n");
  await assert.rejects(
    deployLogs({ network: 'aleph_net', out: logs, fresh: true, keys: 'none', configs: 'none' }, captureOutput(), stub),
    /holds files gomelctl did not write there \(mine\.txt\)/,
  );
  await fs.rm(path.join(logs, 'mine.txt'));
  await fs.writeFile(path.join(logs, 'node1', 'stale'), 'from the last run\n');
  await deployLogs(
    { network: 'aleph_net', out: logs, fresh: true, keys: 'none', configs: 'none' },
    captureOutput(),
    stub,
  );
  assert.deepEqual(
    await fs.readdir(path.join(logs, 'node1')),
    ['task.json'],
    "the last run's node folder was replaced",
  );
});
