// run.json (issue 32): the run's record, written once by deploy logs from the services' label,
// and the one thing the verdict and the report judge planned faults by; an older logs folder,
// with faults.json and no run.json, still reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { deploySpawn } from '../src/commands/deploy-spawn.js';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { fault } from '../src/commands/fault.js';
import { captureOutput } from '../src/commands/output.js';
import { describeFaultPlan, faultyNodes, parseFaultPlan } from '../src/core/faults/plan.js';
import { LABELS } from '../src/core/labels.js';
import { parseRunRecord, type RunRecord } from '../src/core/deploy/run-plan.js';
import type { Engine } from '../src/docker/engine.js';
import { deploymentLabels } from '../src/docker/deployment.js';
import type { Verdict } from '../src/core/logs/verdict.js';
import { committeeFingerprint } from '../src/core/image/context.js';
import { MemoryEngine } from './support/memory-engine.js';
import { IMAGE, memoryProject } from './support/memory-project.js';
import { cli, copyLogs, readLines, tempDir, VECTORS, writeLines } from './helpers.js';

const HOSTS = Array.from({ length: 8 }, (_, i) => `node${i + 1}`);
const T0 = 1795000000;

test('deploy logs writes run.json once, from the services: version, image, committee, conditions, faults; an older faults.json goes', async (t) => {
  const { root, keys, configs, options } = await memoryProject(t, 4);
  const engine = new MemoryEngine(['net'], () => ({ state: 'complete', output: 'done\n' }));
  const spawn = options({ net: 'loss=1%', faults: 'crash:4@2s' });
  await deploySpawn(spawn, captureOutput(), engine);
  const logs = path.join(root, 'logs');
  const collect = () => deployLogs({ network: 'net', out: logs, keys, configs }, captureOutput(), engine);
  await collect();
  const record = JSON.parse(await fs.readFile(path.join(logs, 'run.json'), 'utf8')) as RunRecord;
  assert.equal(record.version, 1);
  assert.deepEqual(record.hosts, ['node1', 'node2', 'node3', 'node4']);
  assert.equal(record.image, IMAGE);
  assert.equal(record.config, 'config');
  assert.match(record.committee ?? '', /^[0-9a-f]{16}$/);
  assert.deepEqual(record.conditions, [{ nodes: [1, 2, 3, 4], summary: 'all peers: loss=1%' }]);
  assert.deepEqual(
    faultyNodes(record.faults!).faulty.map((x) => x.host),
    ['node4'],
  );
  // The same record every service carries: written once, read back as it is.
  assert.deepEqual(parseRunRecord(engine.live()[0]!.Spec.Labels[LABELS.run]!), record);
  // A faults.json an older gomelctl left in the folder would be read as this run's where run.json is missing: it goes.
  await fs.writeFile(path.join(logs, 'faults.json'), '{}');
  await collect();
  await assert.rejects(fs.access(path.join(logs, 'faults.json')));
  assert.ok(await fs.readFile(path.join(logs, 'run.json')));
});

test("deploy logs copies the config beside the logs (conf.json) only when it is the deployed one, by the run record's hash", async (t) => {
  const { root, keys, configs, options } = await memoryProject(t, 4);
  const engine = new MemoryEngine(['net'], () => ({ state: 'complete', output: 'done\n' }));
  await deploySpawn(options({}), captureOutput(), engine);
  const deployed = await fs.readFile(path.join(configs, 'config.json'));
  const record = parseRunRecord(engine.live()[0]!.Spec.Labels[LABELS.run]!)!;
  assert.equal(record.configSha256, createHash('sha256').update(deployed).digest('hex'));
  const logs = path.join(root, 'logs');
  await deployLogs({ network: 'net', out: logs, keys, configs }, captureOutput(), engine);
  assert.deepEqual(await fs.readFile(path.join(logs, 'conf.json')), deployed);
  // Another configs folder (the working folder's, a user's edit since): not copied, named, and the
  // conf.json of before is gone — the verdict then asks for --config rather than judge by the wrong one.
  const other = path.join(root, 'other');
  await fs.mkdir(other);
  const edited = JSON.parse(deployed.toString()) as { NParents: number };
  edited.NParents = 8;
  await fs.writeFile(path.join(other, 'config.json'), JSON.stringify(edited));
  const out = captureOutput();
  await deployLogs({ network: 'net', out: logs, keys, configs: other }, out, engine);
  await assert.rejects(fs.access(path.join(logs, 'conf.json')));
  assert.ok(
    out.warnings.includes(
      `deploy logs: ${path.join(other, 'config.json')} is not the config the nodes were deployed with; pass --config to the verdict`,
    ),
    out.warnings.join('\n'),
  );
});

