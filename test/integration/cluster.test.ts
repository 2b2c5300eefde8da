import { LABELS } from '../../src/core/labels.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engine, sandbox } from './helpers.js';

test('cluster init is idempotent: the second run creates nothing', async (t) => {
  const s = await sandbox(t);
  const first = await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);
  assert.match(
    first.out,
    new RegExp(`created attachable overlay network ${s.network} \\(${s.subnet.replace(/\./g, '\\.')}\\)`),
  );
  assert.doesNotMatch(first.out, /SWMTKN-/, 'the join token is printed by cluster join-token only');
  const join = await s.run(['cluster', 'join-token']);
  assert.match(join.out, /^  docker swarm join --token SWMTKN-\S+ \S+:2377$/m);
  assert.match(join.out, /"insecure-registries": \["[^"]+:5000"\]/);
  const network = await engine.findNetwork(s.network);
  assert.deepEqual(
    [network?.Driver, network?.Attachable, network?.Labels?.[LABELS.managed]],
    ['overlay', true, 'true'],
  );
  const second = await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);
  assert.match(second.out, /swarm mode already active \(manager\)/);
  assert.match(second.out, new RegExp(`overlay network ${s.network} already exists`));
});

test('cluster init refuses a same-named network that is not an attachable overlay', async (t) => {
  const s = await sandbox(t);
  await engine.createNetwork({ Name: s.network, Driver: 'bridge' });
  const r = await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet], 1);
  assert.match(
    r.err,
    new RegExp(
      `^gomelctl: cluster: network ${s.network} exists but is bridge, not attachable; remove it \\(\`docker network rm ${s.network}\`\\) or pass --network$`,
    ),
  );
});

test('a second deployment gets a network of its own: a free subnet when none is given, an overlapping --subnet refused', async (t) => {
  const a = await sandbox(t);
  const b = await sandbox(t);
  await a.run(['cluster', 'init', '--network', a.network, '--subnet', a.subnet]);
  const clash = await b.run(['cluster', 'init', '--network', b.network, '--subnet', a.subnet], 2);
  assert.match(
    clash.err,
    new RegExp(
      `--subnet ${a.subnet.replace(/\./g, '\\.')}: overlaps ${a.subnet.replace(/\./g, '\\.')}, which another network holds`,
    ),
  );
  assert.equal(await engine.findNetwork(b.network), undefined, 'nothing half-made');
  const free = await b.run(['cluster', 'init', '--network', b.network]);
  const subnet = /created attachable overlay network \S+ \((10\.\d+\.0\.0\/16)\)/.exec(free.out)?.[1];
  assert.ok(subnet, free.out);
  const network = await engine.findNetwork(b.network);
  assert.deepEqual([network?.Driver, network?.Attachable], ['overlay', true]);
});
