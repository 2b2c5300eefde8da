// `up`'s whole flow against the in-memory engine (issue 32): keys, configs, cluster init,
// image rebuild, the deploy of its plan, the wait, logs, verdict — a resize 4 → 7, a
// refusal that changes nothing, and a stall that ends the wait — with no Docker. The
// registry is a stand-in HTTP server that answers /v2/ (image rebuild and cluster init ask it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { up, type UpPace } from '../src/commands/up.js';
import type { UpFlags } from '../src/commands/up.flags.js';
import { captureOutput } from '../src/commands/output.js';
import { UsageError } from '../src/core/errors.js';
import { EngineError } from '../src/docker/engine.js';
import { memberHost, parseCommittee } from '../src/core/keys/committee.js';
import { NODE_LINES } from '../src/core/deploy/node-contract.js';
import { PhaseClock } from '../src/core/phase-clock.js';
import { MemoryEngine, type Fate } from './support/memory-engine.js';
import { REPO, snapshot, tempDir } from './helpers.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A registry that answers the API check, on a port the system picks. */
async function registry(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/v2/' ? 200 : 404, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function project(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
  const keys = path.join(root, 'keys');
  const reg = await registry(t);
  const options = (more: Partial<UpFlags> = {}): UpFlags => ({
    keys,
    configs,
    config: 'config',
    registry: reg,
    network: 'net',
    logs: path.join(root, 'logs'),
    timeout: 300,
    parallel: 8,
    netImpl: 'auto',
    capAdd: [],
    ...more,
  });
  return { root, keys, configs, options };
}

/** Each node of the probe finishes at once, having reached every address of the committee it was deployed with. */
const probeFate =
  (keys: string) =>
  (name: string): Fate => ({
    state: 'complete',
    output: `probe ${name}\n`,
    extract: () => {
      const members = parseCommittee(readFileSync(path.join(keys, 'committee.ka'), 'utf8'));
      const peers = members.flatMap((m, j) => m.addresses.map((a) => `peer ${j} ${a} ok`));
      const pid = members.map(memberHost).indexOf(name);
      return { 'probe.txt': [`pid ${pid}`, 'key ok', ...peers, 'result ok', ''].join('\n'), exit_status: '0\n' };
    },
  });

/**
 * up's looks at the engine in memory: the tasks every 10 ms and the nodes' progress every 100 ms, not
 * every 250 ms and 2 s, so that a stall of 1 s ends the wait about 1 s in (it took 4 s and more, and
 * the waits were most of this file's time).
 */
const PACE: UpPace = { pollMs: 10, progressMs: 100 };

/** up of 4 stand-in gomel nodes with a stall time of 1 s (it ends at the stall), at PACE. */
const upToStall = (
  p: Awaited<ReturnType<typeof project>>,
  out: Parameters<typeof up>[1],
  engine: MemoryEngine,
  more: Partial<UpFlags> = {},
) =>
  up(
    p.options({ n: 4, binary: path.join(REPO, 'test/fixtures/fake-gomel.sh'), stall: 1, ...more }),
    out,
    engine,
    undefined,
    PACE,
  );

const TIME_LINE =
  /^up: time: keys \d+\.\d s, config \d+\.\d s, cluster \d+\.\d s, image \d+\.\d s, deploy \d+\.\d s, start wait \+ run \d+\.\d s, logs \d+\.\d s, verdict \d+\.\d s$/;

