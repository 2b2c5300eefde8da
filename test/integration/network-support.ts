// What the network tests share (network.test.ts: rate, loss, netem; network-delay.test.ts: the
// userspace delayer's delay, jitter and asymmetric links): a committee of 4 stand-in nodes that measure
// (test/fixtures/net-measure.sh), deployed with the conditions asked, and readers of what they measured.
// Two files, not one: their cases ran one after another for 150 s, the integration tier's longest file.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers.js';
import { keysFlags, projectFlags, sandbox, spawnArgs, waitUntilFinished, type Sandbox } from './helpers.js';
const MEASURE = path.join(REPO, 'test/fixtures/net-measure.sh');

export async function measured(s: Sandbox, shaping: string[]): Promise<Record<string, string>> {
  await s.run([...spawnArgs(s), '--settle', '0', ...shaping]);
  await waitUntilFinished(s, 4);
  const logs = path.join(s.root, `logs-${Date.now()}`);
  await s.run(['deploy', 'logs', '--network', s.network, '--out', logs, ...projectFlags(s)]);
  const folder = path.join(logs, `${s.prefix}1`);
  const text = await fs.readFile(path.join(folder, 'measure.txt'), 'utf8').catch(async () => {
    // Say what the node did instead: its files, when it meant to start, and its output's end.
    const files = await fs.readdir(folder).catch(() => []);
    const plan = await fs.readFile(path.join(folder, 'start_plan'), 'utf8').catch(() => '(none)');
    const output = (await fs.readFile(path.join(logs, `${s.prefix}1.log`), 'utf8').catch(() => ''))
      .split('\n')
      .slice(-15)
      .join('\n');
    assert.fail(
      `${s.prefix}1 wrote no measure.txt; its files: ${files.join(' ')}; start_plan: ${plan.trim()}; its output ends:\n${output}`,
    );
  });
  assert.match(
    await fs.readFile(path.join(logs, `${s.prefix}1`, 'network.txt'), 'utf8'),
    new RegExp(`${s.prefix}1 -> `),
    'what was applied is recorded',
  );
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => [l.split(' ')[0]!, l]),
  );
}

export async function prepared(t: Parameters<typeof sandbox>[0]): Promise<Sandbox> {
  const s = await sandbox(t);
  await s.run(['keys', 'gen', '--n', '4', ...keysFlags(s)]);
  await s.run(['cluster', 'init', '--network', s.network, '--subnet', s.subnet]);
  await s.run(['image', 'rebuild', '--binary', MEASURE, '--tag', s.tag, ...projectFlags(s)]);
  return s;
}

/** The round trips of an "rtts…" line, in ms. */
export function roundTrips(m: Record<string, string>, key: 'rtts1' | 'rtts2', atLeast = 15): number[] {
  const values = (m[key] ?? '').split(/\s+/).slice(1).filter(Boolean).map(Number);
  assert.ok(values.length >= atLeast, `${key}: ${values.length} round trips in ${JSON.stringify(m)}`);
  return values;
}
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function delayerStats(s: Sandbox, logs: string, node: number): Promise<Record<string, string>> {
  const text = await fs.readFile(path.join(logs, `${s.prefix}${node}`, 'delayer.txt'), 'utf8');
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
}
