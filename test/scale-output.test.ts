// What gomelctl prints about a 256-node committee (issue 35): every output about many
// nodes is a summary — how many of each kind, a few names, and where the full list is —
// never a line that grows with N. At 128 nodes a failed probe verdict was one line of
// about 40 KB, printed twice. The engine is the in-memory one (no Docker).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deploySpawn } from '../src/commands/deploy-spawn.js';
import { deployStatus } from '../src/commands/deploy-status.js';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { fault } from '../src/commands/fault.js';
import { keysGen } from '../src/commands/keys.js';
import { captureOutput } from '../src/commands/output.js';
import { CheckFailed } from '../src/core/errors.js';
import {
  committeeProgress,
  describeProbeProgress,
  describeProgress,
  lastProbeProgress,
  lastProgress,
} from '../src/core/logs/live-progress.js';
import { DEPLOY_LOGS_FILE, planLogsFolder, VERDICT_FILE } from '../src/core/logs/logs-folder.js';
import { MemoryEngine, type Fate } from './support/memory-engine.js';
import type { Engine } from '../src/docker/engine.js';
import { cli, REPO, tempDir, VECTORS } from './helpers.js';

const N = 256;
/** A line a reader takes in at a glance; the 128-node probe verdict was about 40,000 characters. */
const LONGEST = 300;
const IMAGE = `gomel@sha256:${'ab'.repeat(32)}`;

/** Every line short, and few of them: as many lines at 256 nodes as at 20. */
function assertSummary(lines: readonly string[], what: string, most = 12): void {
  for (const line of lines) assert.ok(line.length <= LONGEST, `${what}: a line of ${line.length} characters: ${line}`);
  assert.ok(lines.length <= most, `${what}: ${lines.length} lines:\n${lines.join('\n')}`);
}

async function committee(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  const keys = path.join(root, 'keys');
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
  await keysGen({ n: N, dir: keys, hostPrefix: 'node', config: 'config', configs }, captureOutput());
  return { root, keys, configs };
}