test('up, whole: 4 nodes, then resized to 7 — every node anew, the verdict on the fresh logs; a refusal changes nothing', async (t) => {
  const p = await project(t);
  const engine = new MemoryEngine([], probeFate(p.keys));
  const four = captureOutput();
  await up(p.options({ n: 4 }), four, engine, undefined, PACE);
  assert.ok(four.lines.includes('probe: all 4 nodes reached every peer'), four.lines.join('\n'));
  assert.match(four.lines.join('\n'), /^cluster: created attachable overlay network net \(10\.\d+\.0\.0\/16\)$/m);
  assert.match(
    four.lines.join('\n'),
    /^deploy: 4 nodes on net from 127\.0\.0\.1:\d+\/aleph@sha256:0{63}1: created 4$/m,
  );
  assert.match(four.lines.at(-1)!, /^up: done\./);
  assert.match(four.lines.at(-3)!, TIME_LINE);

  const seven = captureOutput();
  await up(p.options({ n: 7 }), seven, engine, undefined, PACE);
  assert.match(
    seven.lines.join('\n'),
    /^deploy: 7 nodes on net from 127\.0\.0\.1:\d+\/aleph@sha256:0{63}2: created 3; replaced 4 \(node1, node2, node3 and 1 more\)$/m,
  );
  assert.ok(seven.lines.includes('probe: all 7 nodes reached every peer'), seven.lines.join('\n'));
  assert.deepEqual(
    engine
      .live()
      .map((s) => s.Spec.Name)
      .sort(),
    ['node1', 'node2', 'node3', 'node4', 'node5', 'node6', 'node7'],
  );
  const record = JSON.parse(await fs.readFile(path.join(p.root, 'logs', 'run.json'), 'utf8')) as { hosts: string[] };
  assert.equal(record.hosts.length, 7, "the logs folder holds the new run's record");

  // A plan refused on the committee as keys gen would leave it (5 nodes: there is no node 7): nothing changes.
  const keysBefore = await snapshot(p.keys);
  const calls = engine.calls.length;
  await assert.rejects(
    up(p.options({ n: 5, faults: 'crash:7@1s' }), captureOutput(), engine),
    (e: Error) =>
      e instanceof UsageError && /^--faults "crash:7@1s": node 7 is not in the 5-node committee/.test(e.message),
  );
  assert.deepEqual(await snapshot(p.keys), keysBefore, 'keys as they were');
  assert.equal(engine.calls.length, calls, 'the engine not asked');
  assert.equal(engine.live().length, 7);
});

test('up, whole: a committee that stops ordering ends the wait at the stall, not at --timeout; the nodes still running are stopped', async (t) => {
  const p = await project(t);
  const progress = `${NODE_LINES.progress} ${Date.now() / 1000} 5 12 0`;
  const engine = new MemoryEngine([], () => ({ state: 'running', output: `${progress}\n`, extract: () => ({}) }));
  // On a terminal up reads the nodes' progress (every 100 ms here): a second since the first reading, no new unit.
  const out = { ...captureOutput(), tty: true, status: () => {} };
  await assert.rejects(upToStall(p, out, engine), (e: Error) => !/--timeout|after 300s/.test(e.message));
  assert.match(
    out.lines.join('\n'),
    /^up: stalled: no node ordered a new unit for \d+ s \(stall time 1 s\); collecting and judging now instead of waiting for --timeout$/m,
  );
  assert.ok(
    out.lines.includes('up: stopped the 4 node(s) still running (--keep leaves them running)'),
    out.lines.join('\n'),
  );
  assert.deepEqual(engine.live(), [], 'nothing left running');
  assert.match(
    out.warnings.join('\n'),
    /^up: did not ask the nodes still running to end \(the messenger failed: .*\): a node on another host keeps its files$/m,
    'a messenger that fails: as before, and said in one line',
  );
  assert.match(
    out.lines.join('\n'),
    /^up: time: keys .*, report \d+\.\d s$/m,
    'where the time went, though the verdict failed',
  );
});

