// The logs folder's seal (issue 30, hostile pass 12): the verdict uses a folder's fault evidence only
// while the folder is as `deploy logs` collected it. A forged faults.log, task.json or twin folder in a
// sealed folder breaks the seal, and a folder without one is judged with every node held to consensus.
// The real twin run (test/vectors/real-runs/twin8, where node2 ran twice: exit 0, node2 a liar) is
// sealed here as deploy logs seals (fs/seal.ts sealFolder), then cut and forged.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli, copyLogs, leaves, loseWithHost, readLines, REPO, tempDir, writeLines } from './helpers.js';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { captureOutput } from '../src/commands/output.js';
import type { Engine } from '../src/docker/engine.js';
import { openSeal, sealDifference, sealText, SEAL_FILE } from '../src/core/logs/seal.js';
import { sealFolder as sealListed, sealProblem } from '../src/fs/seal.js';
import { judgeRun, loadRun } from '../src/fs/run-folder.js';
import { createHash } from 'node:crypto';

/** Seals every file of `dir`, as deploy logs seals the files it wrote. */
const sealFolder = async (dir: string, network: string) => sealListed(dir, network, await leaves(dir));

const REAL_RUNS = path.join(REPO, 'test/vectors/real-runs');
const KEY = new Uint8Array(32).fill(7);
const OTHER_KEY = new Uint8Array(32).fill(8);
const FILES = { 'node1/1.log': 'a'.repeat(64), 'run.json': 'b'.repeat(64) };

let keyDir: string;
const keyBefore = process.env.GOMELCTL_SEAL_KEY;
beforeEach(async () => {
  keyDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gomelctl-seal-'));
  process.env.GOMELCTL_SEAL_KEY = path.join(keyDir, 'seal.key');
});
afterEach(async () => {
  if (keyBefore === undefined) delete process.env.GOMELCTL_SEAL_KEY;
  else process.env.GOMELCTL_SEAL_KEY = keyBefore;
  await fs.rm(keyDir, { recursive: true, force: true });
});

