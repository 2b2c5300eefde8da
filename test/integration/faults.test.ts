// Faults on purpose (issue 24): each node applies its own part of the plan, timed
// from the common start, records what it did, and the verdict counts the nodes the
// plan made faulty against f = ⌊(N−1)/3⌋.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, REPO } from '../helpers.js';
import { keysFlags, projectFlags, sandbox, upFlags } from './helpers.js';
import { readRunRecord } from '../../src/fs/run-folder.js';

const FAKE = path.join(REPO, 'test/fixtures/fake-gomel.sh');

/** The run's fault record as the verdict reads it: run.json's plan, its events in words, who it makes faulty or delayed. */
async function faultRecord(logs: string) {
  const { faults } = await readRunRecord(logs);
  assert.ok(faults, `${logs}/run.json records the faults`);
  return faults;
}

test('a planned crash of f nodes is tolerated, a pause is applied and recorded; a bad plan changes nothing', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(path.join(s.configs, 'slow.json'), await fs.readFile(path.join(s.configs, 'config.json')));
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const logs = path.join(s.root, 'logs');
  const upArgs = ['up', '--binary', FAKE, '--config', 'slow', ...upFlags(s, logs), '--timeout', '180'];

  const bad = await s.run([...upArgs, '--faults', 'crash:9@1s'], 2);
  assert.match(bad.err, /^gomelctl: --faults "crash:9@1s": .*node/m);
  assert.equal(bad.err.trim().split('\n').length, 1, 'one line');

  // The stand-in runs 10 s with 'slow': node4 is killed 2 s in and started again at 4 s, node2 frozen from 1 s to 3 s.
  const r = await s.run([...upArgs, '--faults', 'crash:4@2s;pause:2@1s-3s;restart:4@4s']);
  assert.match(r.out, /^deploy: fault planned: .*crash.*4/m);
  assert.match(
    r.out,
    new RegExp(
      `^consensus reached by all 3 correct nodes \\(\\d+ units in the same order\\); ${s.prefix}4 crashed at 2 s, restarted at 4 s as planned; f = 1 tolerated; ${s.prefix}2 paused 1 s–3 s, and caught up$`,
      'm',
    ),
  );
  const record = await faultRecord(logs);
  assert.deepEqual(
    record.faulty.map((x) => x.host),
    [`${s.prefix}4`],
  );
  assert.deepEqual(
    record.delayed.map((x) => x.host),
    [`${s.prefix}2`],
  );
  const crashed = await fs.readFile(path.join(logs, `${s.prefix}4`, 'faults.log'), 'utf8');
  assert.match(crashed, /^\d+\.\d+ 2000 kill ok$/m, 'node4 recorded its crash with the wall time');
  assert.match(crashed, /^\d+\.\d+ 4000 restart ok$/m);
  assert.equal(
    (await fs.readFile(path.join(logs, `${s.prefix}4`, 'exit_status.before-restart1'), 'utf8')).trim(),
    '137',
  );
  assert.match(
    await fs.readFile(path.join(logs, `${s.prefix}4`, 'restart1-3.slow.log'), 'utf8'),
    /"E":"B"/,
    'the restarted gomel ran to its end, in a log of its own',
  );
  const paused = await fs.readFile(path.join(logs, `${s.prefix}2`, 'faults.log'), 'utf8');
  assert.match(paused, /^\d+\.\d+ 1000 stop ok$/m);
  assert.match(paused, /^\d+\.\d+ 3000 cont ok$/m);
});

test('more than f crashed: up shows progress, ends the wait at the stall, stops the nodes left, and judges the stall BFT allows (exit 3)', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(path.join(s.configs, 'stall.json'), await fs.readFile(path.join(s.configs, 'config.json')));
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const logs = path.join(s.root, 'logs');
  // Two of four (f = 1) crash at once; the stand-ins left climb five levels and stop ordering.
  const r = await s.run(
    [
      'up',
      '--binary',
      FAKE,
      '--config',
      'stall',
      ...upFlags(s, logs),
      '--timeout',
      '300',
      '--faults',
      'crash:3,4@1s',
      '--stall',
      '6',
    ],
    3,
  );
  assert.match(
    r.err,
    /^up: \d+ s — level \d+\/[\d.]+\/\d+ \(min\/median\/max\), \d+ units ordered, \d\/4 nodes alive(, \d+ fault action\(s\) applied)?$/m,
    'progress while the nodes run',
  );
  assert.match(
    r.out,
    /^up: stalled: no node ordered a new unit for \d+ s \(stall time 6 s\); collecting and judging now instead of waiting for --timeout$/m,
  );
  // The two left running are asked to end gomel (SIGTERM) so that they ship their files, and do: none is left to stop.
  assert.match(r.out, /^up: asked the 2 node\(s\) still running to end and ship their files \(2 ended\)$/m);
  assert.doesNotMatch(r.out, /^up: stopped the \d+ node\(s\) still running/m);
  assert.match(
    r.out,
    new RegExp(
      `^stalled as expected: 2 faulty > f = 1 \\(${s.prefix}3, ${s.prefix}4 crashed at 1 s as planned\\); the 2 correct nodes agree on 5 units`,
      'm',
    ),
  );
  assert.match(r.err, /^gomelctl: verdict: stalled as expected/m);
});

