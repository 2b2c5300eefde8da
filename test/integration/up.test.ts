// `up` end to end with gomel's run.sh and a stand-in that keeps gomel's contract
// (test/fixtures/fake-gomel.sh): real gomel's habits — a panic at exit after
// finishing, a node that never finishes — on the real engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers.js';
import { engine, keysFlags, projectFlags, spawnArgs, upFlags, sandbox, type Sandbox } from './helpers.js';
import { readStatus } from '../../src/docker/deployment.js';

const FAKE = path.join(REPO, 'test/fixtures/fake-gomel.sh');

async function starts(logs: string, n: number, prefix: string): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) =>
      Number((await fs.readFile(path.join(logs, `${prefix}${i + 1}`, 'started_at'), 'utf8')).trim()),
    ),
  );
}

const upArgs = (s: Sandbox, logs: string, config: string) => [
  'up',
  '--binary',
  FAKE,
  '--config',
  config,
  ...upFlags(s, logs),
  '--timeout',
  '180',
];

test('up with 16 stand-in nodes that panic at exit after finishing: exit 0 naming the crash, one common start; a second up is a new run, and --strict fails it', async (t) => {
  const s = await sandbox(t);
  const config = JSON.parse(await fs.readFile(path.join(s.configs, 'config.json'), 'utf8')) as Record<string, unknown>;
  await fs.writeFile(path.join(s.configs, 'panic.json'), JSON.stringify(config, null, 2));
  await s.run(['keys', 'gen', '--n', '16', ...keysFlags(s)]);
  const logs = path.join(s.root, 'logs');

  const first = await s.run(upArgs(s, logs, 'panic'));
  assert.match(first.out, /^consensus reached by all 16 nodes \(2 units in the same order\)$/m);
  assert.match(
    first.out,
    /^shutdown: clean on 8 of 16; 8 crashed after finishing \(.*: panic: send on closed channel at pkg\/sync\/fetch\/server\.go:79 — gomel's own shutdown race\)$/m,
  );
  assert.match(first.out, /up: every node starts anew/);
  // One common start, shared by all: each node sleeps until it, or starts at once when it learned it late
  // (start_plan: "<common start> <when this node knew it>"). How close together they start is a figure
  // of the machine's load (`npm run bench -- skew`); that they aim at one moment is what must hold.
  const firstStarts = await starts(logs, 16, s.prefix);
  const plans = await Promise.all(
    Array.from({ length: 16 }, async (_, i) =>
      (await fs.readFile(path.join(logs, `${s.prefix}${i + 1}`, 'start_plan'), 'utf8')).trim().split(' ').map(Number),
    ),
  );
  const spread = Math.max(...firstStarts) - Math.min(...firstStarts);
  t.diagnostic(
    `16 nodes started within ${spread.toFixed(3)} s; each knew the common start ${plans.map(([at, known]) => (at! - known!).toFixed(2)).join(' ')} s before it`,
  );
  assert.equal(new Set(plans.map(([at]) => at)).size, 1, `one common start: ${plans.map(([at]) => at).join(' ')}`);
  const late = firstStarts.map((started, i) => started - Math.max(plans[i]![0]!, plans[i]![1]!));
  assert.ok(
    late.every((x) => x > -0.01 && x < 1),
    `each node started at the common start, or at once if it learned it late: ${late.map((x) => x.toFixed(2)).join(' ')}`,
  );
  assert.ok(plans.filter(([at, known]) => known! < at!).length >= 8, 'most nodes knew the common start before it came');
  assert.match(first.out, /^start: the nodes started gomel within \d\.\d\d s of each other$/m);
  assert.ok(await fs.stat(path.join(logs, 'committee.ka')), "the run's committee is kept beside its logs");
  const firstContainers = (await readStatus(engine, s.network)).map((x) => x.containerId);

  const second = await s.run([...upArgs(s, logs, 'panic'), '--strict'], 1);
  assert.match(second.err, /verdict --strict: consensus reached, but not every node shut down cleanly/);
  const secondContainers = (await readStatus(engine, s.network)).map((x) => x.containerId);
  assert.equal(secondContainers.length, 16);
  assert.ok(
    secondContainers.every((c) => c && !firstContainers.includes(c)),
    'every node ran again in a new task',
  );
  const secondStarts = await starts(logs, 16, s.prefix);
  assert.ok(Math.min(...secondStarts) > Math.max(...firstStarts), "the logs are the second run's");
});

test('a node that never finishes (its key does not match its line): deploy logs reads its log while it runs', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  // Line 1 gets line 2's public key: node1 signs with a key nobody accepts, like gomel with a wrong committee line.
  const file = path.join(s.keys, 'committee.ka');
  const lines = (await fs.readFile(file, 'utf8')).trimEnd().split('\n');
  lines[0] = [lines[1]!.split('|')[0], ...lines[0]!.split('|').slice(1)].join('|');
  await fs.writeFile(file, `${lines.join('\n')}\n`);
  await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);
  await s.run(['image', 'rebuild', '--binary', FAKE, '--tag', s.tag, ...projectFlags(s)]);
  await s.run(spawnArgs(s));
  const logs = path.join(s.root, 'logs');
  let node1 = '';
  for (let i = 0; i < 60 && !/invalid signature[^]*invalid signature/.test(node1); i++) {
    await new Promise((r) => setTimeout(r, 500));
    await s.run(['deploy', 'logs', '--network', s.network, '--out', logs, ...projectFlags(s)]);
    node1 = await fs.readFile(path.join(logs, `${s.prefix}1`, '0.config.log'), 'utf8').catch(() => '');
  }
  assert.match(node1, /invalid signature[^]*invalid signature/, 'the log of the running node grows');
  assert.equal(JSON.parse(await fs.readFile(path.join(logs, `${s.prefix}1`, 'task.json'), 'utf8')).state, 'running');
  const v = await s.run(['verdict', '--logs', logs], 1);
  assert.match(
    v.out,
    new RegExp(
      `^${s.prefix}1: NO consensus — .*never created a prime unit; ordered no units; errors: \\d+× "DataError: invalid signature"; shutdown: running`,
      'm',
    ),
  );
});
