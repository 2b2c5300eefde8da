// Hostile pass B8 (issue 30): forged logs folders must cost the verdict and the report bounded
// memory and time, and every printed line stays short. Each bound is shown with an input just
// over it, generated here (never a large file in the repository); real logs still read whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { cli, copyLogs, readLines, tempDir, writeLines } from './helpers.js';
import { MAX_GZIP_MEMBERS, MAX_LOG_BYTES, MAX_LOG_LINES, readLogStats } from '../src/fs/node-logs.js';
import {
  addProtocolLine,
  mergeProtocolStats,
  newProtocolStats,
  protocolValueBudget,
  type ProtocolStats,
} from '../src/core/logs/protocol-stats.js';
import { judgeProbes, parseProbeReport, probeCommittee } from '../src/core/logs/probe.js';
import { MAX_RECORDED_FAULT_EVENTS } from '../src/core/faults/plan.js';

test('a .gz log of more gzip members than 1024 (100 k tiny ones took 124 s) is named and not judged; 1024 still read', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, '0.log.gz');
  const members = Array.from({ length: MAX_GZIP_MEMBERS + 1 }, (_, i) => gzipSync(`{"E":"Z","C":0,"H":${i}}\n`));
  await fs.writeFile(file, Buffer.concat(members.slice(0, MAX_GZIP_MEMBERS)));
  const whole = await readLogStats(file);
  assert.equal(whole.problem, undefined);
  assert.equal(whole.stats!.order.length, MAX_GZIP_MEMBERS);
  await fs.writeFile(file, Buffer.concat(members));
  const refused = await readLogStats(file);
  assert.equal(refused.stats, undefined, 'a log read in part does not speak for its node');
  assert.equal(
    refused.problem,
    `log refused: ${file} is more than 1024 gzip members one after another, where gzip writes one a file — not judged; check the file (gunzip it)`,
  );
});

test('a log of more lines than MAX_LOG_LINES (256 MiB of newlines in a 400 KB gzip took the verdict 10 s) is named and not judged; blank lines reach no reader', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, '0.log.gz');
  // A count, not a clock: the line cap is the byte cap's worth of gomel's shortest lines (24 bytes).
  assert.equal(MAX_LOG_LINES, Math.floor(MAX_LOG_BYTES / 24));
  await fs.writeFile(file, gzipSync(Buffer.alloc(MAX_LOG_LINES, '\n')));
  assert.equal((await readLogStats(file)).problem, 'empty log', 'MAX_LOG_LINES are read');
  await fs.writeFile(file, gzipSync(Buffer.alloc(MAX_LOG_LINES + 1, '\n')));
  assert.deepEqual(await readLogStats(file), {
    stats: undefined,
    problem: `log too large: ${file} holds more than ${MAX_LOG_LINES} lines, far more than a gomel run writes — not judged; check the file`,
  });
  // The report sees every line the verdict reads through alsoLine: the 2 of gomel's, none of the 100,000 blank ones.
  const blank = '\n'.repeat(50_000);
  await fs.writeFile(file, gzipSync(`${blank}{"L":"1","S":0,"T":5,"E":"A"}\n${blank}{"L":"1","S":0,"T":6,"E":"B"}`));
  const seen: string[] = [];
  const { stats } = await readLogStats(file, (line) => seen.push(line));
  assert.equal(stats!.lines, 2);
  assert.deepEqual(seen, ['{"L":"1","S":0,"T":5,"E":"A"}', '{"L":"1","S":0,"T":6,"E":"B"}']);
});

const feed = (s: ProtocolStats, lines: readonly string[]) => {
  for (const line of lines) addProtocolLine(s, line);
  return s;
};