test('live faults (gomelctl fault): pause, resume, partition, heal, slow and crash reach the running nodes, are recorded, and the verdict judges them; bad ones change nothing', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(path.join(s.configs, 'stall.json'), await fs.readFile(path.join(s.configs, 'config.json')));
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);
  await s.run(['image', 'rebuild', '--binary', FAKE, '--tag', s.tag, ...projectFlags(s)]);
  // The 'stall' stand-in climbs five levels and then runs on without ordering: a run to act on.
  await s.run([
    'deploy',
    'spawn',
    '--image',
    s.tag,
    '--config',
    'stall',
    '--network',
    s.network,
    '--cap-add',
    'NET_ADMIN',
    ...projectFlags(s),
  ]);
  const node = (k: number) => `${s.prefix}${k}`;
  const fault = (args: string[], code = 0) => s.run(['fault', ...args, '--network', s.network, '--keys', s.keys], code);

  // Before anything is sent: one line each, exit 2.
  for (const [args, message] of [
    [['explode', '1'], /unknown action "explode"/],
    [['crash', '9'], /node 9 is not in the 4-node committee/],
    [['slow', '1'], /slow needs --cpu/],
  ] as const) {
    const r = await s.run(['fault', ...args, '--network', s.network, '--keys', s.keys], 2);
    assert.match(r.err, message);
    assert.equal(r.err.trim().split('\n').length, 1);
  }
  assert.match(
    (await s.run(['fault', 'pause', '1', '--network', `${s.network}x`, '--keys', s.keys], 2)).err,
    /no gomelctl deployment of these keys on network/,
  );

  // gomel runs once the common start has passed; until then a node's control listener is not up.
  let paused = await cli(['fault', 'pause', '2', '--network', s.network, '--keys', s.keys]);
  for (let i = 0; i < 60 && paused.code !== 0; i++) {
    assert.equal(paused.code, 1, paused.err);
    await new Promise((r) => setTimeout(r, 1000));
    paused = await cli(['fault', 'pause', '2', '--network', s.network, '--keys', s.keys]);
  }
  assert.match(
    paused.out,
    new RegExp(`^fault: ${node(2)}: stop applied at [\\d.]+ (s|ms) after the common start$`, 'm'),
  );
  const before = (await s.run(['deploy', 'status', '--network', s.network, '--json'])).out;
  await fault(['resume', '2']);
  const cut = await fault(['partition', '1-2|3-4']);
  assert.match(cut.out, new RegExp(`^fault: ${node(1)}: drop ${node(3)} ${node(4)} applied at `, 'm'));
  assert.match(cut.out, new RegExp(`^fault: ${node(4)}: drop ${node(1)} ${node(2)} applied at `, 'm'));
  await fault(['heal']);
  await fault(['slow', '1', '--cpu', '0.5']);
  await fault(['resume', '1']);
  const crash = await fault(['crash', '3,4']);
  assert.equal(crash.out.trim().split('\n').length, 2);
  // Recording a fault changes the services' labels only: no node was restarted.
  const ids = (json: string) =>
    (JSON.parse(json) as { node: string; since?: string }[])
      .filter((x) => x.node !== node(3) && x.node !== node(4))
      .map((x) => [x.node, x.since]);
  assert.deepEqual(ids((await s.run(['deploy', 'status', '--network', s.network, '--json'])).out), ids(before));
  // A node whose gomel is gone cannot be acted on: said per node, exit 1.
  await new Promise((r) => setTimeout(r, 1500));
  const again = await fault(['pause', '4'], 1);
  assert.match(again.out, new RegExp(`^fault: ${node(4)}: stop: (not running|no control listener answers)`, 'm'));

  const logs = path.join(s.root, 'logs');
  await s.run(['deploy', 'logs', '--network', s.network, '--out', logs, ...projectFlags(s)]);
  const record = await faultRecord(logs);
  assert.deepEqual(
    record.faulty.map((x) => x.host),
    [node(3), node(4)],
  );
  assert.deepEqual(
    record.delayed.map((x) => x.host),
    [node(1), node(2)],
  );
  assert.ok(
    record.events.every((e) => e.includes('(live: fault ')),
    record.events.join('\n'),
  );
  const log2 = await fs.readFile(path.join(logs, node(2), 'faults.log'), 'utf8');
  assert.match(
    log2,
    /^\d+\.\d+ \d+ stop ok\n\d+\.\d+ \d+ resume ok\n\d+\.\d+ \d+ drop \S+ \S+ ok\n\d+\.\d+ \d+ heal ok\n$/,
  );
  const v = await s.run(['verdict', '--logs', logs, '--keys', s.keys], 3);
  assert.match(
    v.out,
    new RegExp(
      `^stalled as expected: 2 faulty > f = 1 \\(${node(3)}, ${node(4)} crashed by gomelctl fault at [\\d.]+ m?s\\)`,
      'm',
    ),
  );
});
