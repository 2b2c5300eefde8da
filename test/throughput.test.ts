// Transactions per second (units/s × Txpu, 100 bytes each: consensus-go e8d0088's
// generator) and the host's load (the nodes' cgroup CPU time) in the report: its
// headline, its JSON and its page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, tempDir, VECTORS } from './helpers.js';
import { bytesPerSecond, throughput, throughputText } from '../src/core/report/throughput.js';
import { hostLoad, parseCpuUsage } from '../src/core/logs/host-load.js';

const SWARM8 = path.join(VECTORS, 'logs/swarm-8');

test('transactions per second are units/s × Txpu, and the payload 100 bytes a transaction', () => {
  assert.deepEqual(throughput(27, 100), { txpu: 100, transactionsPerSecond: 2700, payloadBytesPerSecond: 270_000 });
  assert.equal(throughputText(throughput(27, 100)!), '2700 tx/s (270 KB/s payload)');
  // The measurement of issue 33: 8 real nodes, Txpu 500, 36 units/s.
  assert.equal(throughputText(throughput(36, 500)!), '18000 tx/s (1.80 MB/s payload)');
  assert.equal(throughputText(throughput(13.5, 1)!), '13.5 tx/s (1.35 KB/s payload)');
  assert.equal(throughput(undefined, 100), undefined, 'no units/s, no transactions/s');
  assert.equal(throughput(27, undefined), undefined, 'no config, no Txpu');
  assert.equal(bytesPerSecond(999), '999 B/s');
  assert.equal(bytesPerSecond(2.5e9), '2.50 GB/s');
});

/** A copy of swarm-8 (real gomel, 8 nodes in node folders) with its config's Txpu set, and each node's CPU record. */
async function swarm8With(t: { after: (fn: () => Promise<void>) => void }, txpu: number, cpu?: (k: number) => string) {
  const dir = path.join(await tempDir(t), 'swarm-8');
  await fs.cp(SWARM8, dir, { recursive: true });
  const conf = path.join(dir, 'conf.json');
  await fs.chmod(conf, 0o644);
  await fs.writeFile(conf, (await fs.readFile(conf, 'utf8')).replace(/"Txpu": 1,/, `"Txpu": ${txpu},`));
  if (cpu) for (let k = 1; k <= 8; k++) await fs.writeFile(path.join(dir, `node${k}/cpu_usage`), cpu(k));
  return dir;
}