test('a seal opens with its key only, and any edit of its text breaks it', () => {
  const text = sealText(KEY, { network: 'n', sealedAt: 1, files: FILES });
  const seal = openSeal(text, KEY);
  assert.ok(!('problem' in seal));
  assert.deepEqual(seal.files, FILES);
  assert.match((openSeal(text, OTHER_KEY) as { problem: string }).problem, /not made with this machine's seal key/);
  const edited = text.replace('a'.repeat(64), 'c'.repeat(64));
  assert.match((openSeal(edited, KEY) as { problem: string }).problem, /not made with this machine's seal key/);
  assert.match((openSeal('{"version":1}', KEY) as { problem: string }).problem, /not a seal gomelctl wrote/);
  assert.match((openSeal('x', KEY) as { problem: string }).problem, /not a seal gomelctl wrote/);
});

test('the difference names what changed, what was added and what was removed', () => {
  const seal = { network: 'n', sealedAt: 1, files: FILES, mac: '' };
  assert.equal(sealDifference(seal, new Map(Object.entries(FILES))), undefined);
  const now = new Map<string, string | undefined>([
    ['node1/1.log', 'd'.repeat(64)],
    ['node1/faults.log', 'e'.repeat(64)],
  ]);
  assert.equal(
    sealDifference(seal, now),
    'node1/1.log changed; node1/faults.log added; run.json removed since gomelctl collected it',
  );
  // A sealed file that is now a link (or anything not a regular file) is changed.
  assert.match(
    sealDifference(seal, new Map([...Object.entries(FILES), ['run.json', undefined]]))!,
    /run\.json changed/,
  );
});

/** twin8, sealed as deploy logs leaves it. */
async function sealedTwin8(t: Parameters<typeof copyLogs>[0]): Promise<string> {
  const dir = await copyLogs(t, 'twin8', REAL_RUNS);
  await sealFolder(dir, 'twin8');
  return dir;
}

/** The indices of a log's ordered units' lines ("Z"). */
const orderedAt = (lines: readonly string[]) => lines.flatMap((l, i) => (l.includes('"E":"Z"') ? [i] : []));

/** A log cut before its first prime-unit line ("D") that `level` picks: its node killed there. */
async function cutBefore(log: string, level: (line: string) => boolean): Promise<void> {
  const lines = await readLines(log);
  await writeLines(
    log,
    lines.slice(
      0,
      lines.findIndex((l) => level(l) && l.includes('"E":"D"')),
    ),
  );
}

const EVIDENCE = /^evidence: the fault evidence .* is not used, every node is held to consensus: (.*) — collect/m;

test('twin8 sealed: its liar is named and the run is exit 0; report.html and verdict.txt written after do not break the seal', async (t) => {
  const dir = await sealedTwin8(t);
  const v = await cli(['verdict', '--logs', dir]);
  assert.equal(v.code, 0, v.err);
  assert.doesNotMatch(v.out, EVIDENCE);
  assert.match(v.out, /node3.*BYZANTINE/);
  await fs.writeFile(path.join(dir, 'report.html'), '<html></html>');
  await fs.writeFile(path.join(dir, 'verdict.txt'), 'x');
  assert.equal(await sealProblem(dir), undefined);
});

test('twin8 unsealed: the twin is not named a liar (its node is held to consensus, which it reached); --trust-logs names it', async (t) => {
  const dir = await copyLogs(t, 'twin8', REAL_RUNS);
  const v = await cli(['verdict', '--logs', dir]);
  assert.equal(v.code, 0, v.err);
  assert.equal(EVIDENCE.exec(v.out)?.[1]?.startsWith(`it has no ${SEAL_FILE}`), true, v.out);
  assert.doesNotMatch(v.out, /BYZANTINE/);
  assert.match(
    v.out,
    /^consensus reached by all 8 nodes .*planned, not applied: node3 twin planned, but the folder's evidence is not used/m,
  );
  const trusted = await cli(['verdict', '--logs', dir, '--trust-logs']);
  assert.equal(trusted.code, 0, trusted.err);
  assert.doesNotMatch(trusted.out, EVIDENCE);
  assert.match(trusted.out, /node3.*BYZANTINE/);
});

test('swarm-8 with two nodes lost with their host: tolerated as collected (sealed); the same losses forged after collection excuse nobody, exit 1 (hostile pass 12)', async (t) => {
  const collected = await copyLogs(t, 'swarm-8');
  for (const n of ['node7', 'node8']) await loseWithHost(collected, n, 'gl-h3');
  await sealFolder(collected, 'swarm-8');
  const v = await cli(['verdict', '--logs', collected]);
  assert.equal(v.code, 0, v.err);
  assert.match(
    v.out,
    /^consensus reached by all 6 correct nodes .*; node7, node8 lost with host gl-h3; f = 2 tolerated$/m,
  );

  const forged = await copyLogs(t, 'swarm-8');
  await sealFolder(forged, 'swarm-8');
  for (const n of ['node7', 'node8']) await loseWithHost(forged, n, 'gl-h3');
  const f = await cli(['verdict', '--logs', forged]);
  assert.equal(f.code, 1, f.out);
  assert.match(
    EVIDENCE.exec(f.out)?.[1] ?? '',
    /node7\/task\.json, node8\/task\.json added; node7\/.* removed since gomelctl collected it/,
  );
  assert.match(f.err, /^gomelctl: verdict: consensus reached by 6 of 8 nodes/);
});

test("twin8 sealed, then forged: a changed faults.log, an added file, a removed task.json, a folder swapped for a link, another machine's key", async (t) => {
  const forgeries: [string, (dir: string) => Promise<void>, RegExp, number?][] = [
    [
      'a line appended to a faults.log',
      (dir) => fs.appendFile(path.join(dir, 'node3/faults.log'), '1 9000 kill ok\n'),
      /node3\/faults\.log changed/,
    ],
    [
      'an evidence file added (an older fault record)',
      (dir) => fs.writeFile(path.join(dir, 'faults.json'), '{}'),
      /^faults\.json added/,
    ],
    ['a task.json removed', (dir) => fs.rm(path.join(dir, 'node5/task.json')), /node5\/task\.json removed/],
    [
      'a node folder swapped for a link',
      async (dir) => {
        const elsewhere = `${dir}-node6`;
        await fs.rename(path.join(dir, 'node6'), elsewhere);
        await fs.symlink(elsewhere, path.join(dir, 'node6'));
      },
      /node6\/.* removed/,
      // The link is not followed: node6 has no log, and no consensus.
      1,
    ],
    [
      "another machine's key",
      async () => fs.writeFile(process.env.GOMELCTL_SEAL_KEY!, `${'9'.repeat(64)}\n`),
      /not made with this machine's seal key/,
    ],
  ];
  for (const [what, forge, named, code = 0] of forgeries) {
    const dir = await sealedTwin8(t);
    await forge(dir);
    const v = await cli(['verdict', '--logs', dir]);
    assert.equal(v.code, code, `${what}: every node reached consensus in twin8`);
    assert.match(EVIDENCE.exec(v.out)?.[1] ?? '', named, `${what}: ${v.out}`);
    assert.doesNotMatch(v.out, /BYZANTINE/, `${what}: the twin is not named a liar`);
  }
});

test('the seal key is made once, mode 0600, and a file that is not one is refused in one line', async (t) => {
  const a = await copyLogs(t, 'twin8', REAL_RUNS);
  await sealFolder(a, 'twin8');
  const key = process.env.GOMELCTL_SEAL_KEY!;
  const first = await fs.readFile(key, 'utf8');
  assert.equal((await fs.stat(key)).mode & 0o777, 0o600);
  await sealFolder(a, 'twin8');
  assert.equal(await fs.readFile(key, 'utf8'), first, 'the key is kept');
  await fs.writeFile(key, 'not a key\n');
  // The verdict judges on, its evidence unused; a collection refuses before it writes anything.
  const v = await cli(['verdict', '--logs', a]);
  assert.equal(v.code, 0, v.err);
  assert.match(EVIDENCE.exec(v.out)?.[1] ?? '', /^its seal cannot be checked: .*seal\.key: is not a gomelctl seal key/);
  const out = path.join(await tempDir(t), 'logs');
  await assert.rejects(
    deployLogs({ network: 'aleph_net', out, keys: 'none', configs: 'none' }, captureOutput(), engineOf(['node1'])),
    /seal\.key: is not a gomelctl seal key \(64 hex digits\) — move it away/,
  );
  await assert.rejects(fs.stat(out), { code: 'ENOENT' });
});

/** An engine that lists `nodes` as the services of a finished run (no /extract: each node's output and task.json). */
const engineOf = (nodes: readonly string[]) =>
  ({
    listServices: async (labels: Record<string, string>) =>
      nodes.map((name) => ({
        ID: name,
        Spec: { Name: name, Labels: labels, TaskTemplate: { ContainerSpec: { Command: ['run.sh', 'config'] } } },
      })),
    listTasks: async () =>
      nodes.map((name) => ({
        ServiceID: name,
        CreatedAt: '1',
        Status: { State: 'complete', ContainerStatus: { ExitCode: 0 } },
      })),
    listNodes: async () => [],
    serviceOutput: async () => 'hi\n',
    containerArchive: async () => undefined,
  }) as unknown as Engine;

test('a collection seals what it wrote only: a node folder of an earlier one, forged since, is not sealed again (hostile pass 13)', async (t) => {
  const logs = path.join(await tempDir(t), 'logs');
  const options = { network: 'aleph_net', out: logs, keys: 'none', configs: 'none' };
  await deployLogs(options, captureOutput(), engineOf(['node1', 'node2']));
  assert.equal(await sealProblem(logs), undefined, 'as collected');
  await fs.writeFile(path.join(logs, 'node2', 'faults.log'), '1700000000 4000 kill ok\n');
  assert.match((await sealProblem(logs))!, /^node2\/faults\.log added since gomelctl collected it$/);
  // node2's service is gone: collected again, node1 only, its folder kept as gomelctl's own.
  await deployLogs(options, captureOutput(), engineOf(['node1']));
  assert.match((await sealProblem(logs))!, /node2\/faults\.log.* added since gomelctl collected it/);
  // The user's notes beside the evidence are no evidence.
  const other = path.join(path.dirname(logs), 'other');
  await deployLogs({ ...options, out: other }, captureOutput(), engineOf(['node1']));
  await fs.writeFile(path.join(other, 'node1', 'notes.txt'), 'mine\n');
  await fs.writeFile(path.join(other, 'notes.txt'), 'mine\n');
  assert.equal(await sealProblem(other), undefined);
});

test('the seal vouches for the bytes the verdict read, not for the folder by the time it is hashed (hostile pass 13)', async (t) => {
  const dir = await sealedTwin8(t);
  assert.equal(await sealProblem(dir), undefined);
  const faultsLog = path.join(dir, 'node4', 'faults.log');
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const read = new Map([[faultsLog, sha(`${await fs.readFile(faultsLog, 'utf8')}1700000000 4000 kill ok\n`)]]);
  assert.equal(await sealProblem(dir, read), 'node4/faults.log not as sealed when the verdict read it');
  const asSealed = new Map([[faultsLog, sha(await fs.readFile(faultsLog, 'utf8'))]]);
  assert.equal(await sealProblem(dir, asSealed), undefined);
  // What the verdict reads is noted as read: every node's gomel log and the folder's conf.json too, whose
  // orders and LevelLimit decide who forked and who finished (hostile pass 18: either swapped in for the
  // reading and back before the hashing passed).
  const run = await loadRun({ logs: dir, configs: 'none', keys: 'none' });
  await judgeRun(run, { logs: dir, configs: 'none', keys: 'none' });
  for (const rel of ['node1/0.config.log.gz', 'node3-twin/2.config.log.gz', 'conf.json', 'node4/faults.log']) {
    const file = path.resolve(dir, rel);
    assert.equal(
      run.read.get(file),
      createHash('sha256')
        .update(await fs.readFile(file))
        .digest('hex'),
      rel,
    );
  }
});

test('what the verdict read is held to the seal in a folder with no fault evidence too: a stderr.txt swapped in for the reading is not as collected, and said (hostile pass 25)', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await dropOrdered(path.join(dir, 'node4', '3.config.log.gz'), 100, 100);
  await sealFolder(dir, 'swarm-8');
  assert.equal((await cli(['verdict', '--logs', dir])).code, 4, 'a gap with no word of gomel for it: a fork');
  const options = { logs: dir, configs: 'none', keys: 'none' };
  const run = await loadRun(options);
  const stderr = path.join(dir, 'node4', 'stderr.txt');
  const before = await fs.readFile(stderr);
  await fs.writeFile(stderr, 'WARNING: Dropped 1 log entries\n');
  const { verdict } = await judgeRun(run, options);
  await fs.writeFile(stderr, before);
  assert.match(verdict.evidenceNotUsed ?? '', /node4\/stderr\.txt not as sealed when the verdict read it/);
  assert.doesNotMatch(JSON.stringify(verdict.nodes), /gomel says it dropped/, 'the swapped-in warning is not used');
});

test('a sealed file moved away for the reading and back is not as sealed either, and said (hostile pass 26)', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await dropOrdered(path.join(dir, 'node4', '3.config.log.gz'), 100, 100);
  await fs.writeFile(path.join(dir, 'node4', 'stderr.txt'), 'WARNING: Dropped 1 log entries\n');
  await sealFolder(dir, 'swarm-8');
  assert.equal((await cli(['verdict', '--logs', dir])).code, 1, "gomel's word for the gap: no fork");
  const options = { logs: dir, configs: 'none', keys: 'none' };
  const run = await loadRun(options);
  const stderr = path.join(dir, 'node4', 'stderr.txt');
  await fs.rename(stderr, `${stderr}.away`);
  const { verdict } = await judgeRun(run, options);
  await fs.rename(`${stderr}.away`, stderr);
  assert.match(verdict.evidenceNotUsed ?? '', /node4\/stderr\.txt not as sealed when the verdict read it/);
});

