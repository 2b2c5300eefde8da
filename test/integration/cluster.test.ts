import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LABELS } from '../../src/core/image-context.js';
import { engine, sandbox } from './helpers.js';

test('cluster init is idempotent: the second run creates nothing', async (t) => {
  const s = await sandbox(t);
  const first = await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);
  assert.match(first.out, new RegExp(`created attachable overlay network ${s.network} \\(${s.subnet.replace(/\./g, '\\.')}\\)`));
  assert.match(first.out, /workers join with: docker swarm join --token SWMTKN-/);
  const network = await engine.findNetwork(s.network);
  assert.deepEqual([network?.Driver, network?.Attachable, network?.Labels?.[LABELS.managed]], ['overlay', true, 'true']);
  const second = await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);
  assert.match(second.out, /swarm mode already active \(manager\)/);
  assert.match(second.out, new RegExp(`overlay network ${s.network} already exists`));
});

test('cluster init refuses a same-named network that is not an attachable overlay', async (t) => {
  const s = await sandbox(t);
  await engine.createNetwork({ Name: s.network, Driver: 'bridge' });
  const r = await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet], 1);
  assert.match(r.err, new RegExp(`^gomelctl: cluster: network ${s.network} exists but is bridge, not attachable; remove it \\(\`docker network rm ${s.network}\`\\) or pass --network$`));
});