test('the probe verdict of 256 nodes that reached no one: a few short lines, the headline once, every node in verdict.txt', async (t) => {
  const { root, keys } = await committee(t);
  const logs = path.join(root, 'logs');
  await fs.mkdir(logs);
  await fs.copyFile(path.join(keys, 'committee.ka'), path.join(logs, 'committee.ka'));
  // What the user saw: every node says every address is unreachable (3 a node), two have a wrong key, one no report.
  const unreachable = Array.from({ length: N }, (_, k) =>
    [9000, 10000, 11000].map((port) => `peer ${k} node${k + 1}:${port} unreachable`),
  ).flat();
  for (let k = 1; k <= N; k++) {
    if (k === 77) continue;
    await fs.mkdir(path.join(logs, `node${k}`));
    const key = k === 5 || k === 6 ? 'mismatch: the private key does not match committee line 5' : 'ok';
    await fs.writeFile(
      path.join(logs, `node${k}`, 'probe.txt'),
      [`pid ${k - 1}`, 'config config', `nodes ${N}`, `key ${key}`, ...unreachable, 'result fail', ''].join('\n'),
    );
  }
  // A folder deploy logs did not write gets no verdict.txt: a user's file of that name is kept (hostile pass P03).
  await fs.writeFile(path.join(logs, VERDICT_FILE), 'my notes\n');
  const unmanaged = await cli(['verdict', '--logs', logs]);
  assert.equal(unmanaged.code, 1);
  assert.equal(await fs.readFile(path.join(logs, VERDICT_FILE), 'utf8'), 'my notes\n');
  assert.ok(unmanaged.out.split('\n').includes("probe: every node's verdict: `gomelctl verdict --json`"));
  // As deploy logs leaves it: its manifest, naming what it wrote.
  await fs.rm(path.join(logs, VERDICT_FILE));
  const entries = ['committee.ka', ...Array.from({ length: N }, (_, k) => `node${k + 1}`)];
  await fs.writeFile(path.join(logs, '.gomelctl-logs'), JSON.stringify({ network: 'net', entries }));
  const r = await cli(['verdict', '--logs', logs]);
  assert.equal(r.code, 1);
  const lines = [...r.out.split('\n'), ...r.err.split('\n')];
  assertSummary(lines, 'verdict');
  const headline = `probe: 0 of ${N} nodes reached every peer`;
  assert.equal(lines.filter((l) => l.includes(headline)).length, 1, `the headline once:\n${lines.join('\n')}`);
  assert.equal(r.err, `gomelctl: verdict: ${headline}`);
  assert.match(r.out, /^probe: 253 did not reach every address: node1, node2, node3 and 250 more$/m);
  assert.match(r.out, /^probe: 2 have a wrong key \(mismatch\): node5, node6$/m);
  assert.match(r.out, /^probe: 1 left no probe report: node77$/m);
  assert.match(
    r.out,
    /^probe: peers not reached: node1 \(by 255 node\(s\)\), node2 \(by 255 node\(s\)\), node3 \(by 255 node\(s\)\) and 253 more$/m,
  );
  // The full list is in the file the output names.
  const file = path.join(logs, VERDICT_FILE);
  assert.ok(r.out.split('\n').includes(`probe: every node's verdict: ${file}`));
  const full = (await fs.readFile(file, 'utf8')).split('\n');
  for (let k = 1; k <= N; k++)
    assert.ok(
      full.some((l) => l.startsWith(`node${k}: FAIL — `)),
      `node${k} in the file`,
    );
  assert.ok(full.includes('node77: FAIL — 0 address(es) reached; no probe report'));
  // Written again by the next verdict; a user's verdict.txt in its place is kept, even in a folder deploy logs wrote.
  assert.equal((await cli(['verdict', '--logs', logs])).code, 1);
  await fs.writeFile(file, 'my notes\n');
  const kept = await cli(['verdict', '--logs', logs]);
  assert.equal(await fs.readFile(file, 'utf8'), 'my notes\n');
  assert.match(kept.err, /verdict\.txt is not one gomelctl wrote \(its first line\): kept as it is/);
  assert.ok(
    full.some((l) =>
      /^node5: FAIL — 0 address\(es\) reached; key mismatch: .*; 768 address\(es\) not reached: /.test(l),
    ),
  );
});

