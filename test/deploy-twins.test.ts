// twin:K deployed (issue 34): what each instance sets up before gomel starts, the services deploy
// spawn plans for it (against the engine in memory, test/support/memory-engine.ts), and the way back:
// the nodes' shipped files collected by deploy logs under the services' names and judged by verdict.
// And the stand-in's reach mode, which the integration test of twins (test/integration/twins.test.ts)
// reads to see who reached whom, run on this host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { deploySpawn, type DeploySpawnOptions } from '../src/commands/deploy-spawn.js';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { captureOutput } from '../src/commands/output.js';
import { NODE_ENV } from '../src/core/deploy/node-contract.js';
import { LABELS } from '../src/core/labels.js';
import { parseFaultPlan } from '../src/core/faults/plan.js';
import { twinSetups } from '../src/core/faults/twins.js';
import { MemoryEngine } from './support/memory-engine.js';
import { memoryProject } from './support/memory-project.js';
import { cli, freeListenPorts, keepHalf, REPO, tempDir, VECTORS } from './helpers.js';

const run = promisify(execFile);
const H8 = Array.from({ length: 8 }, (_, i) => `node${i + 1}`);

test("each instance's halves: node K's half drops the twin, the twin's half drops node K and takes its name for the twin; each instance drops the other half", () => {
  const s = twinSetups(parseFaultPlan('twin:3', H8));
  assert.deepEqual(s.nodes, [
    'drop node3-twin\n',
    'drop node3-twin\n',
    'drop node6 node7 node8\n',
    'drop node3-twin\n',
    'drop node3-twin\n',
    'drop node3\nalias node3 node3-twin\n',
    'drop node3\nalias node3 node3-twin\n',
    'drop node3\nalias node3 node3-twin\n',
  ]);
  // It learns the start from the first node of its own half: the other half drops it once they know it.
  assert.deepEqual(s.twins, [
    {
      pid: 2,
      name: 'node3-twin',
      setup: 'alias node3 node3-twin\ndrop node1 node2 node4 node5\n',
      startFrom: 'node6',
    },
  ]);
  // Two twins: each twinned node, both its instances, takes its side of the other's split.
  // A twin does not learn the start from another twinned node (node5 here, twinned too).
  const three = twinSetups(parseFaultPlan('twin:3,groups=1-2|4-8;twin:4,groups=1-3|5-8', H8));
  assert.deepEqual(
    three.twins.map((x) => [x.name, x.startFrom]),
    [
      ['node3-twin', 'node5'],
      ['node4-twin', 'node5'],
    ],
  );
  const two = twinSetups(parseFaultPlan('twin:1,groups=2-4|5-8;twin:8,groups=1-4|5-7', H8));
  assert.equal(two.nodes[0], 'drop node5 node6 node7 node8\ndrop node8-twin\n');
  assert.deepEqual(two.twins, [
    {
      pid: 0,
      name: 'node1-twin',
      setup: 'alias node1 node1-twin\ndrop node2 node3 node4\ndrop node8-twin\n',
      startFrom: 'node5',
    },
    {
      pid: 7,
      name: 'node8-twin',
      setup: 'alias node8 node8-twin\ndrop node1 node2 node3 node4\ndrop node1\nalias node1 node1-twin\n',
      startFrom: 'node5',
    },
  ]);
});

const project = (t: Parameters<typeof tempDir>[0]) => memoryProject(t, 8);

/** deploy spawn's options for the project, with a fault plan. */
const spawnOptions = (p: Awaited<ReturnType<typeof project>>, faults: string): DeploySpawnOptions =>
  p.options({ faults });

type Spec = {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: { Hostname: string; Env: string[]; Secrets: { SecretName: string }[]; CapabilityAdd?: string[] };
    Networks: { Aliases: string[] }[];
  };
};
const env = (s: Spec, name: string) => {
  const v = s.TaskTemplate.ContainerSpec.Env.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
  return v === undefined || name === NODE_ENV.slot || name === NODE_ENV.twin || name === NODE_ENV.startFrom
    ? v
    : Buffer.from(v, 'base64').toString();
};

