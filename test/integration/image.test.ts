import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers.js';
import { imageRebuild } from '../../src/commands/image.js';
import { captureOutput } from '../../src/commands/output.js';
import { parseImageRef, tagDigest } from '../../src/docker/registry.js';
import { engine, imageFiles, keysFlags, REGISTRY, sandbox } from './helpers.js';

test('image rebuild: probe image built and pushed, digest served by the registry, no private key inside', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const r = await s.run(['image', 'rebuild', '--tag', s.tag, '--keys', s.keys, '--configs', s.configs]);
  const digest = /sha256:[0-9a-f]{64}/.exec(r.out)?.[0];
  assert.ok(digest, r.out);
  const ref = parseImageRef(s.tag);
  const tags = (await (await fetch(`http://${REGISTRY}/v2/${ref.repository}/tags/list`)).json()) as { tags: string[] };
  assert.deepEqual(tags.tags, ['t']);
  assert.equal(await tagDigest(REGISTRY, ref.repository, 't'), digest);
  const files = await imageFiles(s.tag);
  assert.ok(files.includes('gomel/keys/committee.ka'), 'committee in the image');
  assert.ok(files.includes('gomel/run.sh') && files.includes('gomel/bin/answer.sh'));
  assert.deepEqual(
    files.filter((f) => f.endsWith('.pk') || f.endsWith('/seed')),
    [],
  );
  const labels = (await engine.inspectImage(s.tag))!.Config.Labels!;
  assert.equal(labels['org.gomelctl.baked-keys'], 'false');
  assert.match(labels['org.gomelctl.context']!, /^[0-9a-f]{64}$/);

  // Nothing changed: no build, no push, same digest.
  const again = await s.run(['image', 'rebuild', '--tag', s.tag, '--keys', s.keys, '--configs', s.configs]);
  assert.match(again.err, /is up to date/);
  assert.ok(again.out.includes(digest!));
});

test('image rebuild --bake-keys puts every <pid>.pk into the image, with a warning', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const r = await s.run(['image', 'rebuild', '--bake-keys', '--tag', s.tag, '--keys', s.keys, '--configs', s.configs]);
  assert.match(r.err, /--bake-keys puts EVERY node's private key into the image/);
  const files = await imageFiles(s.tag);
  assert.deepEqual(
    files.filter((f) => f.endsWith('.pk')),
    ['gomel/keys/0.pk', 'gomel/keys/1.pk', 'gomel/keys/2.pk', 'gomel/keys/3.pk'],
  );
});

test('after a resize, the rebuild reuses the payload layers and pushes only the committee layer', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const options = { keys: s.keys, configs: s.configs, registry: REGISTRY, tag: s.tag };
  const cold = await imageRebuild(options, captureOutput());
  assert.ok(cold.built);
  await s.run(['keys', 'gen', '--n', '6', ...keysFlags(s)]);
  const resized = await imageRebuild(options, captureOutput());
  assert.ok(resized.built);
  assert.notEqual(resized.digest, cold.digest);
  assert.notEqual(resized.committee, cold.committee);
  // Every step between FROM (which never says "Using cache") and `COPY keys/` comes from cache:
  // WORKDIR, ENTRYPOINT, CMD, payload, run.sh, configs.
  assert.equal(resized.build!.cachedSteps, 6, JSON.stringify(resized.build));
  assert.deepEqual(resized.push, { pushed: 1, existing: cold.push!.pushed + cold.push!.existing - 1 });
  assert.equal(cold.push!.pushed + cold.push!.existing, 6, 'base, WORKDIR, payload, run.sh, configs, committee');
});

test('a broken Dockerfile template, a missing payload and a stopped registry each give one clear line', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const templates = path.join(s.root, 'templates');
  await fs.cp(path.join(REPO, 'templates'), templates, { recursive: true });
  await fs.writeFile(
    path.join(templates, 'Dockerfile'),
    (await fs.readFile(path.join(templates, 'Dockerfile'), 'utf8')).replace(
      'COPY run.sh node-lib.sh faults.sh /gomel/',
      'RUN echo broken >&2 && exit 3',
    ),
  );
  const broken = await s.run(
    ['image', 'rebuild', '--templates', templates, '--tag', s.tag, '--keys', s.keys, '--configs', s.configs],
    1,
  );
  assert.match(
    broken.err,
    /gomelctl: image rebuild: build failed at Step \d+\/\d+: RUN echo broken >&2 && exit 3: The command .* returned a non-zero code: 3/,
  );

  const missing = await s.run(
    [
      'image',
      'rebuild',
      '--binary',
      path.join(s.root, 'no-gomel'),
      '--tag',
      s.tag,
      '--keys',
      s.keys,
      '--configs',
      s.configs,
    ],
    1,
  );
  assert.match(missing.err, /no-gomel: no such gomel binary/);

  const stopped = await s.run(
    ['image', 'rebuild', '--tag', '127.0.0.1:5999/gomelctl-it:t', '--keys', s.keys, '--configs', s.configs],
    1,
  );
  assert.match(
    stopped.err,
    /^gomelctl: registry not reachable at http:\/\/127\.0\.0\.1:5999\/v2\/ .*docker\/setup\.sh/,
  );
  assert.equal(stopped.err.split('\n').length, 1);
});

test('an engine that is not running gives one line naming it and how to start one', async (t) => {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = `unix://${path.join(s.root, 'no-engine.sock')}`;
  try {
    for (const args of [
      ['image', 'rebuild', '--tag', s.tag, '--keys', s.keys, '--configs', s.configs],
      ['deploy', 'status', '--network', s.network],
      ['cluster', 'init', '--network', s.network],
    ]) {
      const r = await s.run(args, 1);
      assert.match(
        r.err,
        /^gomelctl: Docker Engine not reachable at unix:\/\/.*no-engine\.sock \(ENOENT\).*start that engine, or unset DOCKER_HOST$/,
      );
    }
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  }
});