test('up, whole: at the stall the nodes still running are asked to end (not a fault): a node on another host ships its files home, and is not removed as still running', async (t) => {
  const p = await project(t);
  const progress = `${NODE_LINES.progress} ${Date.now() / 1000} 5 12 0`;
  // As a node on another host: no container to copy from (no extract); its files come home only in its output,
  // which run.sh writes once gomel ended.
  const ended = new Map<string, string>();
  const engine = new MemoryEngine([], (name) => ({
    state: 'running',
    output: `${progress}\n${ended.get(name) ?? ''}`,
  }));
  const root = await tempDir(t);
  const shipments = new Map<string, string>();
  for (const name of ['node1', 'node2', 'node3', 'node4']) {
    const folder = path.join(root, name);
    await fs.mkdir(folder);
    await fs.writeFile(path.join(folder, 'exit_status'), '0\n');
    await fs.writeFile(path.join(folder, 'stderr.txt'), `gomel of ${name} ended by SIGTERM\n`);
    const { stdout } = await run('sh', ['-c', `. "${path.join(REPO, 'templates/node-lib.sh')}" && ship_extract`], {
      env: { ...process.env, GOMEL_EXTRACT: folder, TMPDIR: root },
    });
    shipments.set(name, stdout);
  }
  // Each node's control listener: gomel ends, run.sh ships its files and exits.
  const requests: string[] = [];
  engine.control = (host, request) => {
    requests.push(request.replace(/^[0-9a-f]{64} /, '<token> '));
    ended.set(host, shipments.get(host)!);
    engine.finish(host);
    return 'end ok';
  };
  const out = { ...captureOutput(), tty: true, status: () => {} };
  await assert.rejects(upToStall(p, out, engine));
  const text = out.lines.join('\n');
  assert.deepEqual(requests, Array(4).fill('<token> end'), 'each node asked once, with the control token');
  assert.ok(text.includes('up: asked the 4 node(s) still running to end and ship their files (4 ended)'), text);
  assert.ok(!text.includes('stopped the 4 node(s) still running'), text);
  for (const name of ['node1', 'node2', 'node3', 'node4'])
    assert.equal(
      await fs.readFile(path.join(p.root, 'logs', name, 'stderr.txt'), 'utf8'),
      `gomel of ${name} ended by SIGTERM\n`,
      `${name}'s files came home in its output`,
    );
  const record = JSON.parse(await fs.readFile(path.join(p.root, 'logs', 'run.json'), 'utf8')) as { faults?: unknown };
  assert.equal(record.faults, undefined, 'the end is not in the run record: no node made faulty');
});

test('up --keep, whole: at the stall the nodes still running are neither asked to end nor removed', async (t) => {
  const p = await project(t);
  const progress = `${NODE_LINES.progress} ${Date.now() / 1000} 5 12 0`;
  const engine = new MemoryEngine([], () => ({ state: 'running', output: `${progress}\n`, extract: () => ({}) }));
  const requests: string[] = [];
  engine.control = (_host, request) => (requests.push(request), 'end ok');
  const out = { ...captureOutput(), tty: true, status: () => {} };
  await assert.rejects(upToStall(p, out, engine, { keep: true }));
  assert.deepEqual(requests, [], 'nothing asked');
  assert.equal(engine.live().length, 4, 'left running');
});

test("up's time line: each phase from its start to the next; the wait split at the nodes' common start when it falls inside", () => {
  const clock = new PhaseClock();
  clock.begin('deploy', 0);
  clock.begin('wait', 1000);
  clock.begin('logs', 9000);
  clock.split('wait', 3500, ['start wait', 'run']);
  assert.equal(clock.line(9400), 'deploy 1.0 s, start wait 2.5 s, run 5.5 s, logs 0.4 s');
  const unknown = new PhaseClock();
  unknown.begin('wait', 1000);
  unknown.begin('logs', 9000);
  unknown.split('wait', undefined, ['start wait', 'run']);
  assert.equal(unknown.line(9000), 'start wait + run 8.0 s, logs 0.0 s');
  const outside = new PhaseClock();
  outside.begin('wait', 1000);
  outside.split('wait', 500, ['start wait', 'run']);
  assert.equal(outside.line(2000), 'start wait + run 1.0 s', 'a start before the wait began: not inside it');
});

test('up, whole: a manager that fails its listings for a while (256 nodes on 2 cores) does not end the wait before --timeout', async (t) => {
  const p = await project(t);
  class LoadedManager extends MemoryEngine {
    failUntil = 0;
    override async listTasks(ids: string[]) {
      if (Date.now() < this.failUntil)
        throw new EngineError(
          'Docker Engine refused to list tasks (HTTP 500): rpc error: code = DeadlineExceeded',
          500,
        );
      return super.listTasks(ids);
    }
  }
  const engine = new LoadedManager([], probeFate(p.keys));
  const out = captureOutput();
  const line = out.line;
  // From the wait's first listing, 1.2 s of failures: past the retry budget outside the wait (50 ms here).
  out.line = (text) => {
    if (text.startsWith('up: waiting for')) engine.failUntil = Date.now() + 1200;
    line(text);
  };
  await up(p.options({ n: 4 }), out, engine, undefined, { ...PACE, retryBudgetMs: 50 });
  assert.ok(out.lines.includes('probe: all 4 nodes reached every peer'), out.lines.join('\n'));
  assert.ok(
    out.warnings.some((w) => /^up: .*DeadlineExceeded.*retrying, the nodes keep running$/.test(w)),
    out.warnings.join('\n'),
  );
});
