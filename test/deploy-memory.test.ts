// deploy spawn, logs and clean against an engine in memory (test/support/memory-engine.ts):
// what they create, keep, replace and remove, and how they fail, in seconds and
// without Docker. The same code runs against the real engine in test/integration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deploySpawn } from '../src/commands/deploy-spawn.js';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { deployClean } from '../src/commands/deploy-clean.js';
import { deployStatus } from '../src/commands/deploy-status.js';
import { keysGen } from '../src/commands/keys.js';
import { captureOutput } from '../src/commands/output.js';
import { CheckFailed, EnvironmentError } from '../src/core/errors.js';
import { LABELS } from '../src/core/labels.js';
import { NODE_ENV } from '../src/core/deploy/node-contract.js';
import { conditionsOf, parseRunRecord } from '../src/core/deploy/run-plan.js';
import { MemoryEngine, type Fate } from './support/memory-engine.js';
import { IMAGE, memoryProject } from './support/memory-project.js';

const project = memoryProject;

test('spawn: one service per node with its own key as its only secret; an unchanged node is kept, --restart replaces every one, a resize replaces them under the new committee', async (t) => {
  const p = await project(t, 4);
  const engine = new MemoryEngine();
  const out = captureOutput();
  await deploySpawn(p.options(), out, engine);
  assert.deepEqual(
    engine
      .live()
      .map((s) => s.Spec.Name)
      .sort(),
    ['node1', 'node2', 'node3', 'node4'],
  );
  for (const s of engine.live()) {
    assert.equal(s.Spec.Labels[LABELS.deployment], 'net');
    const secrets = (
      s.Spec.TaskTemplate as {
        ContainerSpec: { Secrets: { SecretName: string; File: { Name: string } }[]; Env: string[] };
      }
    ).ContainerSpec;
    assert.deepEqual(
      secrets.Secrets.map((x) => x.File.Name),
      ['gomel.pk', 'gomel-control'],
      `${s.Spec.Name} mounts its key and the deployment's control token`,
    );
    const secret = engine.secrets.find((x) => x.Spec.Name === secrets.Secrets[0]!.SecretName)!;
    const pid = Number(s.Spec.Name.slice(4)) - 1;
    assert.equal(
      new TextDecoder().decode(secret.data),
      await fs.readFile(path.join(p.keys, `${pid}.pk`), 'utf8'),
      `${s.Spec.Name} gets its own key`,
    );
    assert.ok(secrets.Env.includes(`${NODE_ENV.slot}=${pid + 1}`));
  }
  assert.match(out.lines.join('\n'), /deploy: 4 nodes on net from gomel@sha256:(ab)+: created 4/);

  engine.calls = [];
  await deploySpawn(p.options(), captureOutput(), engine);
  assert.deepEqual(
    engine.calls.filter((c) => !c.startsWith('ping')),
    [],
    'nothing changed, nothing touched',
  );

  engine.calls = [];
  await deploySpawn(p.options({ restart: true }), captureOutput(), engine);
  const removed = engine.calls.filter((c) => c.startsWith('removeService')).length;
  const created = engine.calls.filter((c) => c.startsWith('createService')).length;
  assert.deepEqual([removed, created], [4, 4]);
  const lastRemoval = engine.calls.map((c) => c.startsWith('removeService')).lastIndexOf(true);
  assert.ok(
    engine.calls.findIndex((c) => c.startsWith('createService')) > lastRemoval,
    'the old run is gone before the new one starts',
  );

  await keysGen({ n: 5, dir: p.keys, config: 'config', configs: p.configs }, captureOutput());
  engine.calls = [];
  await deploySpawn(p.options(), captureOutput(), engine);
  // The committee every node reads changed: each node is a new spec, the old keys' secrets go.
  const count = (prefix: string) => engine.calls.filter((c) => c.startsWith(prefix)).length;
  assert.deepEqual(
    [count('createService'), count('removeService'), count('createSecret'), count('removeSecret')],
    [5, 4, 5, 4],
  );
  assert.deepEqual(
    engine
      .live()
      .map((s) => s.Spec.Name)
      .sort(),
    ['node1', 'node2', 'node3', 'node4', 'node5'],
  );
  assert.equal(engine.secrets.filter((s) => !s.removed).length, 6, 'five keys and the control token');

  await deployClean({ network: 'net' }, captureOutput(), engine);
  assert.deepEqual(engine.live(), []);
  assert.deepEqual(
    engine.secrets.filter((s) => !s.removed),
    [],
    'every secret of the deployment removed',
  );
});

