// Network conditions on the real engine, shaped in the nodes' containers: rate and loss (tc HTB + u32,
// iptables statistic), and --net-impl netem refused at once where the kernel lacks it. A stand-in
// payload measures (network-support.ts). The userspace delayer's cases: network-delay.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { engine, spawnArgs, waitForNoContainers } from './helpers.js';
import { measured, prepared, roundTrips } from './network-support.js';

const run = promisify(execFile);

test('rate=1mbit: 512 KB between two nodes take about the 4.2 s the rate allows, never much less', async (t) => {
  const s = await prepared(t);
  const m = await measured(s, ['--net', 'rate=1mbit']);
  assert.equal(m.transfer_bytes, 'transfer_bytes 524288');
  const seconds = Number(m.transfer_seconds!.split(' ')[1]);
  // 524288 B × 8 / 10^6 bit/s = 4.19 s; HTB's token bucket lets a burst through at once, so allow 10%.
  assert.ok(seconds >= 0.9 * 4.194, `512 KB at 1 mbit/s took ${seconds} s`);
  const status = await s.run(['deploy', 'status', '--network', s.network]);
  assert.match(status.out, /network all peers: rate=1000kbit/);
});

test('a zones file with loss=50% one way: about half of 200 pings are lost', async (t) => {
  const s = await prepared(t);
  const zones = path.join(s.root, 'zones.json');
  await fs.writeFile(
    zones,
    JSON.stringify({ zones: { a: '1', b: '2-4' }, links: { 'a>b': 'loss=50%', 'b>a': 'loss=0%' } }),
  );
  const m = await measured(s, ['--zones', zones]);
  const counts = /^pings (\d+) (\d+)$/.exec(m.pings ?? '');
  assert.ok(counts, `ping counts in ${JSON.stringify(m)}`);
  const [, sent, received] = counts;
  const loss = 1 - Number(received) / Number(sent);
  assert.equal(Number(sent), 200);
  assert.ok(loss >= 0.3 && loss <= 0.7, `lost ${(loss * 100).toFixed(0)}% of 200 pings`);
});

test('--net-impl netem where the kernel has no netem: spawn fails at once naming netem and leaves nothing running', async (t) => {
  const s = await prepared(t);
  const ns = `gnetem${process.pid}`;
  await run('ip', ['netns', 'add', ns]);
  const netem = await run('nsenter', [
    `--net=/run/netns/${ns}`,
    'tc',
    'qdisc',
    'add',
    'dev',
    'lo',
    'root',
    'netem',
    'delay',
    '1ms',
  ]).then(
    () => true,
    () => false,
  );
  await run('ip', ['netns', 'del', ns]);
  if (netem) {
    const m = await measured(s, ['--net', 'delay=50ms', '--net-impl', 'netem']);
    // As the delayer's case (network-delay.test.ts): the floor exact, the fastest near the delay asked.
    const rtts = roundTrips(m, 'rtts1');
    assert.ok(rtts.every((r) => r >= 99) && Math.min(...rtts) < 150, `netem round trips ${m.rtts1}`);
    return;
  }
  const r = await s.run([...spawnArgs(s), '--net', 'delay=50ms', '--net-impl', 'netem'], 1);
  assert.match(
    r.err,
    new RegExp(
      `^gomelctl: deploy: network conditions of node\\d not applied: this kernel has no netem \\(sch_netem\\), which --net-impl netem needs; --net-impl auto or userspace delays with gomel-delayer instead; \\d of 4 nodes could not apply theirs, and the deployment was removed$`,
      'm',
    ),
  );
  assert.deepEqual(await engine.listServices({ 'org.gomelctl.deployment': s.network }), [], 'no service left');
  assert.equal(await waitForNoContainers(s.network), 0, 'no container left');
});
