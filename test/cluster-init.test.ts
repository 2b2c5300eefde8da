// `cluster init` against a fake engine: the free /16 is chosen among the IPv4
// subnets only (N94), and its flags are checked before the engine is contacted. In process
// (gomelctlInProcess), but for one process that shows the refusal as a user sees it: exit 2, one line.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { tempDir } from './helpers.js';
import { fakeEngine, gomelctl, gomelctlInProcess, type EngineRequest } from './support/fake-engine.js';

/** A registry that answers /v2/ as docker/setup.sh's does. */
async function fakeRegistry(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const server = http.createServer((_req, res) => res.writeHead(200).end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A swarm manager holding `networks`; POST /networks/create adds an attachable overlay. */
function swarmManager(
  networks: { Name: string; Driver?: string; Attachable?: boolean; IPAM: { Config: { Subnet: string }[] } }[],
  swarm: Record<string, unknown> = { LocalNodeState: 'active', ControlAvailable: true },
) {
  return (r: EngineRequest) => {
    if (r.path === '/info')
      return {
        json: { Name: 'fake', ServerVersion: '20.10.24', Swarm: { NodeID: 'n1', NodeAddr: '127.0.0.1', ...swarm } },
      };
    if (r.path === '/swarm/init') return { json: 'n1' };
    if (r.path === '/nodes') return { json: [] };
    if (r.path === '/networks' && r.method === 'GET') {
      const name = (JSON.parse(r.query.get('filters') ?? '{}') as { name?: string[] }).name?.[0];
      return { json: networks.filter((n) => name === undefined || n.Name.includes(name)) };
    }
    if (r.path === '/networks/create') {
      const spec = JSON.parse(r.body) as { Name: string; IPAM: { Config: { Subnet: string }[] } };
      networks.push({ Name: spec.Name, Driver: 'overlay', Attachable: true, IPAM: spec.IPAM });
      return { status: 201, json: { Id: 'net1' } };
    }
    return { status: 404, json: { message: `fake engine: no ${r.method} ${r.path}` } };
  };
}

describe('cluster init', () => {
  it('N94: an IPv6 network is skipped when choosing the free IPv4 /16', async (t) => {
    const dir = await tempDir(t);
    const registry = await fakeRegistry(t);
    const networks = [
      { Name: 'v6net', IPAM: { Config: [{ Subnet: 'fd00:dead:beef::/48' }] } },
      { Name: 'taken', IPAM: { Config: [{ Subnet: '10.77.0.0/16' }, { Subnet: 'fd00:1::/64' }] } },
    ];
    const engine = await fakeEngine(dir, swarmManager(networks));
    t.after(() => engine.close());
    const r = await gomelctlInProcess(['cluster', 'init', '--registry', registry], dir, { DOCKER_HOST: engine.host });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /created attachable overlay network aleph_net \(10\.78\.0\.0\/16\)/);
  });

  it('N94: a --subnet is checked against the IPv4 subnets only', async (t) => {
    const dir = await tempDir(t);
    const networks = [
      { Name: 'v6net', IPAM: { Config: [{ Subnet: 'fd00:dead:beef::/48' }] } },
      { Name: 'taken', IPAM: { Config: [{ Subnet: '10.77.0.0/16' }] } },
    ];
    const engine = await fakeEngine(dir, swarmManager(networks));
    t.after(() => engine.close());
    const r = await gomelctl(['cluster', 'init', '--subnet', '10.77.3.0/24'], dir, { DOCKER_HOST: engine.host });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /^gomelctl: --subnet 10\.77\.3\.0\/24: overlaps 10\.77\.0\.0\/16, which another network holds/);
  });

  it("a swarm it creates gets the 5 s heartbeat; an existing swarm's 1 s is named with the fix", async (t) => {
    const dir = await tempDir(t);
    const registry = await fakeRegistry(t);
    const fresh = await fakeEngine(dir, swarmManager([], { LocalNodeState: 'inactive', ControlAvailable: false }));
    t.after(() => fresh.close());
    const created = await gomelctlInProcess(['cluster', 'init', '--registry', registry], dir, {
      DOCKER_HOST: fresh.host,
    });
    assert.equal(created.code, 0, created.err);
    const init = fresh.requests.find((r) => r.path === '/swarm/init');
    assert.equal(
      (JSON.parse(init!.body) as { Spec: { Dispatcher: { HeartbeatPeriod: number } } }).Spec.Dispatcher.HeartbeatPeriod,
      5e9,
    );
    assert.match(created.out, /swarm mode initialised on fake, heartbeat 5 s/);

    const Cluster = { Spec: { Dispatcher: { HeartbeatPeriod: 1e9 } } };
    const loaded = await fakeEngine(
      await tempDir(t),
      swarmManager([], { LocalNodeState: 'active', ControlAvailable: true, Cluster }),
    );
    t.after(() => loaded.close());
    const r = await gomelctlInProcess(['cluster', 'init', '--registry', registry], dir, { DOCKER_HOST: loaded.host });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /swarm mode already active \(manager\), heartbeat 1 s/);
    assert.match(
      r.err,
      /heartbeat is 1 s: a host busy for 3 s is declared down .*docker swarm update --dispatcher-heartbeat 5s/,
    );
    assert.ok(!loaded.requests.some((q) => q.path.startsWith('/swarm/update')), 'an existing swarm is left as it is');
  });

  for (const [flag, value] of [
    ['--subnet', '10.0.0.0/33'],
    ['--network', 'no spaces'],
    ['--registry', 'not:a:registry'],
  ] as const) {
    it(`${flag} ${value}: exit 2 before the engine is contacted`, async (t) => {
      const dir = await tempDir(t);
      const engine = await fakeEngine(dir, swarmManager([]));
      t.after(() => engine.close());
      const r = await gomelctlInProcess(['cluster', 'init', flag, value], dir, { DOCKER_HOST: engine.host });
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, new RegExp(`^gomelctl: ${flag} "?${value.replace(/[.*/]/g, '\\$&')}`));
      assert.deepEqual(engine.requests, []);
    });
  }
});