test('a sealed file swapped for a folder for the reading and back is not as sealed either, and said (hostile pass 27)', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await sealFolder(dir, 'swarm-8');
  const options = { logs: dir, configs: 'none', keys: 'none' };
  const run = await loadRun(options);
  const status = path.join(dir, 'node2', 'exit_status');
  await fs.rename(status, `${status}.away`);
  await fs.mkdir(status);
  const { verdict } = await judgeRun(run, options);
  await fs.rmdir(status);
  await fs.rename(`${status}.away`, status);
  assert.match(verdict.evidenceNotUsed ?? '', /node2\/exit_status not as sealed when the verdict read it/);
});

test('the report times no fault window by evidence the verdict did not use (hostile pass 26)', async (t) => {
  const dir = await sealedTwin8(t);
  const windows = async () => {
    const r = await cli(['report', '--json', '--logs', dir, '--out', path.join(dir, 'report.html')]);
    assert.equal(r.code, 0, r.err);
    return (JSON.parse(r.out) as { faults: { windows: { appliedBy: number }[] } }[])[0]!.faults.windows;
  };
  assert.equal((await windows())[0]!.appliedBy, 1, 'as sealed: the twin applied');
  await fs.appendFile(path.join(dir, 'node4', 'faults.log'), '1700000000 4000 kill ok\n');
  assert.equal((await windows())[0]!.appliedBy, 0, 'edited since: no evidence applied it');
});

