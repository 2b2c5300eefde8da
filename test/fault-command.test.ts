// gomelctl fault's refusals, against an engine faked at its seam (no Docker): each is one
// line, exit 2, and no request is sent — the messenger container is never started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fault } from '../src/commands/fault.js';
import { UsageError } from '../src/core/errors.js';
import type { Engine } from '../src/docker/engine.js';

interface FakeNode {
  token?: string;
  capAdd?: string[];
}

/** The engine calls fault makes before it sends anything; runOnNetwork records that it was reached. */
function fakeEngine(nodes: FakeNode[], sent: string[]): Engine {
  const services = nodes.map((n, i) => ({
    ID: `svc${i + 1}`,
    Spec: {
      Name: `node${i + 1}`,
      Labels: {},
      TaskTemplate: {
        ContainerSpec: {
          Command: ['/gomel/run.sh', 'config'],
          Env: [`SLOT=${i + 1}`, ...(n.token ? [`GOMEL_CONTROL_TOKEN=${n.token}`] : [])],
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
    listServices: async () => services,
    listTasks: async () => tasks,
    listNodes: async () => [{ ID: 'h1', Description: { Hostname: 'vm' }, Status: { State: 'ready' } }],
    inspectImage: async () => ({}),
    runOnNetwork: async () => {
      sent.push('messenger');
      return { exitCode: 0, output: '' };
    },
  } as unknown as Engine;
}

const out = { line: () => undefined, warn: () => undefined, tty: false, status: () => undefined };

test('fault refuses, before sending anything: no deployment, a node without a control listener, a cut without NET_ADMIN', async () => {
  const sent: string[] = [];
  const refused = async (nodes: FakeNode[], action: string, targets: string | undefined, message: RegExp) => {
    await assert.rejects(
      fault(action, targets, { network: 'net' }, out, fakeEngine(nodes, sent)),
      (e: Error) => e instanceof UsageError && message.test(e.message) && !e.message.includes('\n'),
    );
  };
  const four = (extra: FakeNode = {}) => Array.from({ length: 4 }, () => ({ token: 't', ...extra }));
  await refused([], 'pause', '1', /^fault: no gomelctl deployment on network net; pass --network/);
  await refused(
    [{ token: 't' }, {}, { token: 't' }, {}],
    'crash',
    '1-4',
    /^fault: node2, node4 were deployed without a control listener \(by an older gomelctl\)/,
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
    fault('partition', '1-2|3-4', { network: 'net' }, out, fakeEngine(four({ capAdd: ['CAP_NET_ADMIN'] }), sent)),
    /not applied on 4 of 4 node\(s\): node1, node2, node3 and 1 more/,
  );
  assert.deepEqual(sent, ['messenger']);
});
