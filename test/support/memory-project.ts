// A committee of n nodes in a temp folder, and deploy spawn's options for it against the
// in-memory engine (test/support/memory-engine.ts): what the deploy, twin and run-record tests share.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DeploySpawnOptions } from '../../src/commands/deploy-spawn.js';
import { keysGen } from '../../src/commands/keys.js';
import { captureOutput } from '../../src/commands/output.js';
import { REPO, tempDir } from '../helpers.js';

export const IMAGE = `gomel@sha256:${'ab'.repeat(32)}`;

export async function memoryProject(t: Parameters<typeof tempDir>[0], n: number) {
  const root = await tempDir(t);
  const keys = path.join(root, 'keys');
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
  await keysGen({ n, dir: keys, hostPrefix: 'node', config: 'config', configs }, captureOutput());
  const options = (more: Partial<DeploySpawnOptions> = {}): DeploySpawnOptions => ({
    keys,
    configs,
    config: 'config',
    image: IMAGE,
    registry: '127.0.0.1:5000',
    network: 'net',
    constraint: [],
    capAdd: [],
    netImpl: 'auto',
    parallel: 8,
    timeout: 5,
    settle: 0,
    ...more,
  });
  return { root, keys, configs, options };
}