test('spawn: the control token is a random secret of the deployment, kept 0600 beside the keys and handed over as a Swarm secret, in no env, label or status; a redeploy keeps it and its nodes', async (t) => {
  const p = await project(t, 4);
  const engine = new MemoryEngine();
  await deploySpawn(p.options(), captureOutput(), engine);
  const file = path.join(p.keys, '.gomelctl-control.net');
  const token = (await fs.readFile(file, 'utf8')).trim();
  assert.match(token, /^[0-9a-f]{64}$/);
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  const control = engine.secrets.filter((x) => !x.removed && new TextDecoder().decode(x.data) === token);
  assert.equal(control.length, 1, 'one Swarm secret holds it');
  assert.equal(control[0]!.Spec.Labels[LABELS.deployment], 'net', 'removed with the deployment');
  for (const s of engine.live()) assert.ok(!JSON.stringify(s.Spec).includes(token), `${s.Spec.Name}: not in its spec`);
  const status = captureOutput();
  await deployStatus({ network: 'net', json: true }, status, engine);
  assert.ok(!status.lines.join('\n').includes(token), 'not in deploy status --json');
  // Another deployment gets another token.
  await deploySpawn(p.options({ network: 'net2' }), captureOutput(), new MemoryEngine(['net2']));
  assert.notEqual((await fs.readFile(path.join(p.keys, '.gomelctl-control.net2'), 'utf8')).trim(), token);

  engine.calls = [];
  await deploySpawn(p.options(), captureOutput(), engine);
  assert.deepEqual(
    engine.calls.filter((c) => !c.startsWith('ping')),
    [],
    'the kept token keeps every node (they keep answering it)',
  );
  // A lost token: a new one, and every node replaced to hold it.
  await fs.rm(file);
  engine.calls = [];
  await deploySpawn(p.options(), captureOutput(), engine);
  assert.equal(engine.calls.filter((c) => c.startsWith('createService')).length, 4);
  assert.notEqual((await fs.readFile(file, 'utf8')).trim(), token);
});

test('spawn: a node that cannot apply its network conditions (exit 3) removes the whole deployment and names why', async (t) => {
  const p = await project(t, 4);
  const fate = (name: string): Fate =>
    name === 'node2'
      ? {
          state: 'failed',
          exitCode: 3,
          output: 'run.sh: network conditions of node2 not applied: the userspace delayer did not start\n',
        }
      : { state: 'running' };
  const engine = new MemoryEngine(['net'], fate);
  await assert.rejects(
    deploySpawn(p.options({ net: 'delay=50ms', netImpl: 'userspace' }), captureOutput(), engine),
    (e: Error) =>
      e instanceof EnvironmentError &&
      /^deploy: network conditions of node2 not applied: the userspace delayer did not start; 1 of 4 nodes could not apply theirs, and the deployment was removed$/.test(
        e.message,
      ),
  );
  assert.deepEqual(engine.live(), [], 'nothing left running');
  const spec = engine.services.find((s) => s.Spec.Name === 'node1')!.Spec;
  const env = (spec.TaskTemplate as { ContainerSpec: { Env: string[] } }).ContainerSpec.Env;
  const script = Buffer.from(
    env.find((e) => e.startsWith(`${NODE_ENV.netScript}=`))!.split('=')[1]!,
    'base64',
  ).toString();
  assert.match(script, /^impl=userspace$/m);
  const record = parseRunRecord(spec.Labels[LABELS.run] ?? '');
  assert.match(conditionsOf(record, 1) ?? '', /\(delay: userspace\)/, "the run's record says how delay is applied");
});

test('spawn: a failed node is named with its exit; one the fault plan crashes is down as planned', async (t) => {
  const p = await project(t, 4);
  const fate = (name: string): Fate => (name === 'node4' ? { state: 'failed', exitCode: 1 } : { state: 'running' });
  await assert.rejects(
    deploySpawn(p.options(), captureOutput(), new MemoryEngine(['net'], fate)),
    (e: Error) =>
      e instanceof CheckFailed && /^deploy: 1 of 4 nodes are not up: node4 failed \(exit 1\)$/.test(e.message),
  );
  const out = captureOutput();
  await deploySpawn(p.options({ faults: 'crash:4@0s' }), out, new MemoryEngine(['net'], fate));
  assert.ok(out.lines.includes('deploy: down as planned: node4'), out.lines.join('\n'));
});

