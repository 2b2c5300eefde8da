// gomel's run.sh (templates/gomel/run.sh) deployed with --binary, driven by a
// stand-in with gomel's command-line contract (test/fixtures/fake-gomel.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers.js';
import { keysFlags, projectFlags, sandbox, waitUntilFinished } from './helpers.js';
import { deployLogs } from '../../src/commands/deploy-logs.js';
import { captureOutput } from '../../src/commands/output.js';

test('run.sh runs gomel from its own folder, collects logs, and fails a node when gomel refused its input but exited 0', async (t) => {
  const s = await sandbox(t);
  // A second config with two Sync services: the 3-column committee cannot run it.
  const config = JSON.parse(await fs.readFile(path.join(s.configs, 'config.json'), 'utf8')) as {
    Sync: unknown[];
    LevelLimit: number;
  };
  config.Sync = config.Sync.slice(0, 2);
  await fs.writeFile(path.join(s.configs, 'two.json'), JSON.stringify(config, null, 2));
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  await s.run(['config', 'sync', ...projectFlags(s)]);
  await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);
  await s.run([
    'image',
    'rebuild',
    '--binary',
    path.join(REPO, 'test/fixtures/fake-gomel.sh'),
    '--tag',
    s.tag,
    ...projectFlags(s),
  ]);
  const spawn = (name: string, code = 0) =>
    s.run(['deploy', 'spawn', '--config', name, '--image', s.tag, '--network', s.network, ...projectFlags(s)], code);

  await spawn('config');
  assert.deepEqual(
    (await waitUntilFinished(s, 4)).map((x) => [x.state, x.exitCode]),
    Array(4).fill(['complete', 0]),
  );
  const good = path.join(s.root, 'logs-good');
  await s.run(['deploy', 'logs', '--network', s.network, '--out', good]);
  assert.deepEqual((await fs.readdir(path.join(good, `${s.prefix}3`))).sort(), [
    '2.config.log',
    // its container's CPU time at gomel's start and end (node-lib.sh record_cpu): the host's load
    'cpu_usage',
    'exit_status',
    'setup_2.config.log',
    'start_plan',
    'started_at',
    'stderr.txt',
    'task.json',
  ]);
  const verdict = await s.run(['verdict', '--logs', good, '--config', 'config', ...projectFlags(s)]);
  // up empties its logs folder first, but never one that deploy logs did not write.
  const foreign = path.join(s.root, 'not-ours');
  await fs.mkdir(foreign);
  await fs.writeFile(path.join(foreign, 'keep.txt'), 'mine\n');
  await assert.rejects(
    deployLogs({ network: s.network, out: foreign, fresh: true }, captureOutput()),
    /not-ours: was not written by `gomelctl deploy logs` \(keep\.txt\)/,
  );
  assert.equal(await fs.readFile(path.join(foreign, 'keep.txt'), 'utf8'), 'mine\n');
  assert.match(verdict.out, /consensus reached by all 4 nodes/);

  // gomel refuses at once, so spawn itself already sees failed tasks and says so.
  const failing = await spawn('two', 1);
  assert.match(
    failing.err,
    /^gomelctl: deploy: \d of 4 nodes are not up: .*failed \(exit 1\): task: non-zero exit \(1\)/m,
  );
  const refused = await waitUntilFinished(s, 4);
  assert.deepEqual(
    refused.map((x) => [x.state, x.exitCode]),
    Array(4).fill(['failed', 1]),
    "run.sh turns gomel's exit 0 after an error into a failure",
  );
  const bad = path.join(s.root, 'logs-bad');
  await s.run(['deploy', 'logs', '--network', s.network, '--out', bad]);
  const node1 = path.join(bad, `${s.prefix}1`);
  assert.equal((await fs.readFile(path.join(node1, 'exit_status'), 'utf8')).trim(), '0', "gomel's own status");
  assert.match(await fs.readFile(path.join(node1, 'stderr.txt'), 'utf8'), /Wrong number of addresses. Needs 2, got 3/);
  assert.match(await fs.readFile(path.join(bad, `${s.prefix}1.log`), 'utf8'), /gomel exited 0 but reported an error/);
  const v = await s.run(['verdict', '--logs', bad, '--config', 'two', ...projectFlags(s)], 1);
  assert.match(v.out, /NO consensus .*shutdown: refused \(exit 0 after an error: Wrong number of addresses/);
  assert.match(v.err, /consensus not reached/);
});