test("the report gives transactions/s and payload from the config's Txpu: headline, JSON and the What was run table", async (t) => {
  const dir = await swarm8With(t, 500);
  const json = await cli(['report', '--json', '--logs', dir]);
  assert.equal(json.code, 0, json.err);
  const [run] = JSON.parse(json.out) as {
    setup: { txpu: number };
    figures: { unitsPerSecond: number; txpu: number; transactionsPerSecond: number; payloadBytesPerSecond: number };
  }[];
  const f = run!.figures;
  assert.equal(run!.setup.txpu, 500);
  assert.equal(f.txpu, 500);
  assert.equal(f.transactionsPerSecond, f.unitsPerSecond * 500);
  assert.equal(f.payloadBytesPerSecond, f.unitsPerSecond * 500 * 100);
  const text = await cli(['report', '--logs', dir]);
  assert.match(
    text.out,
    new RegExp(
      `units/s, ${Math.round(f.unitsPerSecond * 500)} tx/s \\(\\d+(\\.\\d+)? (KB|MB)/s payload\\), latency p50`,
    ),
  );
  const html = await fs.readFile(path.join(dir, 'report.html'), 'utf8');
  assert.ok(html.includes('<th>Txpu</th><td>500 (transactions of 100 bytes per unit)</td>'), 'What was run lists Txpu');
  assert.match(html, /<th>transactions per second \(units\/s × Txpu, 100 bytes each\)<\/th><td>\d+ \(/);
  assert.doesNotMatch(text.out, /HOST-BOUND/, 'no CPU records: nothing said of the host');
});

test('cpu_usage: a start and an end reading, in order; anything else is no record', () => {
  const ok = parseCpuUsage('start 1000.5 100 2\nend 1010.5 2100 2\n');
  assert.deepEqual(ok, {
    start: { wallSeconds: 1000.5, usageMicros: 100, cpus: 2 },
    end: { wallSeconds: 1010.5, usageMicros: 2100, cpus: 2 },
  });
  assert.equal(parseCpuUsage('start 1000.5 100 2\n'), undefined, 'gomel never ended');
  assert.equal(parseCpuUsage('start 1000 100 2\nend 999 2100 2\n'), undefined, 'an end before the start');
  assert.equal(parseCpuUsage('start 1000 100 2\nend 1010 50 2\n'), undefined, 'CPU time that went back');
  assert.equal(parseCpuUsage('start 1000 100 0\nend 1010 500 0\n'), undefined, 'no CPUs');
  // More CPU time than its CPUs had between the readings (hostile pass 20: 400 digits, "Infinity %").
  assert.equal(parseCpuUsage(`start 1000 0 2\nend 1010 ${'9'.repeat(400)} 2\n`), undefined, 'no container uses ∞ µs');
  assert.equal(parseCpuUsage('start 1000 0 2\nend 1010 23000000 2\n'), undefined, '23 s on 2 CPUs in 10 s');
  assert.ok(parseCpuUsage('start 1000 0 2\nend 1010 20000000 2\n'), 'both CPUs all the time');
  // A restarted gomel adds readings: the first start and the last end count.
  assert.deepEqual(parseCpuUsage('start 1 0 4\nend 5 10 4\nstart 6 12 4\nend 9 30 4\n')?.end.usageMicros, 30);
});

test("host load: the nodes' CPU time over the host's CPUs from the first start to the last end; ≥ 90% is host-bound", () => {
  const cpu = (from: number, to: number, seconds: number, cpus = 2) =>
    parseCpuUsage(`start ${from} 0 ${cpus}\nend ${to} ${seconds * 1e6} ${cpus}\n`);
  // Four nodes on one 2-CPU host for 10 s, 4.5 CPU-s each: 18 of 20 CPU-s, 90%.
  const bound = hostLoad([0, 1, 2, 3].map(() => ({ cpu: cpu(100, 110, 4.5), logged: true })));
  assert.equal(bound!.busiest, 0.9);
  assert.equal(bound!.hostBound, true);
  assert.deepEqual(bound!.hosts, [{ host: '?', nodes: 4, cpus: 2, cpuSeconds: 18, wallSeconds: 10, busy: 0.9 }]);
  const idle = hostLoad([0, 1, 2, 3].map(() => ({ cpu: cpu(100, 110, 4.4), logged: true })));
  assert.equal(idle!.hostBound, false, '88% is not host-bound');
  // Two hosts: each judged alone, the busiest decides; a node without a record is counted as such.
  const two = hostLoad([
    { cpu: cpu(100, 110, 19), host: 'lab1', logged: true },
    { cpu: cpu(100, 110, 2), host: 'lab2', logged: true },
    { cpu: undefined, host: 'lab2', logged: true },
  ]);
  assert.deepEqual(
    two!.hosts.map((h) => [h.host, h.busy]),
    [
      ['lab1', 0.95],
      ['lab2', 0.1],
    ],
  );
  assert.equal(two!.hostBound, true);
  assert.equal(two!.unrecorded, 1);
  assert.equal(hostLoad([{ cpu: undefined, logged: true }]), undefined, 'no record at all: no figure');
  // One node's record cannot make its host idle (99999999999 CPUs), nor count more CPU time than the host's
  // CPUs had over its run (a node may burn them all: no more): the host's CPUs are what most of its nodes saw.
  const loaded = [0, 1, 2].map(() => ({ cpu: cpu(100, 110, 5.4), logged: true }));
  assert.equal(hostLoad([...loaded, { cpu: cpu(100, 110, 5.4, 99999999999), logged: true }])!.hostBound, true);
  const quiet = [0, 1, 2].map(() => ({ cpu: cpu(100, 110, 1), logged: true }));
  const liar = hostLoad([...quiet, { cpu: cpu(100, 110, 3e7, 99999999999), logged: true }])!;
  assert.equal(liar.busiest, (3 + 11 * 2) / 20, 'its 11 s on the 2 CPUs at most');
});

test('a run whose nodes kept the host busy is HOST-BOUND in the headline, the JSON and the page', async (t) => {
  // 8 nodes, 2.4 CPU-s each over the same 10 s on 2 CPUs: 96% busy.
  const dir = await swarm8With(t, 1, () => 'start 1000.000000 0 2\nend 1010.000000 2400000 2\n');
  const r = await cli(['report', '--logs', dir]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /, HOST-BOUND: the nodes kept 96% of the host's 2 CPUs busy$/m);
  const html = await fs.readFile(path.join(dir, 'report.html'), 'utf8');
  assert.match(html, /<li class="marked"><b>swarm-8<\/b>: .*HOST-BOUND: the nodes kept 96%/);
  assert.ok(html.includes('<td>HOST-BOUND: 96% of 2 CPUs (19.2 CPU-s over 10.0 s, 8 nodes)</td>'));
  const json = await cli(['report', '--json', '--logs', dir]);
  const [run] = JSON.parse(json.out) as { figures: { hostLoad: { hostBound: boolean; busiest: number } } }[];
  assert.equal(run!.figures.hostLoad.hostBound, true);
  assert.equal(run!.figures.hostLoad.busiest, 0.96);
});
