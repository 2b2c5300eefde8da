// Vectors: logs written by real gomel runs (test/vectors/gomel-2019-09/logs, see its README).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { cli, tempDir, VECTORS } from './helpers.js';
import { judgeProbes, parseProbeReport } from '../src/core/verdict.js';

const LOGS = path.join(VECTORS, 'logs');
const verdictOf = async (dir: string) => {
  const r = await cli(['verdict', '--logs', dir, '--json']);
  return { code: r.code, result: JSON.parse(r.out) as { all: boolean; summary: string; reachedBy: string[]; nodes: { label: string; reached: boolean; reasons: string[]; agrees: boolean; ordered: number }[]; divergences: { position: number; majority: { nodes: string[]; unit: string }; minority: { nodes: string[]; unit: string } }[] } };
};

async function copyLogs(t: Parameters<typeof tempDir>[0], name: string): Promise<string> {
  const dir = path.join(await tempDir(t), name);
  await fs.cp(path.join(LOGS, name), dir, { recursive: true });
  for (const f of await fs.readdir(dir)) await fs.chmod(path.join(dir, f), 0o644);
  return dir;
}

test('success-4: consensus by all 4 with identical orders, exit 0', async () => {
  const { code, result } = await verdictOf(path.join(LOGS, 'success-4'));
  assert.equal(code, 0);
  assert.equal(result.all, true);
  assert.equal(result.summary, 'consensus reached by all 4 nodes');
  assert.deepEqual(result.divergences, []);
  assert.ok(result.nodes.every((n) => n.reached && n.agrees && n.ordered >= 27));
});

test('one-bad-key-4: pid 0 failed (never reached a level, killed); 1–3 agree; exit 1', async () => {
  const { code, result } = await verdictOf(path.join(LOGS, 'one-bad-key-4'));
  assert.equal(code, 1);
  assert.equal(result.all, false);
  assert.deepEqual(result.reachedBy, ['pid 1', 'pid 2', 'pid 3']);
  const bad = result.nodes.find((n) => n.label === 'pid 0')!;
  assert.equal(bad.reached, false);
  assert.ok(bad.reasons.includes('never created a prime unit'));
  assert.ok(bad.reasons.some((r) => /did not stop by itself/.test(r)));
  assert.ok(bad.reasons.some((r) => /invalid signature/.test(r)));
  assert.ok(result.nodes.filter((n) => n.label !== 'pid 0').every((n) => n.agrees));
  assert.match(result.summary, /reached by 3 of 4 nodes .* not by pid 0/);
});

test('a changed ordered unit in one log shows the divergence at its position', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  const file = path.join(dir, '2.log.gz');
  const lines = gunzipSync(await fs.readFile(file)).toString().split('\n');
  const zIndexes = lines.map((l, i) => (l.includes('"E":"Z"') ? i : -1)).filter((i) => i >= 0);
  const target = zIndexes[5]!; // the 6th ordered unit
  const record = JSON.parse(lines[target]!) as { C: number; H: number };
  lines[target] = lines[target]!.replace(`"H":${record.H}`, `"H":${record.H + 7}`);
  await fs.writeFile(file, gzipSync(lines.join('\n')));
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  assert.equal(result.divergences.length, 1);
  const d = result.divergences[0]!;
  assert.equal(d.position, 6);
  assert.deepEqual(d.minority.nodes, ['pid 2']);
  assert.deepEqual(d.majority.nodes.sort(), ['pid 0', 'pid 1', 'pid 3']);
  assert.equal(d.minority.unit, `${record.C}:${record.H + 7}`);
  assert.equal(d.majority.unit, `${record.C}:${record.H}`);
  const text = await cli(['verdict', '--logs', dir]);
  assert.match(text.out, /divergence at ordered unit #6: .* pid 2 ordered/);
});