test('deploy spawn with twin:3: a ninth service node3-twin, with node3 key and slot, its own hostname, its own secret and name, every instance its halves', async (t) => {
  const p = await project(t);
  const engine = new MemoryEngine();
  const out = captureOutput();
  await deploySpawn(spawnOptions(p, 'twin:3;mute:7@2s'), out, engine);
  const specs = new Map(engine.live().map((s) => [s.Spec.Name, s.Spec as unknown as Spec]));
  assert.deepEqual([...specs.keys()].sort(), [...H8, 'node3-twin'].sort());
  const twin = specs.get('node3-twin')!;
  const own = specs.get('node3')!;
  // Its hostname is its own: Docker makes a hostname a DNS alias, and on a 3-host lab node3 resolved to the twin.
  assert.equal(twin.TaskTemplate.ContainerSpec.Hostname, 'node3-twin');
  assert.equal(own.TaskTemplate.ContainerSpec.Hostname, 'node3');
  assert.deepEqual(twin.TaskTemplate.Networks[0]!.Aliases, ['node3-twin'], 'the committee name stays node3 own');
  assert.equal(env(twin, NODE_ENV.slot), '3');
  assert.equal(env(twin, NODE_ENV.twin), '1');
  assert.equal(env(twin, NODE_ENV.startFrom), 'node6', 'it asks its own half for the start');
  assert.equal(env(own, NODE_ENV.startFrom), undefined);
  assert.equal(env(own, NODE_ENV.twin), undefined);
  assert.equal(
    env(twin, NODE_ENV.twinSetup),
    'alias node3 node3-twin\ndrop node1 node2 node4 node5\n',
    'gomel binds node3',
  );
  assert.equal(env(own, NODE_ENV.twinSetup), 'drop node6 node7 node8\n');
  assert.equal(env(specs.get('node6')!, NODE_ENV.twinSetup), 'drop node3\nalias node3 node3-twin\n');
  assert.equal(env(twin, NODE_ENV.faults), undefined, 'the twin carries no schedule');
  // node7 is mute to both of node3's instances.
  assert.equal(
    env(specs.get('node7')!, NODE_ENV.faults),
    '2000 mute node1 node2 node3 node3-twin node4 node5 node6 node8\n',
  );
  assert.equal(twin.Labels[LABELS.node], 'node3-twin');
  assert.equal(twin.Labels[LABELS.hosts], H8.join(' '));
  assert.equal(twin.Labels[LABELS.run], own.Labels[LABELS.run], 'the one run record');
  for (const s of specs.values()) assert.ok(s.TaskTemplate.ContainerSpec.CapabilityAdd?.includes('CAP_NET_ADMIN'));
  // Its own secret, holding node3's key.
  const secretOf = (s: Spec) =>
    engine.secrets.find((x) => x.Spec.Name === s.TaskTemplate.ContainerSpec.Secrets[0]!.SecretName)!;
  assert.notEqual(secretOf(twin).Spec.Name, secretOf(own).Spec.Name);
  assert.match(secretOf(twin).Spec.Name, /^node3-twin\./);
  assert.equal(new TextDecoder().decode(secretOf(twin).data), await fs.readFile(path.join(p.keys, '2.pk'), 'utf8'));
  assert.match(out.lines.join('\n'), /deploy: fault planned: twin:3,groups=1-2,4-5\|6-8  node3 runs as two instances/);
});

/** What a node's run.sh prints: its /extract shipped (templates/node-lib.sh ship_extract). */
async function shipped(root: string, folder: string): Promise<string> {
  const lib = path.join(REPO, 'templates/node-lib.sh');
  const { stdout } = await run('sh', ['-c', `. "${lib}" && ship_extract`], {
    env: { ...process.env, GOMEL_EXTRACT: folder, TMPDIR: root },
    maxBuffer: 1 << 28,
  });
  return stdout;
}