test('fault adds what the nodes applied to the run record every service carries, keeping the rest of it', async (t) => {
  const keys = await tempDir(t);
  const token = 'c'.repeat(64);
  const { writeControlToken } = await import('../src/fs/control-token.js');
  const { controlSecretName } = await import('../src/core/deploy/plan.js');
  await writeControlToken(keys, 'net', token);
  const hosts = ['node1', 'node2', 'node3', 'node4'];
  const before: RunRecord = {
    version: 1,
    network: 'net',
    hosts,
    image: IMAGE,
    faults: parseFaultPlan('crash:4@9s', hosts),
  };
  const labels = new Map<string, Record<string, string>>();
  const services = hosts.map((h, i) => ({
    ID: `svc${i + 1}`,
    Spec: {
      Name: h,
      Labels: { [LABELS.hosts]: hosts.join(' '), [LABELS.run]: JSON.stringify(before) },
      TaskTemplate: {
        ContainerSpec: {
          Command: ['/gomel/run.sh', 'config'],
          Env: [`SLOT=${i + 1}`],
          Secrets: [{ SecretName: controlSecretName(token), File: { Name: 'gomel-control' } }],
        },
      },
    },
  }));
  const engine = {
    // An engine that ignores its label filter (hostile pass 7 BAD2): it lists this deployment's services and
    // another deployment's node3, same hosts, listed last; fault must not write its record onto that one.
    listServices: async () => [
      ...services.map((s) => ({ ...s, Spec: { ...s.Spec, Labels: { ...deploymentLabels('net'), ...s.Spec.Labels } } })),
      {
        ...services[2]!,
        ID: 'other9',
        Spec: { ...services[2]!.Spec, Labels: { ...deploymentLabels('other_net'), ...services[2]!.Spec.Labels } },
      },
    ],
    listTasks: async () =>
      services.map((s) => ({ ServiceID: s.ID, NodeID: 'h1', CreatedAt: '1', Status: { State: 'running' } })),
    listNodes: async () => [{ ID: 'h1', Description: { Hostname: 'vm' }, Status: { State: 'ready' } }],
    inspectImage: async () => ({}),
    runOnNetwork: async () => ({ exitCode: 0, output: `gomelctl-fault node2 ${T0 + 5} 5000 kill ok\n` }),
    setServiceLabels: async (id: string, more: Record<string, string>) => void labels.set(id, more),
  } as unknown as Engine;
  await fault('crash', '2', { network: 'net', keys }, captureOutput(), engine);
  assert.deepEqual(
    [...labels.keys()],
    ['svc1', 'svc2', 'svc3', 'svc4'],
    "every service carries the record, no other's",
  );
  const after = parseRunRecord(labels.get('svc1')![LABELS.run]!)!;
  assert.deepEqual({ ...after, faults: undefined }, { ...before, faults: undefined }, 'the rest of the record kept');
  assert.deepEqual(
    after.faults!.events.map((e) => [e.kind, e.nodes, e.atMs]),
    [
      ['crash', [2], 5000],
      ['crash', [4], 9000],
    ],
  );
});