test('spawn: a node whose container the engine failed to start in its secrets-mount race (moby/moby#48783) gets its task created again, once, and the deployment is up; a node that failed on its own is not', async (t) => {
  const p = await project(t, 4);
  const RACE =
    'starting container failed: unable to remount dir as readonly: mount tmpfs:/var/lib/docker/containers/x/mounts/secrets, flags: 0x21, data: uid=0,gid=0: device or resource busy';
  let tries = 0;
  const fate = (name: string): Fate =>
    name === 'node3' && tries++ === 0 ? { state: 'failed', exitCode: 128, err: RACE } : { state: 'running' };
  const engine = new MemoryEngine(['net'], fate);
  const out = captureOutput();
  await deploySpawn(p.options(), out, engine);
  assert.deepEqual(
    engine.calls.filter((c) => c.startsWith('restartService')),
    ['restartService node3'],
  );
  assert.ok(
    out.warnings.some((w) => /the engine failed to start node3 \(its secrets mount race, moby\/moby#48783/.test(w)),
    out.warnings.join('\n'),
  );
  // Failing again, it is named as any failed node: created again only once.
  const always = new MemoryEngine(['net'], (name) =>
    name === 'node3' ? { state: 'failed', exitCode: 128, err: RACE } : { state: 'running' },
  );
  await assert.rejects(deploySpawn(p.options(), captureOutput(), always), /1 of 4 nodes are not up: node3 failed/);
  assert.equal(always.calls.filter((c) => c.startsWith('restartService')).length, 1);
  // A node that failed on its own (gomel's exit) is never started again.
  const own = new MemoryEngine(['net'], (name) =>
    name === 'node3' ? { state: 'failed', exitCode: 1 } : { state: 'running' },
  );
  await assert.rejects(deploySpawn(p.options(), captureOutput(), own), /node3 failed \(exit 1\)/);
  assert.equal(own.calls.filter((c) => c.startsWith('restartService')).length, 0);
});

test('spawn: no network is one line before anything is created', async (t) => {
  const p = await project(t, 4);
  const engine = new MemoryEngine([]);
  await assert.rejects(
    deploySpawn(p.options(), captureOutput(), engine),
    /^EnvironmentError: deploy: no network net; run `gomelctl cluster init --network net`$/,
  );
  assert.deepEqual(engine.calls, ['ping']);
});

test('logs: a service whose name is no node name gomelctl gives ("..", from a malformed engine answer) is one line, nothing written beside --out (hostile pass B10)', async (t) => {
  const p = await project(t, 4);
  const engine = new MemoryEngine(['net'], () => ({ state: 'complete', output: 'x\n' }));
  await deploySpawn(p.options(), captureOutput(), engine);
  const svc = (await engine.listServices({ [LABELS.deployment]: 'net' }))[2] as unknown as { Spec: { Name: string } };
  svc.Spec.Name = '..';
  const logs = path.join(p.root, 'out', 'logs');
  await fs.mkdir(path.dirname(logs));
  await assert.rejects(
    deployLogs({ network: 'net', out: logs, keys: p.keys, configs: p.configs }, captureOutput(), engine),
    /^EnvironmentError: Docker Engine listed a service of net named "\.\.", which gomelctl never names a node/,
  );
  assert.deepEqual(await fs.readdir(path.dirname(logs)), [], 'nothing written');
});

test('logs: each node’s output and task.json; a node whose container is elsewhere and shipped nothing is said so', async (t) => {
  const p = await project(t, 4);
  const fate = (name: string): Fate => ({ state: 'complete', output: `hello from ${name}\n` });
  const engine = new MemoryEngine(['net'], fate);
  await deploySpawn(p.options(), captureOutput(), engine);
  const logs = path.join(p.root, 'logs');
  const out = captureOutput();
  await deployLogs({ network: 'net', out: logs, keys: p.keys, configs: p.configs }, out, engine);
  assert.equal(await fs.readFile(path.join(logs, 'node3.log'), 'utf8'), 'hello from node3\n');
  const task = JSON.parse(await fs.readFile(path.join(logs, 'node3', 'task.json'), 'utf8'));
  assert.equal(task.state, 'complete');
  assert.equal(task.image, IMAGE, 'the image the node ran, for the report');
  assert.equal(task.uncollected, 'its container is on another engine and shipped nothing');
  assert.ok(await fs.readFile(path.join(logs, 'committee.ka')), 'the deployed committee beside the logs');
  assert.equal(out.lines.filter((l) => l.startsWith('logs: node')).length, 4);
});
