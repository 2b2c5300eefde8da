// Error paths of deploy with stub engines: a removed service's container that never
// stops is one line after the wait, not a hang; a faults label gomelctl did not write
// is one line, not a SyntaxError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { waitForRemoved } from '../src/docker/deployment.js';
import { captureOutput } from '../src/commands/output.js';
import { EnvironmentError } from '../src/core/errors.js';
import type { Engine } from '../src/docker/engine.js';
import { tempDir } from './helpers.js';

test('a removed service whose container never stops: the wait ends with one line naming the count; a node on a down host counts as gone', async () => {
  const tasks = [
    { ServiceID: 'old1', NodeID: 'h1', Status: { State: 'running' } },
    { ServiceID: 'old2', NodeID: 'h2', Status: { State: 'running' } },
    { ServiceID: 'other', NodeID: 'h1', Status: { State: 'running' } },
    { ServiceID: 'old3', NodeID: 'h1', Status: { State: 'complete' } },
  ];
  const engine = {
    listAllTasks: async () => tasks,
    listNodes: async () => [
      { ID: 'h1', Status: { State: 'ready' } },
      { ID: 'h2', Status: { State: 'down' } },
    ],
  } as unknown as Engine;
  const out = captureOutput();
  await assert.rejects(
    waitForRemoved(engine, new Set(['old1', 'old2', 'old3']), (m) => out.warn(m), 300, 50),
    (e: Error) =>
      e instanceof EnvironmentError &&
      /^deploy: 1 container\(s\) of the previous run still run 0 s after their services were removed/.test(e.message),
  );
  assert.deepEqual(out.warnings, [
    'deploy: waiting for 1 container(s) of the previous run to stop, so that runs never mix',
  ]);
  tasks[0]!.Status.State = 'shutdown';
  await waitForRemoved(engine, new Set(['old1', 'old2', 'old3']), () => {}, 300, 50);
});

test('a faults label gomelctl did not write: deploy logs says so in one line', async (t) => {
  const engine = {
    listServices: async (labels: Record<string, string>) => [
      {
        ID: 's1',
        Spec: {
          Name: 'node1',
          Labels: { ...labels, 'org.gomelctl.faults': '{not a plan' },
          TaskTemplate: { ContainerSpec: { Command: ['run.sh', 'config'] } },
        },
      },
    ],
    listTasks: async () => [
      { ServiceID: 's1', CreatedAt: '1', Status: { State: 'complete', ContainerStatus: { ExitCode: 0 } } },
    ],
    listNodes: async () => [],
    serviceOutput: async () => 'hi\n',
    containerArchive: async () => undefined,
  } as unknown as Engine;
  const out = path.join(await tempDir(t), 'logs');
  await assert.rejects(
    deployLogs({ network: 'aleph_net', out, keys: 'none', configs: 'none' }, captureOutput(), engine),
    (e: Error) =>
      e instanceof EnvironmentError && /org\.gomelctl\.faults label is not a fault plan gomelctl wrote/.test(e.message),
  );
});