test('256 nodes under deploy spawn, status, logs and fault: summaries of a few short lines; the full lists in deploy-logs.txt, --all and --json', async (t) => {
  const p = await committee(t);
  // Most nodes run; some failed, some finished, and their outputs are long.
  const fate = (name: string): Fate => {
    const k = Number(name.slice(4));
    if (k % 50 === 0)
      return { state: 'failed', exitCode: 2, output: `panic: send on closed channel ${'x'.repeat(500)}\n` };
    if (k % 60 === 0) return { state: 'complete', exitCode: 0, output: `done\n` };
    return { state: 'running', output: `gomelctl-progress 1.5 7 30 0\n` };
  };
  // The messenger of `gomelctl fault` on the overlay: most nodes apply the request, some answer nothing or refuse it.
  const messenger = async (_image: string, _network: string, _cmd: string[], env: string[]) => {
    const vars = new Map(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    const lines: string[] = [];
    for (let i = 1; i <= Number(vars.get('COUNT')); i++) {
      const host = vars.get(`HOST_${i}`)!;
      const request = vars.get(`REQUEST_${i}`)!.split(' ').slice(1).join(' ');
      const k = Number(host.slice(4));
      const answer =
        k % 7 === 0
          ? 'no answer'
          : k % 11 === 0
            ? "refused: not this deployment's token"
            : `1795950727.${String(k).padStart(6, '0')} ${1000 + k} ${request} ${k % 13 === 0 ? 'failed: iptables: out of memory' : 'ok'}`;
      lines.push(`gomelctl-fault ${host} ${answer}`);
    }
    return { exitCode: 0, output: `${lines.join('\n')}\n` };
  };
  const memory = new MemoryEngine(['net'], fate);
  const engine = Object.assign(memory, {
    inspectImage: async () => ({}),
    runOnNetwork: messenger,
  }) as unknown as Engine & MemoryEngine;
  const spawned = captureOutput();
  await assert.rejects(
    deploySpawn(
      {
        keys: p.keys,
        configs: p.configs,
        config: 'config',
        image: IMAGE,
        registry: '127.0.0.1:5000',
        network: 'net',
        constraint: [],
        capAdd: ['NET_ADMIN'],
        netImpl: 'auto',
        parallel: 8,
        timeout: 5,
        settle: 0,
      },
      spawned,
      engine,
    ),
    (e: Error) => {
      assert.ok(e instanceof CheckFailed);
      assertSummary([e.message], 'deploy spawn error');
      assert.match(
        e.message,
        /^deploy: 5 of 256 nodes are not up: node50, node100, node150 and 2 more failed \(exit 2\)$/,
      );
      return true;
    },
  );
  assertSummary([...spawned.lines, ...spawned.warnings], 'deploy spawn');

  const status = captureOutput();
  await deployStatus({ network: 'net' }, status, engine);
  assertSummary([...status.lines, ...status.warnings], 'deploy status');
  assert.equal(status.lines[0], 'deploy: 256 nodes on net: 247 running, 5 failed, 4 complete');
  assert.ok(status.lines.includes('deploy: 5 failed (exit 2): node50, node100, node150 and 2 more'));
  assert.ok(status.lines.includes('`gomelctl deploy status --all` shows one line per node'));
  const all = captureOutput();
  await deployStatus({ network: 'net', all: true }, all, engine);
  assert.equal(all.lines.length, N, '--all: one line per node');

  const logs = path.join(p.root, 'logs');
  const collected = captureOutput();
  await deployLogs({ network: 'net', out: logs, keys: p.keys, configs: p.configs }, collected, engine);
  assertSummary([...collected.lines, ...collected.warnings], 'deploy logs');
  assert.ok(collected.lines.includes(`logs: 256 nodes → ${logs}: 256 without files`), collected.lines.join('\n'));
  assert.ok(collected.lines.includes('logs: 247 still running: node1, node2, node3 and 244 more'));
  const file = path.join(logs, DEPLOY_LOGS_FILE);
  assert.ok(collected.lines.includes(`logs: one line per node: ${file}`));
  const full = (await fs.readFile(file, 'utf8')).trim().split('\n');
  for (let k = 1; k <= N; k++)
    assert.ok(
      full.some((l) => l.startsWith(`logs: node${k} → ${path.join(logs, `node${k}.log`)}; no files: `)),
      `node${k} in ${DEPLOY_LOGS_FILE}`,
    );
  assert.ok(
    full.includes(
      `logs: node50 → ${path.join(logs, 'node50.log')}; no files: its container is on another engine and shipped nothing`,
    ),
  );
  assert.ok(
    JSON.parse(await fs.readFile(path.join(logs, '.gomelctl-logs'), 'utf8')).entries.includes(DEPLOY_LOGS_FILE),
    'the manifest lists it: up --logs may empty it',
  );

  // A partition of the 256: each node's request names the 128 of the other side.
  const cut = captureOutput();
  await assert.rejects(
    fault('partition', '1-128|129-256', { network: 'net', keys: p.keys }, cut, engine),
    (e: Error) => {
      assert.ok(e instanceof CheckFailed);
      assertSummary([e.message], 'fault error');
      assert.match(
        e.message,
        /^fault partition 1-128\|129-256: not applied on 81 of 256 node\(s\): node7, node11, node13 and 78 more$/,
      );
      return true;
    },
  );
  assertSummary([...cut.lines, ...cut.warnings], 'fault');
  assert.match(
    cut.lines[0]!,
    /^fault: partition: \d+ applied \(1\.001 s to 1\.\d+ s after the common start\): node1, node2, node3 and \d+ more$/,
  );
  assert.ok(cut.lines.at(-1)!.endsWith("--json lists every node's answer"));
  // --json: every node's answer, from the same run (a fault acts: running it again is another fault).
  const json = captureOutput();
  await assert.rejects(
    fault('partition', '1-128|129-256', { network: 'net', keys: p.keys, json: true }, json, engine),
    CheckFailed,
  );
  const answers = JSON.parse(json.lines.join('\n')) as { node: string; applied: boolean; problem?: string }[];
  assert.equal(answers.length, N);
  assert.deepEqual(answers[6], {
    node: 'node7',
    applied: false,
    problem: 'no answer within 60 s (it may still have applied it: see its faults.log)',
  });
});

test('up: the progress line of 256 nodes speaks of what the payload is, in one short line', () => {
  const probe = Array.from({ length: N }, (_, k) =>
    k < 6
      ? undefined
      : lastProbeProgress(
          `probe: key ok\ngomelctl-probe-progress ${k < 100 ? 'start 0 0' : k < 200 ? 'checking 300 400' : 'waiting 768 768'} 768\n`,
        ),
  );
  const line = describeProbeProgress(probe, 250, 41.2);
  assert.equal(
    line,
    'up: 41 s — probe, as each node was last read: 94 waiting for the common start, 100 asking every address, 56 done, answering the others, 6 not read yet; 73008 of 196608 addresses reached; 250/256 nodes alive',
  );
  assertSummary([line], 'probe progress', 1);
  assert.doesNotMatch(line, /prime|units/, "the probe is not gomel: no gomel's words");
  const gomel = Array.from({ length: N }, (_, k) =>
    lastProgress(`gomelctl-progress 1.5 ${k % 40} ${k * 3} ${k % 2}\n`),
  );
  assertSummary([describeProgress(committeeProgress(gomel, N), 12)], 'gomel progress', 1);
});

test('verdict.txt in a run folder is gomelctl’s: a fresh run (up --logs) removes it, as it removes report.html', () => {
  const marker = JSON.stringify({ network: 'net', entries: ['node1', 'node1.log'] });
  assert.deepEqual(planLogsFolder(['node1', 'node1.log', VERDICT_FILE, '.gomelctl-logs'], marker, true), {
    ok: true,
    remove: ['node1', 'node1.log', VERDICT_FILE],
  });
});

test("a probe report is read in its head (2 MiB): a forged report's last line past it is not seen (hostile pass B8: 128 reports of 15.5 MiB read at once took 4.2 GB)", async (t) => {
  const logs = await tempDir(t);
  await fs.copyFile(path.join(VECTORS, 'logs/swarm-8/committee.ka'), path.join(logs, 'committee.ka'));
  const addresses = (await fs.readFile(path.join(logs, 'committee.ka'), 'utf8'))
    .split('\n')
    .filter((l) => l.includes('|'))
    .flatMap((l, pid) =>
      l
        .split('|')[3]!
        .split(' ')
        .map((a) => `peer ${pid} ${a} ok`),
    );
  for (let k = 1; k <= 8; k++) {
    await fs.mkdir(path.join(logs, `node${k}`));
    const padding = k === 8 ? `${'x'.repeat(79)}\n`.repeat(40_000) : ''; // 3.2 MB of lines before its result
    const head = [`pid ${k - 1}`, 'config config', 'nodes 8', 'key ok'].join('\n');
    await fs.writeFile(
      path.join(logs, `node${k}`, 'probe.txt'),
      `${head}\n${padding}${addresses.join('\n')}\nresult ok\n`,
    );
  }
  const r = await cli(['verdict', '--logs', logs]);
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /^node8: FAIL/m);
  assert.match(r.out, /^node1: (ok|OK|reached)/im);
});
