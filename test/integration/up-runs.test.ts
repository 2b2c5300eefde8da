// Runs never mix, on the real engine: a node stopped by SIGTERM (gomel's own handling: it exits and
// the node ships what it logged), and an up after nodes that ignore SIGTERM waits until they are gone.
// A file of its own (it was up.test.ts's third case, 63 s of its 113): the integration files run side by
// side (scripts/tier-integration.sh), so the tier is as long as its longest file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO, until } from '../helpers.js';
import { engine, keysFlags, projectFlags, REGISTRY, sandbox, spawnArgs, upFlags } from './helpers.js';
import { deleteTag, parseImageRef } from '../../src/docker/registry.js';
import { readStatus } from '../../src/docker/deployment.js';

const FAKE = path.join(REPO, 'test/fixtures/fake-gomel.sh');

test('runs never mix: a SIGTERM reaches gomel and the node ships what it logged; an up after nodes that ignore SIGTERM waits until they are gone', async (t) => {
  const s = await sandbox(t);
  const config = await fs.readFile(path.join(s.configs, 'config.json'), 'utf8');
  await fs.writeFile(path.join(s.configs, 'long.json'), config);
  await fs.writeFile(path.join(s.configs, 'stubborn.json'), config);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);
  await s.run(['image', 'rebuild', '--binary', FAKE, '--tag', s.tag, ...projectFlags(s)]);

  // A node told to stop (as by `down` or a replacement) stops at once, with its logs: SIGTERM is passed on to gomel.
  await s.run([...spawnArgs(s), '--config', 'long']);
  const node2 = (await readStatus(engine, s.network)).find((x) => x.node === `${s.prefix}2`)!;
  // Once its gomel runs (run.sh writes started_at as it starts it), inside the stand-in's 30 s: a fixed
  // 3 s wait after a 10 s stand-in was once past its end under load (the task exited 0 before the SIGTERM).
  await until(
    async () => (await engine.containerArchive(node2.containerId!, '/extract/started_at')) !== undefined,
    () => `${node2.node}'s gomel never started`,
  );
  await engine.docker.getContainer(node2.containerId!).kill({ signal: 'SIGTERM' });
  const logs = path.join(s.root, 'stopped');
  for (let i = 0; i < 60; i++) {
    const status = (await readStatus(engine, s.network)).find((x) => x.node === node2.node)!;
    if (status.phase !== 'running') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await s.run(['deploy', 'logs', '--network', s.network, '--out', logs, ...projectFlags(s)]);
  const task = JSON.parse(await fs.readFile(path.join(logs, node2.node, 'task.json'), 'utf8')) as { exitCode: number };
  assert.equal(task.exitCode, 143, "run.sh exited with gomel's status after SIGTERM, not by SIGKILL (137)");
  assert.equal((await fs.readFile(path.join(logs, node2.node, 'exit_status'), 'utf8')).trim(), '143');
  assert.ok(await fs.stat(path.join(logs, node2.node, 'stopped')), 'the node recorded that it was stopped');
  assert.ok(await fs.stat(path.join(logs, node2.node, '1.long.log')), 'and kept what gomel logged');

  // Nodes that ignore SIGTERM and answer "stale" on every address stay alive ~10 s after their services go.
  await s.run([...spawnArgs(s), '--config', 'stubborn']);
  await new Promise((r) => setTimeout(r, 3000));
  // The probe checks that every address answers with its own node's pid: one stale answer fails it.
  const probeTag = parseImageRef(`${s.tag}p`);
  t.after(() => deleteTag(REGISTRY, probeTag.repository, probeTag.tag));
  const probe = await s.run(['up', ...upFlags(s, path.join(s.root, 'probe'), `${s.tag}p`), '--timeout', '180']);
  assert.match(probe.err, /deploy: waiting for 4 container\(s\) of the previous run to stop, so that runs never mix/);
  assert.match(probe.out, /^probe: all 4 nodes reached every peer$/m);
});
