import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO } from './helpers.js';
import { parseCommittee } from '../src/core/keys/committee.js';
import { controlSecretName, isServiceName, nodeSpecs, planServices, viewTask } from '../src/core/deploy/plan.js';
import { waitForTasks, type TaskLister } from '../src/docker/deployment.js';
import { EngineError } from '../src/docker/engine.js';
import { mapLimit } from '../src/core/limit.js';
import { UsageError } from '../src/core/errors.js';

const members = async () => parseCommittee(await fs.readFile(path.join(REPO, 'keys/committee.ka'), 'utf8'));
const keys = (n: number, salt = '') => Array.from({ length: n }, (_, i) => new TextEncoder().encode(`key ${i}${salt}`));
const opts = {
  network: 'net',
  image: 'r:5000/a@sha256:abc',
  config: 'config',
  constraints: [],
  capAdd: ['NET_ADMIN'],
  committeeFingerprint: 'f'.repeat(16),
  controlSecret: controlSecretName('a'.repeat(64)),
};

test('one service per node as spawn.sh: name/hostname node<k>, SLOT=k, restart none, own secret, dnsrr', async () => {
  const specs = nodeSpecs(await members(), keys(8), opts);
  assert.equal(specs.length, 8);
  const spec = specs[2]!.spec('secret-id', 'control-id') as {
    Name: string;
    TaskTemplate: { ContainerSpec: Record<string, unknown>; RestartPolicy: unknown; Networks: unknown };
    EndpointSpec: unknown;
  };
  assert.equal(spec.Name, 'node3');
  // Every node names the whole committee in order: gomelctl fault aims at node k by it, whichever services are left.
  assert.equal(
    (spec as unknown as { Labels: Record<string, string> }).Labels['org.gomelctl.hosts'],
    Array.from({ length: 8 }, (_, i) => `node${i + 1}`).join(' '),
  );
  const c = spec.TaskTemplate.ContainerSpec;
  assert.equal(c.Hostname, 'node3');
  // The control token (gomelctl fault) is a Swarm secret, never in the env; its secret is named by a hash of it.
  assert.deepEqual(c.Env, ['SLOT=3']);
  assert.match(opts.controlSecret, /^gomel-control\.[0-9a-f]{12}$/);
  assert.notEqual(controlSecretName('b'.repeat(64)), opts.controlSecret);
  assert.ok(!JSON.stringify(spec).includes('a'.repeat(64)), 'the token is nowhere in the spec');
  assert.equal(nodeSpecs(await members(), keys(8), opts)[2]!.specHash, specs[2]!.specHash);
  assert.deepEqual(c.Command, ['/gomel/run.sh', 'config']);
  assert.deepEqual(c.CapabilityAdd, ['CAP_NET_ADMIN']);
  assert.deepEqual(c.Secrets, [
    {
      SecretID: 'secret-id',
      SecretName: specs[2]!.secretName,
      File: { Name: 'gomel.pk', UID: '0', GID: '0', Mode: 0o400 },
    },
    {
      SecretID: 'control-id',
      SecretName: opts.controlSecret,
      File: { Name: 'gomel-control', UID: '0', GID: '0', Mode: 0o400 },
    },
  ]);
  assert.deepEqual(spec.TaskTemplate.RestartPolicy, { Condition: 'none' });
  assert.deepEqual(spec.EndpointSpec, { Mode: 'dnsrr' });
  assert.equal(new Set(specs.map((s) => s.secretName)).size, 8, 'a secret per node');
});

test('secret names change with the committee, the key and the deployment', async () => {
  const m = await members();
  const a = nodeSpecs(m, keys(8), opts)[0]!;
  assert.notEqual(
    nodeSpecs(m, keys(8), { ...opts, committeeFingerprint: 'e'.repeat(16) })[0]!.secretName,
    a.secretName,
  );
  assert.notEqual(nodeSpecs(m, keys(8, 'x'), opts)[0]!.secretName, a.secretName);
  // Two deployments of one committee side by side: Swarm refuses a second secret of one name.
  assert.notEqual(nodeSpecs(m, keys(8), { ...opts, network: 'other_net' })[0]!.secretName, a.secretName);
  assert.equal(nodeSpecs(m, keys(8), opts)[0]!.specHash, a.specHash, 'deterministic');
});

test('plan: keep same spec, replace changed, create new, remove beyond N', async () => {
  const m = await members();
  const specs = nodeSpecs(m, keys(8), opts);
  const existing = [
    { id: 'a', name: 'node1', specHash: specs[0]!.specHash },
    { id: 'b', name: 'node2', specHash: 'old' },
    { id: 'z', name: 'node9', specHash: 'x' },
  ];
  const plan = planServices(specs, existing);
  assert.deepEqual(
    plan.keep.map((s) => s.host),
    ['node1'],
  );
  assert.deepEqual(
    plan.replace.map((r) => [r.node.host, r.id]),
    [['node2', 'b']],
  );
  assert.deepEqual(
    plan.create.map((s) => s.host),
    ['node3', 'node4', 'node5', 'node6', 'node7', 'node8'],
  );
  assert.deepEqual(
    plan.remove.map((s) => s.name),
    ['node9'],
  );
  const restart = planServices(specs, existing, true);
  assert.deepEqual(restart.keep, [], 'a new run keeps no task');
  assert.deepEqual(
    restart.replace.map((r) => [r.node.host, r.id]),
    [
      ['node1', 'a'],
      ['node2', 'b'],
    ],
  );
});

