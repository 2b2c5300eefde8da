// gomelctl fault's refusals, against an engine faked at its seam (no Docker): each is one
// line, exit 2, and no request is sent — the messenger container is never started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fault } from '../src/commands/fault.js';
import { UsageError } from '../src/core/errors.js';
import type { Engine } from '../src/docker/engine.js';
import { LABELS } from '../src/core/labels.js';
import { controlSecretName } from '../src/core/deploy/plan.js';
import { writeControlToken } from '../src/fs/control-token.js';
import { tempDir } from './helpers.js';

/** The deployment's control token, as deploy spawn keeps it beside the keys. */
const TOKEN = 'c'.repeat(64);
async function keysWithToken(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const keys = await tempDir(t);
  await writeControlToken(keys, 'net', TOKEN);
  return keys;
}

interface FakeNode {
  /** The token of the control secret it mounts; none: deployed by an older gomelctl. */
  token?: string;
  capAdd?: string[];
  /** Its service is gone (removed, or never created): the deployment still names it. */
  gone?: boolean;
  /** Its run record label (org.gomelctl.run), as the engine holds it. */
  faults?: string;
  /** The label that holds it: the run record's, or an older gomelctl's fault label. */
  label?: string;
}

/** The engine calls fault makes before it sends anything; runOnNetwork records that it was reached, and the requests. */
function fakeEngine(nodes: FakeNode[], sent: string[], requests: string[][] = []): Engine {
  const hosts = nodes.map((_, i) => `node${i + 1}`).join(' ');
  const services = nodes
    .flatMap((n, i) => (n.gone ? [] : [{ n, i }]))
    .map(({ n, i }) => ({
      ID: `svc${i + 1}`,
      Spec: {
        Name: `node${i + 1}`,
        Labels: { [LABELS.hosts]: hosts, ...(n.faults !== undefined ? { [n.label ?? LABELS.run]: n.faults } : {}) },
        TaskTemplate: {
          ContainerSpec: {
            Command: ['/gomel/run.sh', 'config'],
            Env: [`SLOT=${i + 1}`],
            Secrets: n.token ? [{ SecretName: controlSecretName(n.token), File: { Name: 'gomel-control' } }] : [],
            ...(n.capAdd ? { CapabilityAdd: n.capAdd } : {}),
          },
        },
      },
    }));
  const tasks = services.map((s) => ({
    ServiceID: s.ID,
    NodeID: 'h1',
    CreatedAt: '2026-01-01',
    Status: { State: 'running' },
  }));
  return {
    // As an engine that honours its label filter: every service carries the labels asked for.
    listServices: async (labels: Record<string, string>) =>
      services.map((s) => ({ ...s, Spec: { ...s.Spec, Labels: { ...labels, ...s.Spec.Labels } } })),
    listTasks: async () => tasks,
    listNodes: async () => [{ ID: 'h1', Description: { Hostname: 'vm' }, Status: { State: 'ready' } }],
    inspectImage: async () => ({}),
    runOnNetwork: async (_image: string, _network: string, _command: string[], env: string[]) => {
      sent.push('messenger');
      requests.push(env.filter((e) => /^(HOST|REQUEST)_/.test(e)));
      return { exitCode: 0, output: '' };
    },
  } as unknown as Engine;
}

const out = { line: () => undefined, warn: () => undefined, tty: false, status: () => undefined };

