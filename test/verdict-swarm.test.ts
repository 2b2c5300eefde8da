// Nodes the swarm stopped (issue 36): a host the dispatcher declared down (missed heartbeats
// under load) registers again, and the orchestrator has shut its tasks down (exit 143). Read
// from what the engine recorded in a real such run (test/fixtures/engine/swarm-shutdown-64.json,
// its provenance inside) and judged as faulty "stopped by the swarm", never as gomel's failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { cli, copyLogs, readLines, REPO, writeLines } from './helpers.js';
import { viewTask } from '../src/core/deploy/plan.js';
import { declaredDownAt, parseHostStateChanges } from '../src/core/deploy/host-events.js';
import { stoppedBySwarm } from '../src/core/logs/shutdown.js';
import type { Verdict } from '../src/core/logs/verdict.js';

interface Recorded {
  tasks: { ServiceID: string; NodeID: string; Status: { Timestamp: string } }[];
  nodes: { ID: string; Description: { Hostname: string } }[];
  events: unknown[];
}
const RECORDED = JSON.parse(
  readFileSync(path.join(REPO, 'test/fixtures/engine/swarm-shutdown-64.json'), 'utf8'),
) as Recorded;
const hostOf = (nodeId: string) => RECORDED.nodes.find((n) => n.ID === nodeId)!.Description.Hostname;

/** What deploy logs writes as task.json for a recorded task (collectNode), with the host's down time. */
function taskJson(task: Recorded['tasks'][number]) {
  const v = viewTask([task as never]);
  const changes = parseHostStateChanges(RECORDED.events.map((e) => JSON.stringify(e)).join('\n'));
  const host = hostOf(task.NodeID);
  return {
    state: v.state,
    desiredState: v.desiredState,
    exitCode: v.exitCode,
    swarmNode: host,
    hostDeclaredDownAt: declaredDownAt(changes, host, Date.parse(v.since!) / 1000),
    since: v.since,
  };
}

/** swarm-8 with node7 and node8 stopped mid-run (logs cut to a third, exit 143) and their task.json as `task` says. */
async function stoppedMidRun(t: Parameters<typeof copyLogs>[0], task: (node: string) => object): Promise<string> {
  const dir = await copyLogs(t, 'swarm-8');
  const started = Date.parse(RECORDED.tasks[0]!.Status.Timestamp) / 1000 - 60;
  for (let k = 1; k <= 8; k++) await fs.writeFile(path.join(dir, `node${k}`, 'started_at'), `${started}\n`);
  for (const node of ['node7', 'node8']) {
    const folder = path.join(dir, node);
    const log = (await fs.readdir(folder)).find((f) => f.endsWith('.log.gz'))!;
    const lines = await readLines(path.join(folder, log));
    await writeLines(path.join(folder, log), lines.slice(0, Math.floor(lines.length / 3)));
    await fs.writeFile(path.join(folder, 'exit_status'), '143\n');
    await fs.writeFile(path.join(folder, 'stderr.txt'), '');
    await fs.writeFile(path.join(folder, 'task.json'), JSON.stringify(task(node)));
  }
  return dir;
}

/** The verdict of a stoppedMidRun folder: exit 0, node7 and node8 stopped by the swarm with their host's down. */
async function toleratedSwarmStop(dir: string): Promise<{ out: string }> {
  const host = hostOf(RECORDED.tasks[1]!.NodeID);
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 0, r.out + r.err);
  const named = `; node7, node8 stopped by the swarm: host ${host} declared down \\(missed heartbeats\\) at [\\d.]+ s; f = 2 tolerated$`;
  assert.match(r.out, new RegExp(named, 'm'));
  return r;
}

test('the engine records a swarm shutdown as a task in state "shutdown", desired "shutdown", exit 143, and the host down a moment before', () => {
  for (const task of RECORDED.tasks) {
    const v = viewTask([task as never]);
    assert.deepEqual([v.state, v.desiredState, v.exitCode, v.phase], ['shutdown', 'shutdown', 143, 'failed']);
    assert.ok(stoppedBySwarm(v));
    const t = taskJson(task);
    const shutAt = Date.parse(t.since!) / 1000;
    assert.ok(t.hostDeclaredDownAt !== undefined, `a down event of ${t.swarmNode} before ${t.since}`);
    assert.ok(shutAt - t.hostDeclaredDownAt! < 30, `down ${shutAt - t.hostDeclaredDownAt!} s before the shutdown`);
  }
  // A task that ended by itself is "complete" (or "failed") before Swarm marks it shutdown: not the swarm's doing.
  assert.equal(stoppedBySwarm({ state: 'complete', desiredState: 'shutdown' }), false);
  assert.equal(stoppedBySwarm({ state: 'failed', desiredState: 'shutdown', exitCode: 143 }), false);
  // Ended "failed" by the SIGTERM of the swarm's shutdown (the agent's race): the swarm's only where its host was declared down.
  assert.equal(stoppedBySwarm({ state: 'failed', desiredState: 'shutdown', exitCode: 143 }, true), true);
  assert.equal(stoppedBySwarm({ state: 'failed', desiredState: 'shutdown', exitCode: 1 }, true), false);
  assert.equal(stoppedBySwarm({ state: 'complete', desiredState: 'shutdown', exitCode: 0 }, true), false);
  assert.equal(stoppedBySwarm({ state: 'running', desiredState: 'running' }), false);
});

test('nodes the swarm stopped are faulty, named with the host and when it was declared down, never "killed"; with at most f the run is tolerated', async (t) => {
  // node7 and node8 ran on the host the recorded task ran on, and were stopped mid-run (their logs end early).
  const dir = await stoppedMidRun(t, () => taskJson(RECORDED.tasks[1]!));
  const r = await toleratedSwarmStop(dir);
  assert.match(
    r.out,
    /^consensus reached by all 6 correct nodes \(344 units in the same order\); node7, node8 stopped/m,
  );
  assert.match(
    r.out,
    /^shutdown: clean on 5 of 8; .*2 were stopped by the swarm \(node7, node8: stopped by the swarm on host/m,
  );
  assert.doesNotMatch(r.out, /killed/);
  const json = JSON.parse((await cli(['verdict', '--trust-logs', '--logs', dir, '--json'])).out) as Verdict;
  assert.equal(json.nodes[6]!.shutdown.kind, 'swarm-stopped');
});

test("a node of a host declared down whose task ended \"failed\" on the swarm's SIGTERM (the agent's race) is stopped by the swarm too; without the host's down on record it is not", async (t) => {
  const raced = { ...taskJson(RECORDED.tasks[1]!), state: 'failed' };
  const dir = await stoppedMidRun(t, (node) => (node === 'node7' ? { ...raced, state: 'shutdown' } : raced));
  await toleratedSwarmStop(dir);
  // The same "failed" task with no record of its host's down: a node the verdict cannot call the swarm's.
  const { hostDeclaredDownAt: _, ...unrecorded } = raced;
  await fs.writeFile(path.join(dir, 'node8', 'task.json'), JSON.stringify(unrecorded));
  const without = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(without.code, 1, without.out);
  assert.doesNotMatch(without.out, /node8[^;]*stopped by the swarm/);
});
