// Loaded into every test process (package.json's tiers: node --test --import this): the logs folders
// tests collect are sealed with a key of the process's own (src/fs/seal.ts, GOMELCTL_SEAL_KEY), never
// with the user's ~/.gomelctl/seal.key, which a test must neither make nor read. Spawned gomelctl
// processes inherit it. Gone with the process.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const folder = mkdtempSync(path.join(os.tmpdir(), 'gomelctl-seal-key-'));
process.env.GOMELCTL_SEAL_KEY = path.join(folder, 'seal.key');
process.on('exit', () => rmSync(folder, { recursive: true, force: true }));