/** lab16 with node4's ordered units #201 and #202 swapped: a fork at #201 (every node ordered 12:10 there). */
async function forkedLab16(t: Parameters<typeof copyLogs>[0]): Promise<string> {
  const dir = await copyLogs(t, 'lab16', REAL_RUNS);
  const log = path.join(dir, 'node4', '3.config.log.gz');
  const lines = await readLines(log);
  const z = orderedAt(lines);
  [lines[z[200]!], lines[z[201]!]] = [lines[z[201]!]!, lines[z[200]!]!];
  await writeLines(log, lines);
  return dir;
}

test("a sealed folder: one node's own files that contradict themselves void its evidence, never the verdict on the others (a fork stays exit 4; hostile pass 13)", async (t) => {
  const node8 = (dir: string, name: string) => path.join(dir, 'node8', name);
  const contradictions: [string, (dir: string) => Promise<void>, RegExp][] = [
    [
      'a second gomel log',
      (dir) => fs.copyFile(node8(dir, '7.config.log.gz'), node8(dir, '7.log.gz')),
      /two gomel logs for one node: 7\.config\.log\.gz and 7\.log\.gz/,
    ],
    [
      "another pid's log",
      async (dir) => {
        await fs.rm(node8(dir, '7.config.log.gz'));
        await fs.copyFile(path.join(dir, 'node1', '0.config.log.gz'), node8(dir, '0.config.log.gz'));
      },
      /its folder holds the log of pid 0 \(0\.config\.log\.gz\), not its own \(pid 7\)/,
    ],
  ];
  for (const [what, contradict, named] of contradictions) {
    const dir = await forkedLab16(t);
    await contradict(dir);
    // Unsealed, the folder is refused: a user's mix-up is for the user to mend.
    assert.equal((await cli(['verdict', '--logs', dir])).code, 1, what);
    await sealFolder(dir, 'lab16');
    const v = await cli(['verdict', '--logs', dir]);
    assert.equal(v.code, 4, `${what}: ${v.err}`);
    assert.match(v.out, /^divergence at ordered unit #201: /m, what);
    const line = v.out.split('\n').find((l) => l.startsWith('node8: '));
    assert.match(line ?? '', /^node8: NO consensus .*its own files are no evidence: /, what);
    assert.match(line!, named, what);
  }
});

test('a node that logs a longer order than the others cannot hold them short of it: the committee ordered as far as f + 1 of its nodes (hostile pass 14)', async (t) => {
  const dir = await copyLogs(t, 'lab16', REAL_RUNS);
  const log = path.join(dir, 'node8', '7.config.log.gz');
  const lines = await readLines(log);
  const last = lines
    .map((l, i) => (l.includes('"E":"Z"') ? i : -1))
    .filter((i) => i >= 0)
    .at(-1)!;
  // 1,200 units made up after its real order, at heights nobody reached, none twice.
  const madeUp = Array.from(
    { length: 1200 },
    (_, i) => `{"L":"1","S":3,"N":100,"C":${i % 16},"H":${1000 + Math.floor(i / 16)},"T":24964,"E":"Z"}`,
  );
  lines.splice(last + 1, 0, ...madeUp);
  await writeLines(log, lines);
  await sealFolder(dir, 'lab16');
  const v = await cli(['verdict', '--logs', dir]);
  assert.equal(v.code, 0, v.err);
  assert.doesNotMatch(v.out, /where node8 ordered/);
  assert.match(v.out, /^consensus reached by all 16 nodes \(581 units in the same order\)$/m);
});

test("a sealed folder: a node's probe report among gomel logs, or an evidence file that does not read, voids that node only (hostile pass 14)", async (t) => {
  const node8 = (dir: string, name: string) => path.join(dir, 'node8', name);
  const cases: [string, (dir: string) => Promise<void>, RegExp][] = [
    [
      'a probe report',
      (dir) => fs.writeFile(node8(dir, 'probe.txt'), 'pid 7\nresult ok\n'),
      /a probe report \(probe\.txt\) among the gomel logs of a gomel run/,
    ],
    [
      'exit_status a folder',
      async (dir) => {
        await fs.rm(node8(dir, 'exit_status'));
        await fs.mkdir(node8(dir, 'exit_status'));
        await fs.writeFile(path.join(node8(dir, 'exit_status'), 'x'), '0\n');
      },
      /exit_status: is a folder/,
    ],
  ];
  for (const [what, contradict, named] of cases) {
    const dir = await forkedLab16(t);
    await contradict(dir);
    await sealFolder(dir, 'lab16');
    const v = await cli(['verdict', '--logs', dir]);
    assert.equal(v.code, 4, `${what}: ${v.err}`);
    const line = v.out.split('\n').find((l) => l.startsWith('node8: '));
    assert.match(line ?? '', /^node8: NO consensus .*its own files are no evidence: /, what);
    assert.match(line!, named, what);
  }
});

test("a sealed folder: one node's log claiming sessions with a node whose log never names it voids neither (hostile pass 14: node8 voided a correct node2, and with it a fork)", async (t) => {
  const dir = await forkedLab16(t);
  // node2 (pid 1) never names pid 7 as a peer: as if node8 had refused every connection of node2's.
  const log = path.join(dir, 'node2', '1.config.log.gz');
  await writeLines(
    log,
    (await readLines(log)).filter((l) => !l.includes('"P":7,') && !l.includes('"P":7}')),
  );
  // Unsealed, the folder is refused (one of the two logs is not its node's: a user's mix-up).
  assert.equal((await cli(['verdict', '--logs', dir])).code, 1);
  await sealFolder(dir, 'lab16');
  const v = await cli(['verdict', '--logs', dir]);
  assert.equal(v.code, 4, v.err);
  assert.doesNotMatch(v.out, /its own files are no evidence/);
  assert.match(v.out, /^node2: consensus /m);
});

test("one node's longer order cannot excuse another's fork as lost lines: they are measured against what f + 1 nodes ordered (hostile pass 15)", async (t) => {
  const dir = await copyLogs(t, 'lab16', REAL_RUNS);
  const made = '{"L":"1","S":3,"N":100,"C":0,"H":999,"T":24964,"E":"Z"}';
  // node2 ordered, at #151, a unit nobody else ordered: a fork.
  const node2 = path.join(dir, 'node2', '1.config.log.gz');
  const lines2 = await readLines(node2);
  const z = lines2.flatMap((l, i) => (l.includes('"E":"Z"') ? [i] : []));
  lines2[z[150]!] = made;
  await writeLines(node2, lines2);
  // node8 appends that unit to its own order: the longest of the main group.
  const node8 = path.join(dir, 'node8', '7.config.log.gz');
  const lines8 = await readLines(node8);
  lines8.splice(
    lines8
      .map((l, i) => (l.includes('"E":"Z"') ? i : -1))
      .filter((i) => i >= 0)
      .at(-1)! + 1,
    0,
    made,
  );
  await writeLines(node8, lines8);
  await sealFolder(dir, 'lab16');
  const v = await cli(['verdict', '--logs', dir]);
  assert.equal(v.code, 4, v.out);
  assert.match(v.out, /^divergence at ordered unit #151: /m);
  assert.doesNotMatch(v.out, /lines lost from its log/);
});

test('one log at LevelLimit among nodes all killed short of it is no finished run: 2f + 1 must have finished (hostile passes 15, 16)', async (t) => {
  const dir = await copyLogs(t, 'lab16', REAL_RUNS);
  for (let k = 1; k <= 16; k++) {
    await cutBefore(path.join(dir, `node${k}`, `${k - 1}.config.log.gz`), (l) => /"Q":(4[5-9]|50),/.test(l));
    await fs.writeFile(path.join(dir, `node${k}`, 'exit_status'), '124\n');
  }
  const node8 = path.join(dir, 'node8', '7.config.log.gz');
  await writeLines(node8, [...(await readLines(node8)), '{"L":"1","S":0,"Q":50,"A":7,"T":30000,"E":"D"}']);
  await sealFolder(dir, 'lab16');
  const v = await cli(['verdict', '--logs', dir]);
  assert.equal(v.code, 1, v.out);
  assert.match(v.err, /consensus not reached: only 1 node finished .*; 2f \+ 1 = 11 must/);
});

test('as collected, a node missing units the others ordered is a fork, whatever the count on each side: a liar cannot tip a split into "lines lost" (hostile pass 16)', async (t) => {
  const dir = await copyLogs(t, 'lab16', REAL_RUNS);
  const made = '{"L":"1","S":3,"N":100,"C":0,"H":999,"T":24964,"E":"Z"}';
  // node1..node8 ordered one more unit at #151 than node9..node16; node16, lying, sides with node1..node8.
  for (const k of [1, 2, 3, 4, 5, 6, 7, 8, 16]) {
    const log = path.join(dir, `node${k}`, `${k - 1}.config.log.gz`);
    const lines = await readLines(log);
    lines.splice(orderedAt(lines)[150]!, 0, made);
    await writeLines(log, lines);
  }
  await sealFolder(dir, 'lab16');
  const v = await cli(['verdict', '--logs', dir]);
  assert.equal(v.code, 4, v.out);
  assert.doesNotMatch(v.out, /lines lost from its log/);
  // Not as collected (a copy's damage), the same gap is lines lost, as before (hostile pass B2): no fork claimed.
  const trusted = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.notEqual(trusted.code, 0);
});

test('f liars claiming to have finished (exit 0) cannot make nodes a timeout killed short count as consensus: 2f + 1 must finish (hostile pass 16)', async (t) => {
  const dir = await copyLogs(t, 'lab16', REAL_RUNS);
  // node1 finished; node2..node16 were killed by the timeout at level 30.
  for (let k = 2; k <= 16; k++) {
    await cutBefore(path.join(dir, `node${k}`, `${k - 1}.config.log.gz`), (l) => l.includes('"Q":31,'));
    // node12..node16 lie: gomel's own exit 0, nothing on stderr.
    await fs.writeFile(path.join(dir, `node${k}`, 'exit_status'), k >= 12 ? '0\n' : '124\n');
    if (k >= 12) await fs.writeFile(path.join(dir, `node${k}`, 'stderr.txt'), '');
  }
  await sealFolder(dir, 'lab16');
  const v = await cli(['verdict', '--logs', dir]);
  assert.equal(v.code, 1, v.out);
  assert.match(v.err, /consensus not reached: only \d nodes finished .*; 2f \+ 1 = 11 must/);
});

test('as collected, a gap before a damaged line is a fork too: later damage excuses nothing before it (hostile pass 17)', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  const log = path.join(dir, 'node2', '1.config.log.gz');
  const lines = await readLines(log);
  const z = orderedAt(lines);
  // One garbled line after #300, then unit #100 left out: node2 ordered 6:12 where the others ordered 7:12.
  lines.splice(z[300]! + 1, 0, '{"L":"1","E":"Z","C":');
  lines.splice(z[99]!, 1);
  await writeLines(log, lines);
  await sealFolder(dir, 'swarm-8');
  const v = await cli(['verdict', '--logs', dir]);
  assert.equal(v.code, 4, v.out);
  assert.match(v.out, /^divergence at ordered unit #100: /m);
});

/** Drops the lines of ordered units #from..#to (1-based, inclusive) from a node's log, as gomel's log diode does. */
async function dropOrdered(log: string, from: number, to: number): Promise<void> {
  const lines = await readLines(log);
  const z = orderedAt(lines);
  await writeLines(
    log,
    lines.filter((_, i) => !z.slice(from - 1, to).includes(i)),
  );
}

test('as collected, a gap in the order of a node whose gomel says it dropped log entries is lines lost, no fork (hostile pass 20)', async (t) => {
  // gomel's log diode dropped 40 entries of node4's, 21 ordered units among them, and said so on stderr (pkg/logging).
  const dropped = async (stderr: string) => {
    const dir = await copyLogs(t, 'lab16', REAL_RUNS);
    const log = path.join(dir, 'node4', '3.config.log.gz');
    const lines = await readLines(log);
    const z = orderedAt(lines);
    lines.splice(z[200]! - 20, 40);
    await writeLines(log, lines);
    await fs.writeFile(path.join(dir, 'node4', 'stderr.txt'), stderr);
    await sealFolder(dir, 'lab16');
    return cli(['verdict', '--logs', dir]);
  };
  const v = await dropped(
    'WARNING: Dropped 40 log entries\n2026/12/08 00:00:01 Diode set collision: consider using a larger diode\n',
  );
  assert.equal(v.code, 1, v.out);
  assert.match(
    v.out,
    /^node4: .*its order is no evidence: gomel says it dropped 40 log entries \(stderr\.txt\): lines lost from its log/m,
  );
  assert.doesNotMatch(v.out, /FORK|divergence/);
  // Its shutdown is gomel's own exit 0, not a refusal: the diode's warnings are no error (hostile pass 23).
  assert.match(v.out, /^node4: .*shutdown: clean/m);
  // The same gap without gomel's word for it stays a fork (hostile pass 16).
  assert.equal((await dropped('')).code, 4);
});

test("dropped log entries, as collected: gaps in several places, a gap at the end of the agreed order before the node's own further units, and a gapped order that would win the committee's are lines lost, no fork (hostile pass 21)", async (t) => {
  const judged = async (change: (dir: string) => Promise<void>) => {
    const dir = await copyLogs(t, 'swarm-8');
    await change(dir);
    await sealFolder(dir, 'swarm-8');
    return cli(['verdict', '--logs', dir]);
  };
  const node4 = (dir: string) => path.join(dir, 'node4', '3.config.log.gz');
  const warn = (dir: string, text: string) => fs.writeFile(path.join(dir, 'node4', 'stderr.txt'), text);
  // Two drops, two warnings.
  const twice = await judged(async (dir) => {
    await dropOrdered(node4(dir), 200, 201);
    await dropOrdered(node4(dir), 100, 100);
    await warn(dir, 'WARNING: Dropped 1 log entries\nWARNING: Dropped 2 log entries\n');
  });
  assert.equal(twice.code, 1, twice.out);
  assert.match(twice.out, /^node4: .*its order is no evidence: gomel says it dropped 3 log entries/m);
  // node4 ordered 347 units, the others 344: it dropped #344, the last the others agreed.
  const end = await judged(async (dir) => {
    await dropOrdered(node4(dir), 344, 344);
    await warn(dir, 'WARNING: Dropped 1 log entries\n');
  });
  assert.equal(end.code, 1, end.out);
  assert.doesNotMatch(end.out, /FORK|divergence/);
  // Gaps prove no fork, however many (hostile pass 24: counting them let a liar's order ask more)…
  const more = await judged(async (dir) => {
    await dropOrdered(node4(dir), 100, 102);
    await warn(dir, 'WARNING: Dropped 2 log entries\n');
  });
  assert.equal(more.code, 1, more.out);
  // …but two units the other way round from the others' whole orders do: no lost line does that.
  const swapped = await judged(async (dir) => {
    const lines = await readLines(node4(dir));
    const z = orderedAt(lines);
    [lines[z[100]!], lines[z[101]!]] = [lines[z[101]!]!, lines[z[100]!]!];
    await writeLines(node4(dir), lines);
    await warn(dir, 'WARNING: Dropped 2 log entries\n');
  });
  assert.equal(swapped.code, 4, swapped.out);
  // node5..node8 killed at #50 (prefixes of every order) would side with node4, the longest, and its gap
  // make node1..node3 the fork: set aside, node4's order is lines lost, and the run a failure, no fork.
  const tie = await judged(async (dir) => {
    await dropOrdered(node4(dir), 100, 100);
    await warn(dir, 'WARNING: Dropped 1 log entries\n');
    for (let k = 5; k <= 8; k++) {
      const log = path.join(dir, `node${k}`, `${k - 1}.config.log.gz`);
      const lines = await readLines(log);
      await writeLines(log, lines.slice(0, orderedAt(lines)[50]!));
      await fs.writeFile(path.join(dir, `node${k}`, 'exit_status'), '124\n');
    }
  });
  assert.equal(tie.code, 1, tie.out);
  assert.doesNotMatch(tie.out, /FORK|divergence/);
  assert.match(
    tie.err,
    /only 3 nodes finished .* with an order that is evidence \(1 more whose order is not\); 2f \+ 1 = 5 must/,
  );
  // Every node dropped a unit, each another (hostile pass 22): no order to hold them against but each other's.
  const all = await judged(async (dir) => {
    for (let k = 1; k <= 8; k++) {
      await dropOrdered(path.join(dir, `node${k}`, `${k - 1}.config.log.gz`), 10 * k, 10 * k);
      await fs.writeFile(path.join(dir, `node${k}`, 'stderr.txt'), 'WARNING: Dropped 1 log entries\n');
    }
  });
  assert.equal(all.code, 1, all.out);
  assert.doesNotMatch(all.out, /FORK|divergence/);
});

test("the seal holds for a node's files read in part or not UTF-8: each is hashed from its raw bytes, whole (hostile pass 19)", async (t) => {
  const dir = await copyLogs(t, 'twin8', REAL_RUNS);
  // A goroutine dump past what the verdict reads of stderr.txt (256 KiB), and a byte that is no UTF-8.
  await fs.writeFile(path.join(dir, 'node2', 'stderr.txt'), `panic: x\n${'goroutine 1 [running]:\n'.repeat(20_000)}`);
  await fs.appendFile(path.join(dir, 'node4', 'faults.log'), Buffer.from([0xff, 0x0a]));
  await fs.appendFile(path.join(dir, 'node5', 'exit_status'), Buffer.from([0xff]));
  await sealFolder(dir, 'twin8');
  const v = await cli(['verdict', '--logs', dir]);
  assert.doesNotMatch(v.out, EVIDENCE, 'nothing changed since it was sealed');
  assert.match(v.out, /node3.*BYZANTINE/);
});