test('a committee line naming two hosts cannot be one service', async () => {
  const m = await members();
  m[1] = { ...m[1]!, addresses: ['node2:9000', 'other:10000'] };
  assert.throws(() => nodeSpecs(m, keys(8), opts), /line 2 names several hosts/);
});

test("a committee host of digits alone is refused: its output, <host>.log, would be gomel's own <pid>.log (hostile pass 20)", async () => {
  const m = await members();
  m[1] = {
    ...m[1]!,
    addresses: m[1]!.addresses.map((a) => a.replace(/^node2:/, '7:')),
    setupAddresses: m[1]!.setupAddresses.map((a) => a.replace(/^node2:/, '7:')),
  };
  assert.throws(
    () => nodeSpecs(m, keys(8), opts),
    /line 2: host "7" is not a valid Swarm service name \(a DNS label, not digits alone\)/,
  );
  assert.equal(isServiceName('node2'), true);
  assert.equal(isServiceName('7a'), true);
  assert.equal(isServiceName('1.lab'), false, 'swarmkit refuses a dot');
  assert.equal(isServiceName('node3-twin'), true);
});

test('task view: the newest task decides the phase', () => {
  const task = (state: string, at: string, extra = {}) => ({ CreatedAt: at, Status: { State: state, ...extra } });
  assert.equal(viewTask([]).phase, 'pending');
  assert.equal(viewTask([task('failed', '1'), task('running', '2')]).phase, 'running');
  const failed = viewTask([task('rejected', '3', { Err: 'no such image', ContainerStatus: { ExitCode: 1 } })]);
  assert.deepEqual([failed.phase, failed.error, failed.exitCode], ['failed', 'no such image', 1]);
  assert.equal(viewTask([task('complete', '1')]).phase, 'complete');
});

test('mapLimit keeps order and never runs more than the limit at once', async () => {
  let running = 0;
  let peak = 0;
  const result = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
    peak = Math.max(peak, ++running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    return x * 2;
  });
  assert.deepEqual(result, [2, 4, 6, 8, 10, 12, 14]);
  assert.equal(peak, 3);
});

test('the wait goes on through HTTP 500 / DeadlineExceeded listings, reports each retry, and gives up only after its budget', async () => {
  const overloaded = () =>
    new EngineError(
      'Docker Engine refused to list tasks (HTTP 500): rpc error: code = DeadlineExceeded desc = context deadline exceeded',
      500,
    );
  let calls = 0;
  const flaky: TaskLister = {
    listTasks: async () => {
      calls++;
      if (calls <= 3) throw overloaded();
      return [
        { ServiceID: 's1', CreatedAt: '1', Status: { State: 'complete', ContainerStatus: { ExitCode: 0 } } },
      ] as never;
    },
  };
  const retries: string[] = [];
  const views = await waitForTasks(
    flaky,
    new Map([['node1', 's1']]),
    (v) => v.phase === 'complete',
    10_000,
    () => {},
    {
      pollMs: 1,
      retry: { budgetMs: 10_000, firstDelayMs: 1, onRetry: (e, attempt) => retries.push(`${attempt}: ${e.message}`) },
    },
  );
  assert.equal(views.get('node1')!.phase, 'complete');
  assert.equal(calls, 4);
  assert.equal(retries.length, 3);
  assert.match(retries[0]!, /^1: .*HTTP 500.*DeadlineExceeded/);

  const dead: TaskLister = {
    listTasks: async () => {
      throw overloaded();
    },
  };
  await assert.rejects(
    waitForTasks(
      dead,
      new Map([['node1', 's1']]),
      () => false,
      10_000,
      () => {},
      { pollMs: 1, retry: { budgetMs: 30, firstDelayMs: 5 } },
    ),
    /HTTP 500/,
  );
  const refused: TaskLister = {
    listTasks: async () => {
      calls++;
      throw new EngineError('Docker Engine refused to list tasks (HTTP 400): bad filter', 400);
    },
  };
  calls = 0;
  await assert.rejects(
    waitForTasks(
      refused,
      new Map([['node1', 's1']]),
      () => false,
      10_000,
      () => {},
      { pollMs: 1, retry: { budgetMs: 10_000, firstDelayMs: 1 } },
    ),
    /HTTP 400/,
  );
  assert.equal(calls, 1, 'a client error is not retried');
});

test('a spec no node could be started with is refused with its figure: an env string over MAX_ARG_STRLEN, a spec over half of swarmkit 1.5 MiB', async () => {
  const m = await members();
  const faults = (bytes: number) => ['0 kill\n'.padEnd(bytes, '#'), ...Array.from({ length: 7 }, () => '')];
  assert.equal(nodeSpecs(m, keys(8), { ...opts, faults: faults(90_000) }).length, 8, 'a 120 KB string fits');
  assert.throws(
    () => nodeSpecs(m, keys(8), { ...opts, faults: faults(100_000) }),
    (e: Error) =>
      e instanceof UsageError &&
      /^deploy: node1's environment string GOMEL_FAULTS is 133350 bytes; Linux starts no process with one over 131072 \(MAX_ARG_STRLEN\)/.test(
        e.message,
      ),
  );
  assert.throws(
    () => nodeSpecs(m, keys(8), { ...opts, record: 'x'.repeat(400_000) }),
    (e: Error) =>
      e instanceof UsageError &&
      /^deploy: node1's service spec is \d+ bytes; a swarm service spec is kept under 786432 \(half of swarmkit's 1\.5 MiB transaction, as an update holds two\)/.test(
        e.message,
      ),
  );
});