test('twin:3 end to end on the engine in memory: deploy logs brings node3-twin home under its own name, and the verdict names the liar', async (t) => {
  const p = await project(t);
  // What each service shipped: the real run's files (swarm-8, the same hosts); node3's and its twin's,
  // node3's, each instance's log naming only its half's peers (keepHalf: twin:3 splits pids 0, 1, 3, 4 | 5, 6, 7).
  const swarm8 = path.join(VECTORS, 'logs/swarm-8');
  const outputs = new Map<string, string>();
  for (const name of [...H8, 'node3-twin']) {
    if (!name.startsWith('node3')) {
      outputs.set(name, await shipped(p.root, path.join(swarm8, name)));
      continue;
    }
    const folder = path.join(p.root, 'instances', name);
    await fs.cp(path.join(swarm8, 'node3'), folder, { recursive: true });
    await fs.chmod(path.join(folder, '2.config.log.gz'), 0o644);
    await keepHalf(path.join(folder, '2.config.log.gz'), name === 'node3' ? [0, 1, 3, 4] : [5, 6, 7]);
    // Each instance's drop rules, as faults.sh apply_twin logs them before gomel starts.
    const drop = name === 'node3' ? 'node6 node7 node8' : 'node1 node2 node4 node5';
    await fs.writeFile(path.join(folder, 'faults.log'), `1569836105.5 0 twin drop ${drop} ok\n`);
    outputs.set(name, await shipped(p.root, folder));
  }
  const engine = new MemoryEngine(['net'], (name) => ({ state: 'complete', output: outputs.get(name) ?? '' }));
  const logs = path.join(p.root, 'logs');
  await deploySpawn(spawnOptions(p, 'twin:3'), captureOutput(), engine);
  await deployLogs({ network: 'net', out: logs, keys: p.keys, configs: p.configs }, captureOutput(), engine);
  assert.ok((await fs.readdir(path.join(logs, 'node3-twin'))).includes('2.config.log.gz'));
  const r = await cli(['verdict', '--logs', logs, '--keys', p.keys]);
  assert.equal(r.code, 0, `${r.out}\n${r.err}`);
  assert.match(r.out, /^byzantine: node3 lied: it equivocated — two instances with its one key/m);
  assert.match(r.out, /liveness: consensus reached by all 7 correct nodes \(344 units in the same order\)/);
});

test("the stand-in's reach mode, on this host: an instance answers with its committee host (a twin's with -twin), asks every peer at its address in the hosts file, and records who answered", async (t) => {
  const p = await memoryProject(t, 4);
  // Each node's three addresses on local ports (in the integration run each node has its own address).
  const ports = await freeListenPorts(12);
  const committee = path.join(p.keys, 'committee.ka');
  const lines = (await fs.readFile(committee, 'utf8')).trimEnd().split('\n');
  await fs.writeFile(
    committee,
    lines
      .map((line, k) => {
        const fields = line.split('|');
        fields[3] = [0, 1, 2].map((a) => `node${k + 1}:${ports[3 * k + a]}`).join(' ');
        return fields.join('|');
      })
      .join('\n') + '\n',
  );
  await fs.copyFile(path.join(p.configs, 'config.json'), path.join(p.configs, 'reach.json'));
  // busybox's nc, as in the image; the names resolve in the hosts file only (no DNS knows node1..node4).
  const bin = path.join(p.root, 'bin');
  await fs.mkdir(bin);
  await fs.writeFile(path.join(bin, 'nc'), '#!/bin/sh\nexec busybox nc "$@"\n', { mode: 0o755 });
  const hosts = path.join(p.root, 'hosts');
  await fs.writeFile(hosts, '127.0.0.1 node1 node2 node3 node4\n');
  // node1 and node3's second instance run; node2 and node4 do not, so nobody answers for them.
  const instance = async (pid: number, twin: boolean) => {
    const dir = path.join(p.root, `pid${pid}${twin ? '-twin' : ''}`);
    await fs.mkdir(dir);
    const fake = path.join(REPO, 'test/fixtures/fake-gomel.sh');
    await run(
      'busybox',
      [
        'sh',
        fake,
        '--pk',
        path.join(p.keys, `${pid}.pk`),
        '--keys_addrs',
        committee,
        '--log',
        `${pid}.reach.log`,
        '--config',
        path.join(p.configs, 'reach.json'),
      ],
      {
        cwd: dir,
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          GOMEL_HOSTS_FILE: hosts,
          GOMEL_FAKE_REACH_S: '2',
          ...(twin ? { GOMEL_TWIN: '1' } : {}),
        },
      },
    );
    return {
      reach: await fs.readFile(path.join(dir, 'reach.txt'), 'utf8'),
      log: await fs.readFile(path.join(dir, `${pid}.reach.log`), 'utf8'),
    };
  };
  const [node1, twin] = await Promise.all([instance(0, false), instance(2, true)]);
  const host = os.hostname();
  assert.equal(node1.reach, `hostname ${host}\npeer node2 none\npeer node3 node3-twin\npeer node4 none\n`);
  assert.equal(twin.reach, `hostname ${host}\npeer node1 node1\npeer node2 none\npeer node4 none\n`);
  // Then the run's log, as in every mode: a unit created at LevelLimit, two ordered, the end.
  assert.match(node1.log, /"E":"D"[^]*"E":"Z"[^]*"E":"B"/);
  assert.match(twin.log, /"A":2,"T":2,"E":"D"/);
});