test('the protocol figures keep of a log at most its share of distinct values, and per-peer counts for the committee only', async () => {
  // A forged log of a new parent count a line, against a share of 100 (scaled down from protocolValueBudget).
  const forged = feed(
    newProtocolStats(8, 100),
    Array.from({ length: 1000 }, (_, i) => `{"L":"1","A":${i},"T":0,"E":"C"}`),
  );
  assert.equal(forged.overflow, true);
  assert.equal(forged.parents.size + forged.creationIntervalsMs.size, 100, 'nothing past the share is kept');
  // Multicast units from creators 0..999 and gossip sessions with peers 0..19, in an 8-node committee.
  const peers = feed(newProtocolStats(8, 100), [
    ...Array.from({ length: 1000 }, (_, c) => `{"L":"1","C":${c},"T":1,"E":"g"}`),
    ...Array.from({ length: 20 }, (_, p) => [
      `{"L":"1","P":${p},"O":1,"T":1,"E":"J"}`,
      `{"L":"1","P":${p},"O":1,"F":1,"T":2,"E":"K"}`,
      `{"L":"1","P":${p},"O":1,"U":5,"V":5,"T":3,"E":"X"}`,
    ]).flat(),
  ]);
  assert.equal(peers.overflow, false);
  assert.equal(peers.multicastFrom.size, 8);
  assert.equal(peers.peerBytes.gossip.size, 8);
  assert.equal(peers.outsidePeers, 992 + 12);
  const run = mergeProtocolStats([
    { label: 'node1', pid: 0, stats: peers },
    { label: 'node2', pid: 1, stats: forged },
  ]);
  assert.equal(run.nodes, 1, 'the node over its share is left out');
  assert.deepEqual(run.flags, [
    "left out of the protocol figures: node2 — more than 100 distinct values (parents, intervals, durations, depths) in a log, where gomel's hold a few hundred",
    '1004 line(s) of node1 name a peer outside the 8-node committee: not counted per peer',
  ]);
  assert.equal(protocolValueBudget(8), 125_000);
  assert.equal(protocolValueBudget(256), 16_000);
});

test('report: a forged log past its share of distinct values, or naming peers outside the committee, is named in one line each; the real nodes are figured', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  const file = path.join(dir, 'node3/2.config.log.gz');
  const forged = Array.from({ length: protocolValueBudget(8) + 1 }, (_, i) => `{"L":"1","A":${i},"T":0,"E":"C"}`);
  await writeLines(file, [...(await readLines(file)), ...forged]);
  const other = path.join(dir, 'node5/4.config.log.gz');
  await writeLines(other, [...(await readLines(other)), '{"L":"1","C":99,"T":1,"E":"g"}']);
  // A network.txt of 2 MB (run.sh writes a line per group of peers): read in its head, kept as a short line.
  const rule = 'node1 -> eu (node2 node3): delay=50ms\n';
  await fs.writeFile(path.join(dir, 'node1/network.txt'), rule.repeat(50_000));
  const r = await cli(['report', '--trust-logs', '--logs', dir, '--json', '--out', path.join(dir, 'r.html')]);
  assert.equal(r.code, 0, r.err);
  const [run] = JSON.parse(r.out) as {
    protocol: { nodes: number; flags: string[] };
    figures: { perNode: { label: string; network?: string }[] };
  }[];
  const network = run!.figures.perNode.find((n) => n.label === 'node1')!.network!;
  assert.ok(network.startsWith('eu (2 peers): delay=50ms; ') && network.length === 1000, network.slice(0, 80));
  assert.equal(run!.protocol.nodes, 7);
  assert.deepEqual(run!.protocol.flags.slice(0, 2), [
    "left out of the protocol figures: node3 — more than 125000 distinct values (parents, intervals, durations, depths) in a log, where gomel's hold a few hundred",
    '1 line(s) of node5 name a peer outside the 8-node committee: not counted per peer',
  ]);
});

