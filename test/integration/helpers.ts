// Integration tests run against the real local engine and registry (docker/setup.sh).
// Everything they create is named with a unique id and removed afterwards.
import { LABELS } from '../../src/core/labels.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Engine } from '../../src/docker/engine.js';
import { cli, REPO, tempDir } from '../helpers.js';
import { readTar } from '../../src/docker/build-context.js';
import { deleteTag, parseImageRef } from '../../src/docker/registry.js';

export const engine = new Engine();
export const REGISTRY = '127.0.0.1:5000';

export interface Sandbox {
  id: string;
  root: string;
  keys: string;
  configs: string;
  prefix: string;
  network: string;
  subnet: string;
  tag: string;
  /** Runs gomelctl with this sandbox's folders; fails the test on an unexpected exit code. */
  run: (args: string[], expectCode?: number) => Promise<{ code: number; out: string; err: string }>;
}

export async function sandbox(t: Parameters<typeof tempDir>[0]): Promise<Sandbox> {
  const id = randomBytes(4).toString('hex');
  const root = await tempDir(t);
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
  const bytes = randomBytes(2);
  const s: Sandbox = {
    id,
    root,
    keys: path.join(root, 'keys'),
    configs,
    prefix: `t${id}n`,
    network: `gt${id}`,
    subnet: `10.${200 + (bytes[0]! % 50)}.${bytes[1]}.0/24`,
    tag: `${REGISTRY}/gomelctl-it-${id}:t`,
    run: async (args, expectCode = 0) => {
      const began = Date.now();
      const r = await cli(args);
      if (process.env.GOMELCTL_TEST_TRACE)
        process.stderr.write(`trace ${((Date.now() - began) / 1000).toFixed(1)}s ${args.slice(0, 2).join(' ')}\n`);
      if (r.code !== expectCode)
        throw new Error(`gomelctl ${args.join(' ')} exited ${r.code}, expected ${expectCode}:\n${r.out}\n${r.err}`);
      return r;
    },
  };
  t.after(() => cleanup(s));
  return s;
}

async function cleanup(s: Sandbox): Promise<void> {
  await cli(['deploy', 'clean', '--network', s.network]);
  await waitForNoContainers(s.network);
  await engine.removeNetwork(s.network);
  // The local image is left to scripts/tier-integration.sh, which removes every `gomelctl-it-*` image once no
  // file builds: removing it here pruned its untagged parents, the build cache of the steps every test's
  // image shares (FROM, WORKDIR, the payload, run.sh), under another file's build that had just taken one
  // of them as its parent ("failed to export image: failed to set parent …: unknown parent image ID").
  const ref = parseImageRef(s.tag);
  await deleteTag(REGISTRY, ref.repository, ref.tag);
}

/** Containers of a removed service linger a moment; wait until none of the deployment is left. */
export async function waitForNoContainers(network: string, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await engine.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.deployment}=${network}`] },
    });
    if (left.length === 0 || Date.now() > deadline) return left.length;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export const keysFlags = (s: Sandbox) => ['--dir', s.keys, '--configs', s.configs, '--host-prefix', s.prefix];
export const projectFlags = (s: Sandbox) => ['--keys', s.keys, '--configs', s.configs];

/** `deploy spawn` of the sandbox's image on its network, with its project; the caller adds the rest. */
export const spawnArgs = (s: Sandbox) => [
  'deploy',
  'spawn',
  '--image',
  s.tag,
  '--network',
  s.network,
  ...projectFlags(s),
];

/** What `up` needs to run in the sandbox: its project, network, subnet, image tag (its own by default) and a logs folder. */
export const upFlags = (s: Sandbox, logs: string, tag = s.tag) => [
  ...projectFlags(s),
  '--network',
  s.network,
  '--subnet',
  s.subnet,
  '--tag',
  tag,
  '--logs',
  logs,
];

/** Polls `deploy status` until no node is pending or running. */
export async function waitUntilFinished(
  s: Sandbox,
  n: number,
  timeoutMs = 180_000,
): Promise<{ node: string; state: string; exitCode?: number; error?: string }[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = JSON.parse((await s.run(['deploy', 'status', '--network', s.network, '--json'])).out) as {
      node: string;
      state: string;
      phase: string;
      exitCode?: number;
    }[];
    if (
      (status.length === n && status.every((x) => x.phase === 'complete' || x.phase === 'failed')) ||
      Date.now() > deadline
    )
      return status;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The files of an image's filesystem, from `docker save` (the union of its layers). */
export async function imageFiles(ref: string): Promise<string[]> {
  const saved = await readTar(await engine.saveImage(ref));
  const files = new Set<string>();
  for (const entry of saved.filter((e) => e.name.endsWith('layer.tar'))) {
    for (const f of await readTar(entry.content)) files.add(f.name);
  }
  return [...files].sort();
}