/** swarm-8's real logs, every node started at T0, node7 and node8 killed at 3 s as their faults.log says. */
async function crashedRun(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await copyLogs(t, 'swarm-8');
  for (const h of HOSTS) await fs.writeFile(path.join(dir, h, 'started_at'), `${T0}.000000\n`);
  for (const h of ['node7', 'node8']) {
    const folder = path.join(dir, h);
    const log = (await fs.readdir(folder)).find((f) => f.endsWith('.log.gz'))!;
    const lines = await readLines(path.join(folder, log));
    await writeLines(
      path.join(folder, log),
      lines.slice(
        0,
        lines.findIndex((l) => Number(/"Q":(\d+)/.exec(l)?.[1] ?? -1) >= 4),
      ),
    );
    await fs.writeFile(path.join(folder, 'exit_status'), '137\n');
    await fs.writeFile(path.join(folder, 'faults.log'), `${T0 + 3.002} 3000 kill ok\n`);
  }
  return dir;
}

const runJson = (faults?: string) =>
  JSON.stringify({
    version: 1,
    network: 'aleph_net',
    hosts: HOSTS,
    ...(faults ? { faults: parseFaultPlan(faults, HOSTS) } : {}),
  });

test('the verdict judges faults.log by run.json: a crash it plans is tolerated; without it the lines count for nothing; run.json wins over an older faults.json', async (t) => {
  const dir = await crashedRun(t);
  await fs.writeFile(path.join(dir, 'run.json'), runJson('crash:7,8@3s'));
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /; node7, node8 crashed at 3 s as planned; f = 2 tolerated$/m);
  // A run.json without faults: the kill lines are no evidence, whatever an older faults.json beside it says.
  const plan = parseFaultPlan('crash:7,8@3s', HOSTS);
  await fs.writeFile(
    path.join(dir, 'faults.json'),
    JSON.stringify({ events: describeFaultPlan(plan), ...faultyNodes(plan), plan }),
  );
  await fs.writeFile(path.join(dir, 'run.json'), runJson());
  const v = await cli(['verdict', '--trust-logs', '--logs', dir, '--json']);
  assert.equal(v.code, 1, v.err);
  const verdict = JSON.parse(v.out) as Verdict;
  assert.deepEqual(verdict.faulty, []);
  assert.match(verdict.inconsistent[0]!.why, /the run has no fault record \(none in run\.json\)$/);
  // The folder of an older gomelctl: faults.json alone is its record.
  await fs.rm(path.join(dir, 'run.json'));
  assert.equal((await cli(['verdict', '--trust-logs', '--logs', dir])).code, 0);
});

test('a run.json that does not read is one line naming it and its field, exit 1 — another version too', async (t) => {
  const dir = await crashedRun(t);
  await fs.writeFile(path.join(dir, 'run.json'), JSON.stringify({ ...JSON.parse(runJson()), version: 2 }));
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 1);
  assert.match(r.err, /run\.json:version: is not 1: another gomelctl wrote it \(this one reads version 1\)/);
  assert.equal(r.err.trim().split('\n').length, 1, r.err);
  await fs.writeFile(path.join(dir, 'run.json'), JSON.stringify({ ...JSON.parse(runJson()), hosts: 'node1' }));
  const hosts = await cli(['report', '--trust-logs', '--logs', dir]);
  assert.equal(hosts.code, 1);
  assert.match(hosts.err, /run\.json:hosts: /);
});

test('a run.json whose fault events name a node outside the committee or a time before the start is one line, exit 1 (it was exit 70)', async (t) => {
  const dir = await crashedRun(t);
  const forged = (edit: (e: Record<string, unknown>) => void) => {
    const record = JSON.parse(runJson('crash:7,8@3s')) as { faults: { events: Record<string, unknown>[] } };
    edit(record.faults.events[0]!);
    return fs.writeFile(path.join(dir, 'run.json'), JSON.stringify(record));
  };
  for (const [edit, message, command] of [
    [
      (e: Record<string, unknown>) => (e.nodes = [99]),
      /run\.json:faults\.events\[0\]\.nodes\[0\]: node 99 is not in the 8-node committee/,
      'verdict',
    ],
    [(e: Record<string, unknown>) => (e.nodes = [0]), /node 0 is not in the 8-node committee/, 'report'],
    [
      (e: Record<string, unknown>) => (e.atMs = -5),
      /run\.json:faults\.events\[0\]\.atMs: -5 ms, before the common start/,
      'verdict',
    ],
  ] as const) {
    await forged(edit);
    const r = await cli([command, '--logs', dir]);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, message);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
});

