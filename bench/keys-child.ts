// Runs one `keys gen` in a fresh process and reports its wall time and peak memory.
import { keysGen } from '../src/commands/keys.js';
import { captureOutput } from '../src/commands/output.js';

const [n, dir] = process.argv.slice(2) as [string, string];
const start = performance.now();
await keysGen({ n, dir, hostPrefix: 'node', config: 'config', configs: '/nonexistent', seed: '11'.repeat(32) }, captureOutput());
const ms = performance.now() - start;
process.stdout.write(JSON.stringify({ ms, maxRssKb: process.resourceUsage().maxRSS }));
