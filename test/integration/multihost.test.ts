// Several hosts for real: docker/lab.sh starts 3 engines in network namespaces,
// joined as one swarm with a registry on host 1's address; gomelctl drives the
// manager (DOCKER_HOST) as a user with a real multi-host swarm would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { cli, REPO, tempDir } from '../helpers.js';

const run = promisify(execFile);
const LAB_SH = path.join(REPO, 'docker/lab.sh');
const FAKE = path.join(REPO, 'test/fixtures/fake-gomel.sh');

test("a committee spread over a 3-host swarm: every node's log reaches the manager, the probe crosses hosts, a dying worker's nodes are named", async (t) => {
  const lab = `gt${randomBytes(2).toString('hex')}`;
  const net = `172.31.${200 + (randomBytes(1)[0]! % 50)}`;
  const env = { ...process.env, GOMELCTL_LAB: lab, GOMELCTL_LAB_NET: net };
  const savedHost = process.env.DOCKER_HOST;
  t.after(async () => {
    if (savedHost === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = savedHost;
    await run('bash', [LAB_SH, 'down'], { env });
    // The lab leaves nothing behind.
    const { stdout: namespaces } = await run('ip', ['netns', 'list']);
    assert.doesNotMatch(namespaces, new RegExp(`^${lab}-`, 'm'), 'no namespace left');
    await assert.rejects(fs.access(`/run/gomelctl-lab-${lab}`), 'no run folder left');
    await assert.rejects(fs.access(`/var/lib/gomelctl-lab-${lab}`), 'no state folder left');
    const cgroups = await fs.readdir('/sys/fs/cgroup/memory').catch(() => [] as string[]);
    assert.ok(!cgroups.some((c) => c.startsWith(`${lab}-`)), 'no cgroup left');
    const { stdout: ps } = await run('ps', ['-eo', 'args']);
    assert.doesNotMatch(ps, new RegExp(`gomelctl-lab-${lab}/`), 'no engine left');
  });
  await run('bash', [LAB_SH, 'up', '3'], { env });
  process.env.DOCKER_HOST = `unix:///run/gomelctl-lab-${lab}/h1.sock`;
  const registry = `${net}.1:5000`;

  const root = await tempDir(t);
  const keys = path.join(root, 'keys');
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  const config = await fs.readFile(path.join(REPO, 'configs/config.json'), 'utf8');
  await fs.writeFile(path.join(configs, 'config.json'), config);
  await fs.writeFile(path.join(configs, 'long.json'), config);
  await fs.writeFile(path.join(configs, 'volume.json'), config);
  const flags = [
    '--keys',
    keys,
    '--configs',
    configs,
    '--registry',
    registry,
    '--network',
    'labnet',
    '--spread',
    '--timeout',
    '180',
  ];
  assert.equal((await cli(['keys', 'gen', '--n', '7', '--keys', keys, '--configs', configs])).code, 0);

  // A loopback registry cannot serve workers: refused with the fix, before anything is built.
  const loopback = await cli(['image', 'rebuild', '--keys', keys, '--configs', configs]);
  assert.equal(loopback.code, 2);
  assert.match(
    loopback.err,
    new RegExp(
      `--registry 127\\.0\\.0\\.1:5000: the swarm has 3 hosts, .* use --registry ${net.replace(/\./g, '\\.')}\\.1:5000 .*insecure-registries`,
    ),
  );

  const spawnLoopback = await cli([
    'deploy',
    'spawn',
    '--keys',
    keys,
    '--configs',
    configs,
    '--image',
    '127.0.0.1:5000/aleph:test',
    '--network',
    'labnet',
  ]);
  assert.equal(spawnLoopback.code, 2);
  assert.match(spawnLoopback.err, /--image 127\.0\.0\.1:5000: the swarm has 3 hosts/);

  // As much log as real gomel writes (6 MB a node, ~1.4 MB shipped), and odd pids die in the shutdown
  // race printing 2000 lines on stderr while their files ship: every byte must come home.
  const gomel = await cli(['up', '--binary', FAKE, '--config', 'volume', ...flags, '--logs', path.join(root, 'run1')]);
  assert.equal(gomel.code, 0, gomel.err);
  assert.match(gomel.out, /^consensus reached by all 7 nodes/m);
  const hosts = new Set([...gomel.out.matchAll(/; on ([^;\s]+)(;|$)/gm)].map((m) => m[1]));
  assert.deepEqual(
    [...hosts].sort(),
    [`${lab}-h1`, `${lab}-h2`, `${lab}-h3`],
    `spread over the 3 hosts:\n${gomel.out}`,
  );
  assert.match(gomel.out, /shipped at exit in /, "workers' nodes shipped their files through the service output");
  assert.doesNotMatch(gomel.err, /evidence incomplete/);
  for (let k = 1; k <= 7; k++) {
    const log = await fs.readFile(path.join(root, 'run1', `node${k}`, `${k - 1}.volume.log`));
    assert.ok(log.length > 5_000_000, `node${k}'s log is ${log.length} bytes`);
    const recorded = (await fs.readFile(path.join(root, 'run1', `node${k}`, 'log.sha256'), 'utf8')).trim();
    assert.equal(createHash('sha256').update(log).digest('hex'), recorded, `node${k}'s log arrived byte for byte`);
  }
  const shipped = await fs.readFile(path.join(root, 'run1', 'node2.log'), 'utf8');
  assert.match(shipped, /^goroutine 1999 \[chan send\]:$/m, "the panic printed on stderr stays in the node's output");
  assert.doesNotMatch(shipped, /gomelctl-ship/);

  const probe = await cli(['up', ...flags, '--logs', path.join(root, 'probe')]);
  assert.equal(probe.code, 0, probe.err);
  assert.match(probe.out, /^probe: all 7 nodes reached every peer$/m);

  /** `up` of the stand-in with `config` as its own process (the test drives the lab meanwhile). */
  const upRun = (config: string, logs: string) =>
    run(
      process.execPath,
      [path.join(REPO, 'bin/gomelctl'), 'up', '--binary', FAKE, '--config', config, ...flags, '--logs', logs],
      {
        env: { ...process.env },
      },
    ).then(
      (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );
  /** Once all 7 run: the nodes on each worker (h2, h3). */
  const placed = async (): Promise<Record<number, string[]>> => {
    for (let i = 0; i < 240; i++) {
      const status = await cli(['deploy', 'status', '--network', 'labnet', '--json']);
      const nodes =
        status.code === 0 ? (JSON.parse(status.out) as { node: string; state: string; swarmNode?: string }[]) : [];
      if (nodes.length === 7 && nodes.every((n) => n.state === 'running')) {
        const on = (k: number) => nodes.filter((n) => n.swarmNode === `${lab}-h${k}`).map((n) => n.node);
        return { 2: on(2), 3: on(3) };
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.fail('the 7 nodes never all ran');
  };
  /** Until every node on host k has started gomel (its started_at, read through that host's engine). */
  const started = async (k: number, count: number): Promise<void> => {
    const hostEngine = ['-H', `unix:///run/gomelctl-lab-${lab}/h${k}.sock`];
    for (let i = 0; ; i++) {
      const { stdout } = await run('docker', [
        ...hostEngine,
        'ps',
        '-q',
        '--filter',
        'label=org.gomelctl.deployment=labnet',
      ]);
      const ids = stdout.split('\n').filter(Boolean);
      const begun = await Promise.all(
        ids.map((id) =>
          run('docker', [...hostEngine, 'exec', id, 'test', '-s', '/extract/started_at']).then(
            () => true,
            () => false,
          ),
        ),
      );
      if (ids.length === count && begun.every(Boolean)) return;
      assert.ok(i < 240, `the nodes on h${k} never started gomel`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  // A second run: the engine of the worker holding at most f = 2 (spread 3/2/2: one worker always holds 2) stops for 22 s, past
  // the 15 s the swarm gives a host; declared down, it registers again and the swarm shuts its nodes down.
  // They are faulty, "stopped by the swarm", never "killed", and up says so when it happens.
  const frozenRun = upRun('long', path.join(root, 'run2'));
  const on1 = await placed();
  const loaded = on1[2]!.length <= on1[3]!.length ? 2 : 3;
  const frozen = on1[loaded]!;
  assert.ok(frozen.length > 0 && frozen.length <= 2, `h${loaded} holds at most f: ${frozen.join(', ')}`);
  await started(loaded, frozen.length);
  await run('bash', [LAB_SH, 'freeze-host', String(loaded), '22'], { env });
  const stopped = await frozenRun;
  assert.equal(stopped.code, 0, stopped.err);
  assert.match(
    stopped.out,
    new RegExp(
      `^consensus reached by all ${7 - frozen.length} correct nodes \\(\\d+ units in the same order\\); ${frozen.join(', ')} stopped by the swarm: host ${lab}-h${loaded} declared down \\(missed heartbeats\\) at [\\d.]+ s; f = 2 tolerated$`,
      'm',
    ),
  );
  assert.match(stopped.out, new RegExp(`${frozen.length} (was|were) stopped by the swarm`));
  assert.doesNotMatch(stopped.out, /killed/);
  assert.match(stopped.err, new RegExp(`stopped by the swarm: host ${lab}-h${loaded} was declared down`));

  // A third run (the stand-in runs 30 s): one worker's engine stops for 8 s, as a host too loaded to send
  // its heartbeats (up to 3.3 s late with 32 real gomel nodes here), and the swarm keeps its nodes (the lab's
  // 5 s period declares a host down after 15 s); then the worker holding at most f = 2 of the 7 (spread
  // 3/2/2: one worker always holds 2) dies while its nodes run.
  const second = upRun('long', path.join(root, 'run3'));
  const on2 = await placed();
  const victim = on2[2]!.length <= on2[3]!.length ? 2 : 3;
  const busy = 5 - victim;
  const onVictim = on2[victim]!;
  assert.ok(
    onVictim.length > 0 && onVictim.length <= 2,
    `the worker to kill holds 1 or 2 nodes: ${onVictim.join(', ')}`,
  );
  await started(busy, on2[busy]!.length);
  await run('bash', [LAB_SH, 'freeze-host', String(busy), '8'], { env });
  await started(victim, onVictim.length);
  await run('bash', [LAB_SH, 'kill-host', String(victim)], { env });
  const result = await second;
  // The nodes on the dead host are faulty, lost with their host; the stand-ins elsewhere finish without them,
  // the frozen worker's among them.
  assert.equal(result.code, 0, result.err);
  assert.doesNotMatch(result.out + result.err, /stopped by the swarm/);
  const lost = [
    ...result.out.matchAll(
      new RegExp(`^(\\S+): NO consensus .*shutdown: lost \\(its host \\S+-h${victim} went down`, 'gm'),
    ),
  ].map((m) => m[1]);
  assert.deepEqual(lost.sort(), [...onVictim].sort(), 'the verdict names exactly the nodes on the dead host');
  const named = new RegExp(
    `^consensus reached by all ${7 - onVictim.length} correct nodes \\(\\d+ units in the same order\\); (\\S+(, \\S+)*) lost with host ${lab}-h${victim}; f = 2 tolerated`,
    'm',
  ).exec(result.out);
  assert.ok(named, result.out);
  assert.deepEqual(named[1]!.split(', ').sort(), [...onVictim].sort());
  assert.match(
    result.out,
    new RegExp(
      `shutdown: clean on ${7 - onVictim.length} of 7; ${onVictim.length} (was|were) lost with (its host|their hosts)`,
    ),
  );
  const status = await cli(['deploy', 'status', '--network', 'labnet']);
  const downLines = status.out
    .split('\n')
    .filter((l) => l.includes('host down: node lost'))
    .map((l) => l.split('\t')[0]);
  assert.deepEqual(downLines.sort(), [...onVictim].sort(), 'deploy status names them too');
});