test('fault refuses, before sending anything: no deployment, a node without a control listener, a cut without NET_ADMIN', async (t) => {
  const keys = await keysWithToken(t);
  const sent: string[] = [];
  const refused = async (nodes: FakeNode[], action: string, targets: string | undefined, message: RegExp) => {
    await assert.rejects(
      fault(action, targets, { network: 'net', keys }, out, fakeEngine(nodes, sent)),
      (e: Error) => e instanceof UsageError && message.test(e.message) && !e.message.includes('\n'),
    );
  };
  const four = (extra: FakeNode = {}) => Array.from({ length: 4 }, () => ({ token: TOKEN, ...extra }));
  await refused([], 'pause', '1', /^fault: no gomelctl deployment on network net; pass --network/);
  await refused(
    [{ token: TOKEN }, {}, { token: TOKEN }, {}],
    'crash',
    '1-4',
    /^fault: node2, node4 were deployed without a control secret \(by an older gomelctl\)/,
  );
  // The token is the deployment's random secret, kept beside the keys: a node that mounts another is named.
  await refused(
    [{ token: TOKEN }, { token: 'd'.repeat(64) }, { token: TOKEN }, { token: TOKEN }],
    'crash',
    '1-4',
    /^fault: node2 holds another control token than .*\.gomelctl-control\.net \(deployed from another keys folder or machine\)/,
  );
  await refused(
    four(),
    'partition',
    '1-2|3-4',
    /^fault partition 1-2\|3-4: node1, node2, node3 and 1 more cannot run iptables \(no NET_ADMIN\); deploy with `--cap-add NET_ADMIN`/,
  );
  await refused(four(), 'heal', undefined, /cannot run iptables \(no NET_ADMIN\)/);
  await refused(four({ capAdd: ['CAP_NET_ADMIN'] }), 'crash', '5', /node 5 is not in the 4-node committee/);
  assert.deepEqual(sent, [], 'no request was sent');
  // The same deployment with NET_ADMIN gets its cut sent.
  await assert.rejects(
    fault('partition', '1-2|3-4', { network: 'net', keys }, out, fakeEngine(four({ capAdd: ['CAP_NET_ADMIN'] }), sent)),
    /not applied on 4 of 4 node\(s\): node1, node2, node3 and 1 more/,
  );
  assert.deepEqual(sent, ['messenger']);
  // No token kept for this deployment (another keys folder): one line, nothing sent.
  await assert.rejects(
    fault('crash', '1', { network: 'net', keys: await tempDir(t) }, out, fakeEngine(four(), sent)),
    (e: Error) =>
      e instanceof UsageError &&
      /^fault: no gomelctl deployment of these keys on network net \(no control token .*\.gomelctl-control\.net\): check --network, or pass --keys with the folder `deploy spawn` used/.test(
        e.message,
      ),
  );
  assert.deepEqual(sent, ['messenger']);
});

test('fault aims at node k by the committee, not by position among the services left: a node whose service is gone is refused, nothing sent', async (t) => {
  const keys = await keysWithToken(t);
  // node3's service is gone: the third service that exists is node4's.
  const nodes = [{ token: TOKEN }, { token: TOKEN }, { token: TOKEN, gone: true }, { token: TOKEN }];
  const sent: string[] = [];
  const requests: string[][] = [];
  for (const target of ['3', 'node3', '2-4'])
    await assert.rejects(
      fault('crash', target, { network: 'net', keys }, out, fakeEngine(nodes, sent, requests)),
      (e: Error) =>
        e instanceof UsageError &&
        /^fault crash [^:]+: node3 is not deployed on net \(no service\); nothing was sent$/.test(e.message),
    );
  assert.deepEqual(sent, [], 'nothing was sent');
  await assert.rejects(
    fault('crash', '4', { network: 'net', keys }, out, fakeEngine(nodes, sent, requests)),
    /not applied on 1 of 1 node\(s\): node4$/,
  );
  assert.deepEqual(requests, [['HOST_1=node4', `REQUEST_1=${TOKEN} kill`]], 'node4, and node4 only, was asked');
});

test('a fault record label gomelctl did not write refuses the fault before anything is sent (hostile pass F10)', async (t) => {
  const keys = await keysWithToken(t);
  const sent: string[] = [];
  for (const label of [LABELS.run, LABELS.legacyFaults]) {
    const nodes = [1, 2, 3, 4].map(() => ({ token: TOKEN, faults: '{"not": "a plan"}', label }));
    await assert.rejects(
      fault('crash', '1', { network: 'net', keys }, out, fakeEngine(nodes, sent)),
      new RegExp(
        `${label} label is not a fault record gomelctl wrote, so the verdict would not know of this fault; nothing was sent`,
      ),
    );
  }
  assert.deepEqual(sent, []);
});
