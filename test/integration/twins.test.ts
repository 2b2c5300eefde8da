// twin:K on the real engine (issue 34): node K runs as two services with its one key,
// each reached only by its half of the committee. The nodes are the stand-in (test/fixtures/fake-gomel.sh)
// in its reach mode: each instance answers on its committee address with its own name and records which
// instance answered, when it dialled each peer by the committee's name as gomel does (reach.txt; the mode
// itself is tested on the host in test/deploy-twins.test.ts). gomel's own twin run is vendored in
// test/vectors/real-runs/twin8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers.js';
import { engine, keysFlags, sandbox, upFlags } from './helpers.js';
import { KEY_SECRET_FILE } from '../../src/core/deploy/node-contract.js';
import { LABELS } from '../../src/core/labels.js';

const FAKE = path.join(REPO, 'test/fixtures/fake-gomel.sh');
const N = 7;

/** What of a node's service spec is read here (src/core/deploy/plan.ts nodeSpecs writes it). */
interface ServiceSpec {
  Name: string;
  TaskTemplate: {
    ContainerSpec: { Hostname: string; Secrets: { SecretName: string; File: { Name: string } }[] };
  };
}

test('twin:3 of 7 stand-in nodes: node3 and node3-twin ran with the one key, each reached only by its half, both brought their files home, and the verdict names the liar', async (t) => {
  const s = await sandbox(t);
  // The stand-in logs its unit at LevelLimit whatever it is; its run lasts the reach window (8 s and 2 s more).
  const config = JSON.parse(await fs.readFile(path.join(s.configs, 'config.json'), 'utf8')) as Record<string, unknown>;
  await fs.writeFile(path.join(s.configs, 'reach.json'), JSON.stringify({ ...config, LevelLimit: 5 }, null, 2));
  await s.run(['keys', 'gen', '--n', String(N), ...keysFlags(s)]);
  const node = (k: number) => `${s.prefix}${k}`;
  const twin = `${node(3)}-twin`;
  const logs = path.join(s.root, 'logs');
  const r = await s.run([
    'up',
    '--binary',
    FAKE,
    '--config',
    'reach',
    ...upFlags(s, logs),
    '--timeout',
    '180',
    '--faults',
    'twin:3',
  ]);
  // The halves, as planned: node3 with node1, node2, node4; its twin with node5–node7.
  const ownHalf = [1, 2, 4];
  const twinHalf = [5, 6, 7];
  assert.match(
    r.out,
    new RegExp(
      `^deploy: fault planned: twin:3,groups=1-2,4\\|5-7  ${node(3)} runs as two instances with one key from the start: ${node(3)} reached by ${ownHalf.map(node).join(', ')}; ${twin} by ${twinHalf.map(node).join(', ')}$`,
      'm',
    ),
  );
  assert.match(r.out, new RegExp(`^deploy: ${N + 1} nodes on ${s.network} from .*: created ${N + 1}$`, 'm'));

  // Both services: each its own hostname (a hostname is a DNS alias: node3 resolved to the twin on the
  // lab), and each its own secret holding the one key (a secret is named
  // <service>.<network hash>.<committee>.<key hash>, src/core/deploy/plan.ts), and both ran to their end.
  const services = (await engine.listServices({ [LABELS.deployment]: s.network })).map(
    (x) => x.Spec as unknown as ServiceSpec,
  );
  const spec = (name: string) => services.find((x) => x.Name === name)?.TaskTemplate.ContainerSpec;
  const own = spec(node(3));
  const second = spec(twin);
  assert.ok(own && second, `services ${services.map((x) => x.Name).join(' ')}`);
  assert.equal(own.Hostname, node(3));
  assert.equal(second.Hostname, twin);
  const keySecret = (c: ServiceSpec['TaskTemplate']['ContainerSpec']) =>
    c.Secrets.find((x) => x.File.Name === KEY_SECRET_FILE)?.SecretName ?? '';
  assert.notEqual(keySecret(second), keySecret(own), 'a secret of its own');
  const keyPart = (name: string) => name.split('.').slice(1).join('.');
  assert.equal(keyPart(keySecret(second)), keyPart(keySecret(own)), 'one network, committee and key hash');
  assert.match(keySecret(second), new RegExp(`^${twin}\\.`));
  const status = JSON.parse((await s.run(['deploy', 'status', '--network', s.network, '--json'])).out) as {
    node: string;
    state: string;
    exitCode?: number;
  }[];
  for (const name of [node(3), twin])
    assert.deepEqual(
      status.filter((x) => x.node === name).map((x) => [x.state, x.exitCode]),
      [['complete', 0]],
      `${name} ran to its end`,
    );

  // Both instances' files came home, each in its folder; each ran gomel's place as pid 2 (2.reach.log).
  for (const name of [node(3), twin]) {
    const files = await fs.readdir(path.join(logs, name));
    for (const file of ['2.reach.log', 'reach.txt', 'faults.log', 'started_at', 'exit_status'])
      assert.ok(files.includes(file), `${name}/ holds ${file}: ${files.join(' ')}`);
  }
  const faultsLog = (name: string) => fs.readFile(path.join(logs, name, 'faults.log'), 'utf8');
  assert.match(await faultsLog(node(3)), new RegExp(`^[\\d.]+ 0 twin drop ${twinHalf.map(node).join(' ')} ok$`, 'm'));
  assert.match(await faultsLog(twin), new RegExp(`^[\\d.]+ 0 twin drop ${ownHalf.map(node).join(' ')} ok$`, 'm'));
  assert.match(await faultsLog(node(1)), new RegExp(`^[\\d.]+ 0 twin drop ${twin} ok$`, 'm'));
  assert.match(await faultsLog(node(5)), new RegExp(`^[\\d.]+ 0 twin alias ${node(3)} ${twin} ok$`, 'm'));

  // Who reached whom: every correct node reached every other; by the name node3, node3's half reached
  // node3 and the twin's half the twin; each instance reached its own half only.
  const answered = (from: number | 'twin', to: number): string => {
    if (to === 3) return from !== 'twin' && twinHalf.includes(from) ? twin : node(3);
    if (from === 3) return ownHalf.includes(to) ? node(to) : 'none';
    if (from === 'twin') return twinHalf.includes(to) ? node(to) : 'none';
    return node(to);
  };
  const instances: [string, number | 'twin'][] = [
    ...Array.from({ length: N }, (_, i): [string, number] => [node(i + 1), i + 1]),
    [twin, 'twin'],
  ];
  for (const [name, from] of instances) {
    const self = from === 'twin' ? 3 : from;
    const peers = Array.from({ length: N }, (_, i) => i + 1).filter((k) => k !== self);
    assert.equal(
      await fs.readFile(path.join(logs, name, 'reach.txt'), 'utf8'),
      [
        `hostname ${from === 'twin' ? twin : node(self)}`,
        ...peers.map((k) => `peer ${node(k)} ${answered(from, k)}`),
      ].join('\n') + '\n',
      `${name}: who answered`,
    );
  }

  // The verdict: the two instances are one liar, the six correct nodes agree.
  assert.match(
    r.out,
    new RegExp(
      `^safety held: no two nodes that did not lie ordered different units \\(by creator:height\\); liveness: consensus reached by all ${N - 1} correct nodes \\(2 units in the same order\\); ${node(3)} Byzantine \\(equivocated as ${node(3)} and ${twin}, one key\\); f = 2 tolerated$`,
      'm',
    ),
  );
  assert.match(
    r.out,
    new RegExp(
      `^byzantine: ${node(3)} lied: it equivocated — two instances with its one key \\(${node(3)} reached by ${ownHalf.map(node).join(', ')}; ${twin} by ${twinHalf.map(node).join(', ')}\\), and both created units as pid 2 \\(1 and 1\\)$`,
      'm',
    ),
  );
  assert.match(
    r.out,
    new RegExp(`^${node(3)}: BYZANTINE — level 5/5, .*equivocated as ${node(3)} and ${twin}, one key`, 'm'),
  );
  assert.match(r.out, new RegExp(`^${twin}: the twin of ${node(3)} — level 5/5, created 1 units, ordered 2$`, 'm'));
  assert.match(
    r.out,
    new RegExp(
      `^byzantine: no correct node ordered two versions of a ${node(3)} unit, and none logged an error about a fork: the correct nodes' logs show no sign that ${node(3)} forked$`,
      'm',
    ),
  );
});
