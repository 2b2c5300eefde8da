// What an engine (or a node, through it) says is not trusted (hostile pass 3, issue 30): a task
// error quoting a private key (B5) is redacted and clipped wherever gomelctl prints or keeps it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { viewTask } from '../src/core/deploy/plan.js';
import { tempDir } from './helpers.js';
import { fakeEngine, gomelctlInProcess, type EngineRequest } from './support/fake-engine.js';

/** A gomel member file's shape (keys/<pid>.pk): a 64-byte signing key and a 32-byte RMC secret in base64, then a pid. */
const signing = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 256)).toString('base64');
const rmc = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 53 + 7) % 256)).toString('base64');
const KEY = `${signing} ${rmc} 0`;

/** No 8 characters in a row of either secret (test/safety-keys.test.ts's leak window). */
function assertNoKey(text: string, what: string): void {
  for (const secret of [signing, rmc])
    for (let i = 0; i + 8 <= secret.length; i++)
      assert.ok(!text.includes(secret.slice(i, i + 8)), `${what} quotes the key: ${text.slice(0, 2000)}`);
}

const OURS = { 'org.gomelctl.managed': 'true', 'org.gomelctl.deployment': 'aleph_net' };
const service = (id: string, name: string, labels: Record<string, string>) => ({
  ID: id,
  Version: { Index: 1 },
  Spec: { Name: name, Labels: labels, TaskTemplate: { ContainerSpec: { Image: 'r/aleph', Env: ['SLOT=1'] } } },
});

/** An engine with one failed node whose task error is `error`. */
const failedTask = (error: string) => (r: EngineRequest) => {
  if (r.path === '/services') return { json: [service('s1', 'node1', OURS)] };
  if (r.path === '/tasks')
    return {
      json: [
        {
          ID: 't1',
          ServiceID: 's1',
          NodeID: 'h1',
          DesiredState: 'shutdown',
          CreatedAt: '2026-01-01T00:00:00Z',
          Status: { State: 'failed', Err: error, Timestamp: '2026-01-01T00:01:00Z', ContainerStatus: { ExitCode: 1 } },
        },
      ],
    };
  if (r.path === '/nodes') return { json: [{ ID: 'h1', Description: { Hostname: 'h1' }, Status: { State: 'ready' } }] };
  return { json: [] };
};

test('deploy status: a task error quoting a private key is redacted, a 5 MB one clipped, in text and --json (B5)', async (t) => {
  const dir = await tempDir(t);
  for (const [error, what] of [
    [`bad key ${KEY}`, 'a key'],
    [`starting container failed: ${'x'.repeat(5_000_000)}`, '5 MB of error'],
    [`${'y'.repeat(480)} ${KEY}`, 'a key the clip cuts'],
  ] as const) {
    const engine = await fakeEngine(dir, failedTask(error));
    try {
      for (const flags of [[], ['--json']]) {
        const r = await gomelctlInProcess(['deploy', 'status', ...flags], dir, { DOCKER_HOST: engine.host });
        assert.equal(r.code, 0, r.err);
        assertNoKey(r.out + r.err, `${what} ${flags.join(' ')}`);
        for (const line of r.out.split('\n')) assert.ok(line.length < 1000, `${what}: a ${line.length}-char line`);
        assert.ok(r.out.includes(error.slice(0, 8)), `${what}: the error's start is shown: ${r.out.slice(0, 500)}`);
      }
    } finally {
      await engine.close();
    }
  }
});

test('the task view every reader takes (status, spawn, the task.json deploy logs writes) holds the redacted error (B5)', () => {
  const view = viewTask([{ Status: { State: 'failed', Err: `bad key ${KEY}` } }]);
  assert.match(view.error!, /^bad key \S+…\(redacted, 88 chars\) \S+…\(redacted, 44 chars\) 0$/);
  assert.equal(
    viewTask([{ Status: { State: 'failed', Err: 'task: non-zero exit (1)' } }]).error,
    'task: non-zero exit (1)',
  );
  assert.equal(viewTask([{ Status: { State: 'running' } }]).error, undefined);
});

test('deploy clean deletes only what carries the deployment labels, whatever the engine lists, and names the rest (B6)', async (t) => {
  const dir = await tempDir(t);
  // An engine that ignores the label filter: it lists every service and secret it has.
  const engine = await fakeEngine(dir, (r) => {
    if (r.method === 'DELETE') return { json: {} };
    if (r.path === '/services')
      return {
        json: [
          service('ours', 'node1', OURS),
          service('victim', 'prod-db', {}),
          service('theirs', 'node2', { ...OURS, 'org.gomelctl.deployment': 'other_net' }),
        ],
      };
    if (r.path === '/secrets')
      return {
        json: [
          { ID: 'our-secret', Spec: { Name: 'gomel-key-1', Labels: OURS } },
          { ID: 'sec-victim', Spec: { Name: 'prod-password', Labels: {} } },
        ],
      };
    return { json: [] };
  });
  t.after(() => engine.close());
  const r = await gomelctlInProcess(['deploy', 'clean', '--network', 'aleph_net'], dir, { DOCKER_HOST: engine.host });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(
    engine.requests.filter((q) => q.method === 'DELETE').map((q) => q.path),
    ['/services/ours', '/secrets/our-secret'],
  );
  assert.equal(
    r.err,
    'deploy: Docker Engine listed 3 object(s) for aleph_net without its labels (org.gomelctl.managed=true, org.gomelctl.deployment=aleph_net); left alone: "prod-db", "node2", "prod-password"\n',
  );
  assert.equal(r.out, 'deploy: removed 1 service(s) and 1 secret(s) of aleph_net\n');
});

test("deploy status lists only this deployment's services, whatever the engine lists (hostile pass 7 BAD2)", async (t) => {
  const dir = await tempDir(t);
  // An engine that ignores the label filter: another deployment's node and an unlabelled service come too.
  const engine = await fakeEngine(dir, (r) => {
    if (r.path === '/services')
      return {
        json: [
          service('ours', 'node1', OURS),
          service('theirs', 'node9', { ...OURS, 'org.gomelctl.deployment': 'other_net' }),
          service('victim', 'prodapp', {}),
        ],
      };
    if (r.path === '/nodes')
      return { json: [{ ID: 'h1', Description: { Hostname: 'h1' }, Status: { State: 'ready' } }] };
    return { json: [] };
  });
  t.after(() => engine.close());
  for (const flags of [[], ['--json']]) {
    const r = await gomelctlInProcess(['deploy', 'status', '--network', 'aleph_net', ...flags], dir, {
      DOCKER_HOST: engine.host,
    });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /node1/);
    assert.doesNotMatch(r.out + r.err, /node9|prodapp/);
  }
  // The tasks asked for are this deployment's service's only.
  for (const q of engine.requests.filter((q) => q.path === '/tasks'))
    assert.doesNotMatch(q.query.get('filters') ?? '', /theirs|victim/);
});
