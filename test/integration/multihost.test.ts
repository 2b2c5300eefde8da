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
  await fs.writeFile(path.join(configs, 'slow.json'), config);
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

  // A second run, as its own process; a worker holding at most f = 2 of the 7 nodes dies while they run
  // (spread 3/2/2 over the hosts: one worker always holds 2).
  const second = run(
    process.execPath,
    [
      path.join(REPO, 'bin/gomelctl'),
      'up',
      '--binary',
      FAKE,
      '--config',
      'slow',
      ...flags,
      '--logs',
      path.join(root, 'run2'),
    ],
    { env: { ...process.env } },
  ).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );
  let onVictim: string[] = [];
  let victim = 0;
  for (let i = 0; i < 240 && onVictim.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const status = await cli(['deploy', 'status', '--network', 'labnet', '--json']);
    const nodes =
      status.code === 0 ? (JSON.parse(status.out) as { node: string; state: string; swarmNode?: string }[]) : [];
    if (nodes.length === 7 && nodes.every((n) => n.state === 'running')) {
      const on = (k: number) => nodes.filter((n) => n.swarmNode === `${lab}-h${k}`).map((n) => n.node);
      victim = on(2).length <= on(3).length ? 2 : 3;
      onVictim = on(victim);
    }
  }
  assert.ok(
    onVictim.length > 0 && onVictim.length <= 2,
    `the worker to kill holds 1 or 2 nodes: ${onVictim.join(', ')}`,
  );
  // Once its nodes have started gomel (the stand-in then runs 10 s): their started_at, read through that host's engine.
  const hostEngine = ['-H', `unix:///run/gomelctl-lab-${lab}/h${victim}.sock`];
  for (let i = 0; ; i++) {
    const { stdout } = await run('docker', [
      ...hostEngine,
      'ps',
      '-q',
      '--filter',
      'label=org.gomelctl.deployment=labnet',
    ]);
    const ids = stdout.split('\n').filter(Boolean);
    const started = await Promise.all(
      ids.map((id) =>
        run('docker', [...hostEngine, 'exec', id, 'test', '-s', '/extract/started_at']).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (ids.length === onVictim.length && started.every(Boolean)) break;
    assert.ok(i < 240, `the nodes on h${victim} never started gomel`);
    await new Promise((r) => setTimeout(r, 250));
  }
  await run('bash', [LAB_SH, 'kill-host', String(victim)], { env });
  const result = await second;
  // The nodes on the dead host are faulty, lost with their host; the stand-ins elsewhere finish without them.
  assert.equal(result.code, 0, result.err);
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
