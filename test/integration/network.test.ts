// Network conditions on the real engine: rate and loss shaped in the nodes'
// containers (tc HTB + u32, iptables statistic), and delay where the kernel has
// netem — or, where it has not (this machine), a spawn that fails at once with the
// netem message and leaves nothing running. A stand-in payload measures
// (test/fixtures/net-measure.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../helpers.js';
import { engine, keysFlags, projectFlags, sandbox, waitForNoContainers, waitUntilFinished, type Sandbox } from './helpers.js';

const run = promisify(execFile);
const MEASURE = path.join(REPO, 'test/fixtures/net-measure.sh');

async function measured(s: Sandbox, shaping: string[]): Promise<Record<string, string>> {
  await s.run(['deploy', 'spawn', '--image', s.tag, '--network', s.network, ...projectFlags(s), '--settle', '0', ...shaping]);
  await waitUntilFinished(s, 4);
  const logs = path.join(s.root, `logs-${Date.now()}`);
  await s.run(['deploy', 'logs', '--network', s.network, '--out', logs, ...projectFlags(s)]);
  const folder = path.join(logs, `${s.prefix}1`);
  const text = await fs.readFile(path.join(folder, 'measure.txt'), 'utf8').catch(async () => {
    // Say what the node did instead: its files, when it meant to start, and its output's end.
    const files = await fs.readdir(folder).catch(() => []);
    const plan = await fs.readFile(path.join(folder, 'start_plan'), 'utf8').catch(() => '(none)');
    const output = (await fs.readFile(path.join(logs, `${s.prefix}1.log`), 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
    assert.fail(`${s.prefix}1 wrote no measure.txt; its files: ${files.join(' ')}; start_plan: ${plan.trim()}; its output ends:\n${output}`);
  });
  assert.match(await fs.readFile(path.join(logs, `${s.prefix}1`, 'network.txt'), 'utf8'), new RegExp(`${s.prefix}1 -> `), 'what was applied is recorded');
  return Object.fromEntries(text.trim().split('\n').map((l) => [l.split(' ')[0]!, l]));
}

async function prepared(t: Parameters<typeof sandbox>[0]): Promise<Sandbox> {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);
  await s.run(['image', 'rebuild', '--binary', MEASURE, '--tag', s.tag, ...projectFlags(s)]);
  return s;
}

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
  await fs.writeFile(zones, JSON.stringify({ zones: { a: '1', b: '2-4' }, links: { 'a>b': 'loss=50%', 'b>a': 'loss=0%' } }));
  const m = await measured(s, ['--zones', zones]);
  const counts = /^pings (\d+) (\d+)$/.exec(m.pings ?? '');
  assert.ok(counts, `ping counts in ${JSON.stringify(m)}`);
  const [, sent, received] = counts;
  const loss = 1 - Number(received) / Number(sent);
  assert.equal(Number(sent), 200);
  assert.ok(loss >= 0.3 && loss <= 0.7, `lost ${(loss * 100).toFixed(0)}% of 200 pings`);
});

test('delay=50ms: the round trip grows by 100 ms where the kernel has netem; elsewhere spawn fails at once naming netem and leaves nothing running', async (t) => {
  const s = await prepared(t);
  const ns = `gnetem${process.pid}`;
  await run('ip', ['netns', 'add', ns]);
  const netem = await run('nsenter', [`--net=/run/netns/${ns}`, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']).then(() => true, () => false);
  await run('ip', ['netns', 'del', ns]);
  if (netem) {
    const m = await measured(s, ['--net', 'delay=50ms']);
    const avg = Number(/round-trip min\/avg\/max = [\d.]+\/([\d.]+)/.exec(Object.values(m).join('\n'))![1]);
    assert.ok(avg >= 100, `round trip ${avg} ms`);
    return;
  }
  const r = await s.run(['deploy', 'spawn', '--image', s.tag, '--network', s.network, ...projectFlags(s), '--net', 'delay=50ms'], 1);
  assert.match(r.err, new RegExp(`^gomelctl: deploy: network conditions of node\\d not applied: this kernel has no netem \\(sch_netem\\), which delay and jitter need; rate and loss can be applied without it; \\d of 4 nodes could not apply theirs, and the deployment was removed$`, 'm'));
  assert.deepEqual(await engine.listServices({ 'org.gomelctl.deployment': s.network }), [], 'no service left');
  assert.equal(await waitForNoContainers(s.network), 0, 'no container left');
});