test('an empty log and a truncated gzip log are reported, not crashed on', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  await fs.writeFile(path.join(dir, '1.log.gz'), gzipSync(''));
  const full = await fs.readFile(path.join(dir, '3.log.gz'));
  await fs.writeFile(path.join(dir, '3.log.gz'), full.subarray(0, Math.floor(full.length / 2)));
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  const byLabel = new Map(result.nodes.map((n) => [n.label, n]));
  assert.ok(byLabel.get('pid 1')!.reasons.includes('empty log'));
  assert.ok(byLabel.get('pid 3')!.reasons.includes('log truncated (the gzip stream ends early)'));
  assert.ok(byLabel.get('pid 0')!.reached);
});

test('a plain log cut mid-line is reported as truncated', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  const text = gunzipSync(await fs.readFile(path.join(dir, '0.log.gz'))).toString();
  await fs.rm(path.join(dir, '0.log.gz'));
  await fs.writeFile(path.join(dir, '0.log'), text.slice(0, text.length - 30));
  const { result } = await verdictOf(dir);
  assert.match(result.nodes.find((n) => n.label === 'pid 0')!.reasons.join(';'), /malformed line/);
});

test("run.sh's exit status and stderr fail a node whose log looks fine", async (t) => {
  const root = await tempDir(t);
  for (let pid = 0; pid < 4; pid++) {
    await fs.mkdir(path.join(root, `node${pid + 1}`));
    await fs.copyFile(path.join(LOGS, 'success-4', `${pid}.log.gz`), path.join(root, `node${pid + 1}`, `${pid}.config.log.gz`));
    await fs.writeFile(path.join(root, `node${pid + 1}`, 'exit_status'), '0\n');
  }
  await fs.writeFile(path.join(root, 'node4', 'stderr.txt'), 'Wrong number of addresses. Needs 1, got 3\n');
  await fs.copyFile(path.join(LOGS, 'success-4', 'conf.json'), path.join(root, 'conf.json'));
  const { result } = await verdictOf(root);
  assert.deepEqual(result.reachedBy, ['node1', 'node2', 'node3']);
  assert.match(result.nodes[3]!.reasons.join(';'), /stderr: Wrong number of addresses/);
});

test('a folder with no node logs, or no folder, is a one-line error naming it', async (t) => {
  const empty = await tempDir(t);
  await fs.writeFile(path.join(empty, 'notes.txt'), 'not a log\n');
  const r = await cli(['verdict', '--logs', empty]);
  assert.equal(r.code, 1);
  assert.match(r.err, /holds no node logs .* collect them with `gomelctl deploy logs`/);
  const missing = await cli(['verdict', '--logs', path.join(empty, 'absent')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /absent: no such logs folder/);
});

test('probe reports: all ok, and a wrong key or an unreachable peer named', () => {
  const ok = parseProbeReport('pid 0\nkey ok\npeer 0 n1:9000 ok\npeer 1 n2:9000 ok\nresult ok\n');
  const badKey = parseProbeReport('pid 1\nkey mismatch: the private key does not match committee line 2\npeer 0 n1:9000 ok\npeer 1 n2:9000 ok\nresult fail\n');
  const lost = parseProbeReport('pid 2\nkey ok\npeer 0 n1:9000 ok\npeer 1 n2:9000 unreachable\nresult fail\n');
  const result = judgeProbes([{ label: 'n1', report: ok }, { label: 'n2', report: badKey }, { label: 'n3', report: lost }, { label: 'n4', report: undefined }], 4);
  assert.equal(result.all, false);
  assert.deepEqual(result.nodes.map((n) => n.ok), [true, false, false, false]);
  assert.match(result.nodes[1]!.reasons[0]!, /key mismatch/);
  assert.match(result.nodes[2]!.reasons[0]!, /1 address\(es\) not reached: n2:9000 unreachable/);
  assert.equal(result.nodes[3]!.reasons[0], 'no probe report');
  assert.equal(judgeProbes([{ label: 'n1', report: ok }], 1).all, true);
});