test('issue 30: a run.json of another committee is refused in one line naming both: the fingerprints, the node counts, the first host that differs', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  const committee = path.join(dir, 'committee.ka');
  const fingerprint = committeeFingerprint(new Uint8Array(await fs.readFile(committee)));
  const write = (fields: object) =>
    fs.writeFile(
      path.join(dir, 'run.json'),
      JSON.stringify({ version: 1, network: 'aleph_net', hosts: HOSTS, committee: fingerprint, ...fields }),
    );
  await write({});
  assert.equal((await cli(['verdict', '--trust-logs', '--logs', dir])).code, 0, 'its own committee');
  const refused = async (fields: object, problem: string) => {
    await write(fields);
    for (const command of ['verdict', 'report']) {
      const r = await cli([command, '--logs', dir]);
      assert.equal(r.code, 1, `${command}: ${r.err}`);
      assert.equal(r.out, '');
      assert.equal(
        r.err,
        `gomelctl: ${path.join(dir, 'run.json')}:${problem} — pass --keys with the committee the run used, or judge each run from its own folder (\`gomelctl deploy logs --out\` a new one)`,
      );
    }
  };
  await refused(
    { committee: '0123456789abcdef' },
    `committee: the run's committee is 0123456789abcdef (8 nodes), but ${committee} is committee ${fingerprint} (8 nodes)`,
  );
  await refused({ committee: undefined, hosts: HOSTS.slice(0, 4) }, `hosts: names 4 nodes, but ${committee} has 8`);
  await refused(
    { committee: undefined, hosts: [...HOSTS.slice(0, 7), 'node9'] },
    `hosts[7]: is "node9", but line 8 of ${committee} is host "node8"`,
  );
});

test('the report shows the faults run.json plans', async (t) => {
  const dir = await crashedRun(t);
  await fs.writeFile(path.join(dir, 'run.json'), runJson('crash:7,8@3s'));
  const r = await cli(['report', '--trust-logs', '--logs', dir, '--json']);
  assert.equal(r.code, 0, r.err);
  const [run] = JSON.parse(r.out) as { faults?: { events: string[]; faulty: { label: string }[] } }[];
  assert.deepEqual(run!.faults!.events, describeFaultPlan(parseFaultPlan('crash:7,8@3s', HOSTS)));
  assert.deepEqual(
    run!.faults!.faulty.map((x) => x.label),
    ['node7', 'node8'],
  );
});

test("--config is held to the hash run.json records of the deployed config: another one's LevelLimit is refused, exit 2 (hostile pass 13)", async (t) => {
  const dir = await copyLogs(t, 'twin8', path.join(path.dirname(VECTORS), 'real-runs'));
  const deployed = await fs.readFile(path.join(dir, 'conf.json'));
  const record = JSON.parse(await fs.readFile(path.join(dir, 'run.json'), 'utf8')) as Record<string, unknown>;
  record.configSha256 = createHash('sha256').update(deployed).digest('hex');
  await fs.writeFile(path.join(dir, 'run.json'), JSON.stringify(record));
  // As deploy logs leaves a run whose config it could not copy: judged by --config.
  await fs.rm(path.join(dir, 'conf.json'));
  const scratch = await tempDir(t);
  const same = path.join(scratch, 'same.json');
  await fs.writeFile(same, deployed);
  const lower = path.join(scratch, 'lower.json');
  await fs.writeFile(lower, JSON.stringify({ ...JSON.parse(deployed.toString()), LevelLimit: 18 }));
  const refused = await cli(['verdict', '--trust-logs', '--logs', dir, '--config', lower]);
  assert.equal(refused.code, 2, refused.err);
  assert.match(
    refused.err,
    /--config .*lower\.json: not the config the run was deployed with \(its run\.json records sha256 [0-9a-f]{12}…, this file's is [0-9a-f]{12}…\)/,
  );
  assert.equal(refused.out, '');
  const judged = await cli(['verdict', '--trust-logs', '--logs', dir, '--config', same]);
  assert.equal(judged.code, 0, judged.err);
});
