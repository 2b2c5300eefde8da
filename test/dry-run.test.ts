// `deploy spawn --dry-run` and `up --dry-run` (issue 32): the run's plan, printed, with no
// engine at all — DOCKER_HOST names a socket nobody listens on — and nothing changed. In process
// (gomelctlInProcess), but for one process: the JSON plan on stdout, nothing on stderr, as a user's pipe gets it.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, after, describe, it } from 'node:test';
import os from 'node:os';
import { REPO, snapshot } from './helpers.js';
import { gomelctl, gomelctlInProcess } from './support/fake-engine.js';

describe('--dry-run: the plan without an engine', () => {
  let dir: string;
  /** A socket in this run's own folder that nobody listens on. */
  let noEngine: { DOCKER_HOST: string };
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gomelctl-dry-run-'));
    noEngine = { DOCKER_HOST: `unix://${path.join(dir, 'no-engine.sock')}` };
    await fs.cp(path.join(REPO, 'configs'), path.join(dir, 'configs'), { recursive: true });
    assert.equal((await gomelctlInProcess(['keys', 'gen', '--n', '4'], dir)).code, 0);
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('deploy spawn --dry-run --json: the record it would write, each service, the settle', async () => {
    const keys = await snapshot(path.join(dir, 'keys'));
    const r = await gomelctl(
      ['deploy', 'spawn', '--dry-run', '--json', '--net', 'delay=10ms', '--faults', 'crash:2@3s', '--spread'],
      dir,
      noEngine,
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    const plan = JSON.parse(r.out) as {
      version: number;
      network: string;
      hosts: string[];
      committee: string;
      image: string;
      placement: { spread: boolean };
      capAdd: string[];
      startMarginS: number;
      settleS: number;
      conditions: { nodes: number[]; summary: string }[];
      faults: { events: { kind: string; nodes: number[] }[] };
      services: { name: string; conditions?: string; faults?: string }[];
    };
    assert.equal(plan.version, 1);
    assert.equal(plan.network, 'aleph_net');
    assert.deepEqual(plan.hosts, ['node1', 'node2', 'node3', 'node4']);
    assert.match(plan.committee, /^[0-9a-f]{16}$/);
    assert.equal(plan.image, '127.0.0.1:5000/aleph:test');
    assert.equal(plan.placement.spread, true);
    assert.deepEqual(plan.capAdd, ['CAP_NET_ADMIN']);
    assert.equal(plan.settleS, plan.startMarginS + 6);
    assert.deepEqual(plan.conditions, [{ nodes: [1, 2, 3, 4], summary: 'all peers: delay=10ms (delay: auto)' }]);
    assert.deepEqual(
      plan.faults.events.map((e) => [e.kind, e.nodes]),
      [['crash', [2]]],
    );
    assert.deepEqual(
      plan.services.map((s) => [s.name, Boolean(s.faults)]),
      [
        ['node1', false],
        ['node2', true],
        ['node3', false],
        ['node4', false],
      ],
    );
    assert.deepEqual(await snapshot(path.join(dir, 'keys')), keys, 'no control token written, nothing changed');
  });

  it('deploy spawn --dry-run: lines for people; a bad flag is still refused (exit 2)', async () => {
    const r = await gomelctlInProcess(['deploy', 'spawn', '--dry-run', '--faults', 'pause:3@1s-4s'], dir, noEngine);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.equal(lines[0], 'deploy: dry run: the engine is not asked, nothing changes');
    assert.match(
      r.out,
      /^deploy: 4 nodes on aleph_net \(node1, node2, node3, node4\), config config, from 127\.0\.0\.1:5000\/aleph:test/m,
    );
    assert.match(r.out, /^deploy: network: no conditions/m);
    assert.match(r.out, /^deploy: fault planned: pause:3@1s-4s/m);
    assert.match(r.out, /^deploy: start: 3 s after the coordinator heard every node; settle: 9 s$/m);
    const bad = await gomelctlInProcess(['deploy', 'spawn', '--dry-run', '--faults', 'crash:9@1s'], dir, noEngine);
    assert.equal(bad.code, 2, bad.err);
    assert.match(bad.err, /^gomelctl: --faults "crash:9@1s"/);
    for (const command of [['deploy', 'spawn'], ['up']]) {
      const json = await gomelctlInProcess([...command, '--json'], dir, noEngine);
      assert.equal(json.code, 2, json.err);
      assert.equal(json.err, 'gomelctl: --json goes with --dry-run: the plan as JSON\n');
    }
  });

  it('up --dry-run --n 7: planned on the committee keys gen would make, and keys gen not run', async () => {
    const before = { keys: await snapshot(path.join(dir, 'keys')), names: (await fs.readdir(dir)).sort() };
    const r = await gomelctlInProcess(
      ['up', '--dry-run', '--json', '--n', '7', '--faults', 'crash:7@2s'],
      dir,
      noEngine,
    );
    assert.equal(r.code, 0, r.err);
    const plan = JSON.parse(r.out) as { hosts: string[]; settleS: number; committee?: string; faults: unknown };
    assert.deepEqual(
      plan.hosts,
      Array.from({ length: 7 }, (_, i) => `node${i + 1}`),
    );
    assert.equal(plan.settleS, 0, 'up waits for every node anyway: no settle watch without network conditions');
    assert.equal(plan.committee, undefined, 'the committee is not made yet');
    assert.deepEqual(
      { keys: await snapshot(path.join(dir, 'keys')), names: (await fs.readdir(dir)).sort() },
      before,
      'keys, configs and the folder as they were',
    );
    const text = await gomelctlInProcess(['up', '--dry-run'], dir, noEngine);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^up: 4 nodes on aleph_net/m);
  });
});
