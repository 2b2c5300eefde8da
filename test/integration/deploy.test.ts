import { LABELS } from '../../src/core/labels.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deriveNode } from '../../src/core/keys/derive.js';
import { formatPrivateKey } from '../../src/core/keys/committee.js';
import { snapshot } from '../helpers.js';
import {
  engine,
  keysFlags,
  projectFlags,
  sandbox,
  waitForNoContainers,
  waitUntilFinished,
  type Sandbox,
} from './helpers.js';

const spawnFlags = (s: Sandbox) => ['--image', s.tag, '--network', s.network, ...projectFlags(s), '--timeout', '120'];

/** Probe verdict over the logs `deploy logs` collected. */
async function collectAndJudge(s: Sandbox, expectCode: number) {
  const logs = path.join(s.root, `logs-${Date.now()}`);
  await s.run(['deploy', 'logs', '--network', s.network, '--out', logs]);
  const r = await s.run(['verdict', '--logs', logs, '--keys', s.keys, '--configs', s.configs, '--json'], expectCode);
  return JSON.parse(r.out) as {
    all: boolean;
    nodes: { label: string; ok: boolean; reached: number; reasons: string[] }[];
  };
}

test('spawn 4 probe nodes, resize to 7, re-spawn changes nothing, clean leaves nothing', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  await s.run(['config', 'sync', ...projectFlags(s)]);
  await s.run(['image', 'rebuild', '--tag', s.tag, ...projectFlags(s)]);
  const noNetwork = await s.run(['deploy', 'spawn', ...spawnFlags(s)], 1);
  assert.match(
    noNetwork.err,
    new RegExp(`^gomelctl: deploy: no network ${s.network}; run \`gomelctl cluster init --network ${s.network}\`$`),
  );
  await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);

  const first = await s.run(['deploy', 'spawn', ...spawnFlags(s)]);
  assert.match(first.out, /4 nodes on .*@sha256:[0-9a-f]{64}: created 4/);
  const done4 = await waitUntilFinished(s, 4);
  assert.deepEqual(
    done4.map((x) => [x.node, x.state, x.exitCode]),
    [1, 2, 3, 4].map((k) => [`${s.prefix}${k}`, 'complete', 0]),
  );
  const v4 = await collectAndJudge(s, 0);
  assert.equal(v4.all, true);
  assert.ok(
    v4.nodes.every((n) => n.reached === 4 * 3),
    JSON.stringify(v4.nodes),
  );

  const again = await s.run(['deploy', 'spawn', ...spawnFlags(s)]);
  assert.match(again.out, /: kept 4$/m);

  const before = await snapshot(s.keys);
  await s.run(['keys', 'gen', '--n', '7', ...keysFlags(s)]);
  const after = await snapshot(s.keys);
  for (let pid = 0; pid < 4; pid++)
    assert.equal(after[`${pid}.pk`], before[`${pid}.pk`], `node${pid + 1} keeps its key`);
  await s.run(['config', 'sync', ...projectFlags(s)]);
  const stale = await s.run(['deploy', 'spawn', ...spawnFlags(s)], 1);
  assert.match(stale.err, /was built for another committee .* run `gomelctl image rebuild` first/);
  await s.run(['image', 'rebuild', '--tag', s.tag, ...projectFlags(s)]);
  const resized = await s.run(['deploy', 'spawn', ...spawnFlags(s)]);
  assert.match(resized.out, /7 nodes on .*: created 3; replaced 4 \(\S*1, \S*2, \S*3 and 1 more\)/);
  const done7 = await waitUntilFinished(s, 7);
  assert.equal(done7.length, 7);
  const v7 = await collectAndJudge(s, 0);
  assert.equal(v7.nodes.length, 7);
  assert.ok(
    v7.nodes.every((n) => n.ok && n.reached === 7 * 3),
    JSON.stringify(v7.nodes),
  );
  // Secrets of the 4-node committee are gone: one key secret per node of the 7, and the deployment's control token.
  const secrets = await engine.listSecrets({ [LABELS.deployment]: s.network });
  assert.equal(secrets.filter((x) => x.Spec?.Labels?.[LABELS.node]).length, 7);
  assert.equal(secrets.length, 8);

  const status = await s.run(['deploy', 'status', '--network', s.network]);
  assert.equal(status.out.split('\n').length, 7);
  assert.match(status.out, new RegExp(`^${s.prefix}1\\t\\w+\\tcomplete exit 0\\t`, 'm'));

  const clean = await s.run(['deploy', 'clean', '--network', s.network]);
  assert.match(clean.out, /removed 7 service\(s\) and 8 secret\(s\)/);
  const labels = { [LABELS.managed]: 'true', [LABELS.deployment]: s.network };
  assert.deepEqual(await engine.listServices(labels), []);
  assert.deepEqual(await engine.listSecrets(labels), []);
  assert.equal(await waitForNoContainers(s.network), 0, 'no task container left');
  assert.match(
    (await s.run(['deploy', 'clean', '--network', s.network])).out,
    /removed 0 service\(s\) and 0 secret\(s\)/,
  );
});

test('a node whose secret holds a wrong key is reported failed with its reason', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  // pid 1's file gets a valid key of another committee: the format is right, the key is not this committee's.
  const stranger = deriveNode(new Uint8Array(32).fill(7), 1);
  await fs.writeFile(path.join(s.keys, '1.pk'), formatPrivateKey(stranger.privateKey));
  await s.run(['keys', 'verify', '--dir', s.keys], 1);
  await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);
  await s.run(['image', 'rebuild', '--tag', s.tag, ...projectFlags(s)]);
  // No settle watch: the probe takes about as long as the watch to fail, and this test is about the verdict.
  await s.run(['deploy', 'spawn', ...spawnFlags(s), '--settle', '0']);
  const done = await waitUntilFinished(s, 4);
  assert.deepEqual(
    done.map((x) => x.state),
    ['complete', 'failed', 'complete', 'complete'],
  );
  assert.equal(done[1]!.exitCode, 1);
  const v = await collectAndJudge(s, 1);
  assert.deepEqual(
    v.nodes.map((n) => n.ok),
    [true, false, true, true],
  );
  assert.match(v.nodes[1]!.reasons.join('; '), /key mismatch: the private key does not match committee line 2/);
});
