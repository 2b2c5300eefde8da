// Issue 25 item 1 (N85, N86): `up` checks every flag and input file before it
// changes anything — keys, configs or the engine. Exit 2 means nothing changed. The refusals run in
// process (gomelctlInProcess); two runs are processes, as a user runs up: one the engine is asked
// by, and one that fails after up began changing things (exit 1).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { REPO, snapshot, tempDir } from './helpers.js';
import { fakeEngine, gomelctl, gomelctlInProcess, type EngineRequest } from './support/fake-engine.js';

/** keys/ and configs/ by content and mode, and every name in the folder (no lock or staging left). */
async function state(dir: string): Promise<unknown> {
  return {
    names: (await fs.readdir(dir)).sort(),
    keys: await snapshot(path.join(dir, 'keys')),
    configs: await snapshot(path.join(dir, 'configs')),
  };
}

describe('up: every flag is checked before anything changes (N85, N86)', () => {
  let committee: string;
  before(async () => {
    committee = await fs.mkdtemp(path.join(os.tmpdir(), 'gomelctl-up-checks-'));
    await fs.cp(path.join(REPO, 'configs'), path.join(committee, 'configs'), { recursive: true });
    const made = await gomelctlInProcess(['keys', 'gen', '--n', '8'], committee);
    assert.equal(made.code, 0, made.err);
  });
  after(() => fs.rm(committee, { recursive: true, force: true }));

  const zonesMissingNode10 = { zones: { eu: '1-4', us: '5-9' }, links: { 'eu>us': 'delay=1ms', 'us>eu': 'delay=1ms' } };
  const cases: { name: string; args: string[]; code?: number; says: RegExp }[] = [
    { name: 'N85 --subnet', args: ['--n', '4', '--subnet', '10.0.0.0/33'], says: /--subnet 10\.0\.0\.0\/33/ },
    { name: 'N85 --subnet IPv6', args: ['--n', '4', '--subnet', 'fd00::/48'], says: /--subnet fd00::\/48/ },
    { name: 'N85 --tag', args: ['--n', '4', '--tag', 'BAD_TAG:x'], says: /--tag "BAD_TAG:x"/ },
    // Hostile pass 7: ".." was taken as a registry, and up initialised swarm mode before its image stage failed.
    { name: '--tag ../x', args: ['--n', '4', '--tag', '../x'], says: /--tag "\.\.\/x": not an image reference/ },
    {
      name: '--tag ../x --dry-run',
      args: ['--n', '4', '--tag', '../x', '--dry-run'],
      says: /--tag "\.\.\/x": not an image reference/,
    },
    { name: '--registry a..b', args: ['--n', '4', '--registry', 'a..b:5000'], says: /--registry "a\.\.b:5000"/ },
    {
      name: 'N85 --tag without a registry',
      args: ['--n', '4', '--tag', 'aleph:test'],
      says: /--tag aleph:test: name the registry/,
    },
    { name: 'N85 --binary', args: ['--n', '4', '--binary', '/nonexistent'], says: /--binary \/nonexistent/ },
    {
      name: 'N85 --binary not a program',
      args: ['--n', '4', '--binary', 'configs/config.json'],
      code: 1,
      says: /config\.json: is not executable/,
    },
    { name: 'N85 --code', args: ['--n', '4', '--code', '/nonexistent'], says: /--code \/nonexistent/ },
    { name: 'N85 --code a file', args: ['--n', '4', '--code', 'z.json'], says: /--code z\.json: not a folder/ },
    { name: 'N85 --timeout', args: ['--n', '4', '--timeout', 'abc'], says: /--timeout abc/ },
    { name: 'N85 --parallel', args: ['--n', '4', '--parallel', '0'], says: /--parallel 0/ },
    { name: 'N85 --registry', args: ['--n', '4', '--registry', 'not:a:registry'], says: /--registry "?not:a:registry/ },
    { name: '--net', args: ['--n', '4', '--net', 'delay=fast'], says: /--net delay=fast/ },
    {
      name: '--net and --zones',
      args: ['--n', '4', '--net', 'delay=1ms', '--zones', 'z.json'],
      says: /--net and --zones/,
    },
    // A missing zones file is a bad file too, as deploy spawn says it (one reader of --zones for both).
    {
      name: '--zones missing file',
      args: ['--n', '4', '--zones', 'nosuch.json'],
      code: 1,
      says: /nosuch\.json: no such zones file/,
    },
    // A zones file that exists but is wrong is a bad file: exit 1 (docs/network-conditions.md).
    {
      name: 'N86 --zones misses a node of the new N',
      args: ['--n', '10', '--zones', 'z.json'],
      code: 1,
      says: /z\.json:zones: node 10 is in no zone/,
    },
    { name: '--network', args: ['--n', '4', '--network', 'no spaces'], says: /--network "no spaces"/ },
    { name: '--config', args: ['--n', '4', '--config', 'nosuch'], says: /--config nosuch/ },
    { name: '--n', args: ['--n', 'three'], says: /--n three/ },
    { name: '--image (not an up flag)', args: ['--n', '4', '--image', 'BAD REF'], says: /unknown option '--image'/ },
    // The logs folder is judged before the run, not when the logs come home (N89's folder, a path under a file).
    {
      name: '--logs a folder gomelctl did not write',
      args: ['--n', '4', '--logs', 'mine'],
      code: 1,
      says: /mine: was not written by `gomelctl deploy logs` \(NOTES\.md\)/,
    },
    {
      name: '--logs under a file',
      args: ['--n', '4', '--logs', 'z.json/logs'],
      code: 1,
      says: /z\.json\/logs: .*z\.json is a file, not a folder/,
    },
    { name: '--cap-add', args: ['--n', '4', '--cap-add', 'BOGUS'], says: /--cap-add "BOGUS": not a Linux capability/ },
  ];

  it('valid flags pass the checks: the same harness sees the engine contacted', async (t) => {
    const dir = await tempDir(t);
    await fs.cp(committee, dir, { recursive: true });
    const engine = await fakeEngine(dir, () => ({ status: 500, json: { message: 'test engine says no' } }));
    t.after(() => engine.close());
    const r = await gomelctl(
      ['up', '--subnet', '10.99.0.0/16', '--timeout', '5', '--parallel', '2', '--net', 'rate=1mbit'],
      dir,
      { DOCKER_HOST: engine.host },
    );
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /test engine says no/);
    assert.ok(engine.requests.length > 0);
  });

  for (const c of cases) {
    it(`${c.name}: exit ${c.code ?? 2}, keys/ configs/ and the engine untouched`, async (t) => {
      const dir = await tempDir(t);
      await fs.cp(committee, dir, { recursive: true });
      await fs.writeFile(path.join(dir, 'z.json'), JSON.stringify(zonesMissingNode10));
      await fs.mkdir(path.join(dir, 'mine'));
      await fs.writeFile(path.join(dir, 'mine', 'NOTES.md'), 'notes\n');
      const engine = await fakeEngine(dir, () => ({
        status: 500,
        json: { message: 'the test engine must not be called' },
      }));
      t.after(() => engine.close());
      const before = await state(dir);
      const r = await gomelctlInProcess(['up', ...c.args], dir, { DOCKER_HOST: engine.host });
      assert.equal(r.code, c.code ?? 2, `${r.err}\n${r.out}`);
      assert.match(r.err, c.says);
      // commander's own refusals end with the usage; ours are one line.
      if (!c.args.includes('--image')) assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
      assert.deepEqual(await state(dir), before, 'keys/ and configs/ must be byte-identical');
      assert.deepEqual(
        engine.requests.map((q) => `${q.method} ${q.path}`),
        [],
        'the engine must not be contacted',
      );
    });
  }

  /** A swarm manager whose networks are `networks()` at each listing; it refuses anything that changes it. */
  const manager =
    (networks: () => { Name: string; IPAM: { Config: { Subnet: string }[] } }[]) => (r: EngineRequest) => {
      if (r.method !== 'GET') return { status: 500, json: { message: 'the test engine must not be changed' } };
      if (r.path === '/info')
        return {
          json: {
            Name: 'fake',
            Swarm: { LocalNodeState: 'active', ControlAvailable: true, NodeID: 'n1', NodeAddr: '127.0.0.1' },
          },
        };
      if (r.path === '/nodes') return { json: [] };
      if (r.path === '/networks') {
        const name = (JSON.parse(r.query.get('filters') ?? '{}') as { name?: string[] }).name?.[0];
        return { json: networks().filter((n) => name === undefined || n.Name.includes(name)) };
      }
      return { status: 404, json: { message: `fake engine: no ${r.method} ${r.path}` } };
    };

  it('--subnet another network overlaps: exit 2 before keys/ and configs/ change (the engine is only read)', async (t) => {
    const dir = await tempDir(t);
    await fs.cp(committee, dir, { recursive: true });
    const engine = await fakeEngine(
      dir,
      manager(() => [{ Name: 'taken', IPAM: { Config: [{ Subnet: '10.77.0.0/16' }] } }]),
    );
    t.after(() => engine.close());
    const before = await state(dir);
    const r = await gomelctlInProcess(['up', '--n', '4', '--subnet', '10.77.3.0/24'], dir, {
      DOCKER_HOST: engine.host,
    });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /^gomelctl: --subnet 10\.77\.3\.0\/24: overlaps 10\.77\.0\.0\/16, which another network holds/);
    assert.deepEqual(await state(dir), before, 'keys/ and configs/ must be byte-identical');
    assert.deepEqual(
      engine.requests.filter((q) => q.method !== 'GET'),
      [],
      'nothing asked of the engine but reads',
    );
  });

  it('a usage error found after up began changing things is exit 1, never 2', async (t) => {
    const dir = await tempDir(t);
    await fs.cp(committee, dir, { recursive: true });
    // Free when up checks (its first two listings); every 10.N.0.0/16 taken by the time cluster init picks one.
    let listings = 0;
    const allOfTen = [{ Name: 'all-of-ten', IPAM: { Config: [{ Subnet: '10.0.0.0/8' }] } }];
    const engine = await fakeEngine(
      dir,
      manager(() => (++listings > 2 ? allOfTen : [])),
    );
    t.after(() => engine.close());
    const r = await gomelctl(['up', '--n', '4'], dir, { DOCKER_HOST: engine.host });
    assert.match(
      r.err,
      /no free 10\.N\.0\.0\/16 subnet is left .*\(found after up began changing keys, configs and the engine: exit 1, not 2\)/,
    );
    assert.equal(r.code, 1, r.err);
    assert.match(
      await fs.readFile(path.join(dir, 'keys', 'committee.ka'), 'utf8'),
      /^(.*\n){4}$/,
      'keys gen ran: things changed',
    );
  });
});