test('a probe report keeps what a real one can hold: 3 errors, an unreached line per committee address, each clipped', () => {
  const committee = probeCommittee(
    Array.from({ length: 8 }, (_, pid) => ({ addresses: [9000, 10000, 11000].map((p) => `node${pid + 1}:${p}`) })),
  );
  const report = parseProbeReport(
    [
      'pid 0',
      `key ${'k'.repeat(10_000)}`,
      ...Array.from({ length: 10_000 }, (_, i) => `error ${i}`),
      ...Array.from({ length: 10_000 }, (_, i) => `peer ${i} h${i}:9000 unreachable`),
      `peer 0 ${'x'.repeat(10_000)} unreachable`,
      'result fail',
    ].join('\n'),
    committee,
  );
  assert.deepEqual([report.errors, report.errorCount], [['0', '1', '2'], 10_000]);
  assert.deepEqual([report.unreached.length, report.unreachedCount], [24, 10_001]);
  assert.ok(report.key!.length <= 200);
  const [node] = judgeProbes([{ label: 'node1', pid: 0, report }], committee, 1).nodes;
  assert.deepEqual(node!.reasons.slice(0, 4), ['0', '1', '2', 'and 9997 more error line(s)']);
  assert.match(
    node!.reasons[5]!,
    /^10001 address\(es\) not reached: h0:9000 unreachable, h1:9000 unreachable, h2:9000 unreachable, …$/,
  );
  assert.ok(node!.reasons.every((r) => r.length <= 700));
});

/** swarm-8 with every node's started_at, and a run.json whose fault plan is `events`. */
async function withRecord(t: Parameters<typeof copyLogs>[0], events: object[]): Promise<string> {
  const dir = await copyLogs(t, 'swarm-8');
  const hosts = Array.from({ length: 8 }, (_, i) => `node${i + 1}`);
  for (const h of hosts) await fs.writeFile(path.join(dir, h, 'started_at'), `${T0}.000000\n`);
  await fs.writeFile(
    path.join(dir, 'run.json'),
    JSON.stringify({ version: 1, network: 'net', hosts, faults: { n: 8, hosts, events } }),
  );
  return dir;
}

const T0 = 1795000000;
/** A pause window of 10 ms every 20 ms, round the nodes: the i-th on node (i mod 8) + 1. */
const pauses = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    kind: 'pause',
    nodes: [(i % 8) + 1],
    atMs: 20 * i,
    untilMs: 20 * i + 10,
    source: `pause:${(i % 8) + 1}@${20 * i}ms-${20 * i + 10}ms`,
  }));

test('run.json: over 8 MiB, or over 10000 fault events, is refused in one line naming the file and the figure', async (t) => {
  const many = await withRecord(t, pauses(MAX_RECORDED_FAULT_EVENTS + 1));
  const r = await cli(['verdict', '--trust-logs', '--logs', many]);
  assert.equal(r.code, 1);
  assert.equal(
    r.err,
    `gomelctl: ${many}/run.json:faults.events: 10001 events, more than the 10000 a run's fault record can hold — collect the logs again with \`gomelctl deploy logs\`, or remove the file`,
  );
  const large = await withRecord(t, []);
  await fs.appendFile(path.join(large, 'run.json'), ' '.repeat(8 * 1024 * 1024));
  const big = await cli(['verdict', '--trust-logs', '--logs', large]);
  assert.equal(big.code, 1);
  assert.match(
    big.err,
    new RegExp(`^gomelctl: ${large}/run\\.json: is 8\\.0 MiB, more than a run record can be \\(8 MiB\\) — [^\\n]+$`),
  );
});

test('10000 fault windows, each applied and undone by its node: every printed line of the verdict stays short', async (t) => {
  const events = pauses(MAX_RECORDED_FAULT_EVENTS);
  const dir = await withRecord(t, events);
  for (let k = 1; k <= 8; k++) {
    const lines = events
      .filter((e) => e.nodes[0] === k)
      .slice(0, 1000)
      .flatMap((e) => [`${T0 + e.atMs / 1000} ${e.atMs} stop ok`, `${T0 + e.untilMs / 1000} ${e.untilMs} cont ok`]);
    await fs.writeFile(path.join(dir, `node${k}`, 'faults.log'), `${lines.join('\n')}\n`);
  }
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 0, r.err);
  const lines = [...r.out.split('\n'), ...r.err.split('\n')];
  assert.ok(
    lines.every((l) => l.length <= 400),
    lines.find((l) => l.length > 400),
  );
  assert.match(
    r.out,
    /^node1: consensus — .*; fault applied and undone: paused 0 s–10 ms, paused 160 ms–170 ms, paused 320 ms–330 ms and \d+ more$/m,
  );
});
