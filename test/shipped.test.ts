// A node's /extract shipped through its service output: the real ship_extract
// (templates/node-lib.sh) writes it, separateShipped takes it back, and whatever
// the engine does to the lines in between (interleaving stderr, losing, doubling,
// cutting, corrupting), what arrived is kept and what did not is named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createGzip, gzipSync } from 'node:zlib';
import { separateShipped } from '../src/core/logs/shipped.js';
import {
  insideFolder,
  keptInTheWay,
  planLogsFolder,
  planNodeFolder,
  recordedFiles,
  formatManifest,
  LOGS_MARKER,
} from '../src/core/logs/logs-folder.js';
import { REPO, tempDir } from './helpers.js';
import { deployLogs } from '../src/commands/deploy-logs.js';
import { captureOutput } from '../src/commands/output.js';
import type { Engine } from '../src/docker/engine.js';

const run = promisify(execFile);

/** gomel-shaped JSON lines (unit creation, ordering, sync sessions), with hashes that keep it from compressing away. */
function gomelLog(bytes: number): Buffer {
  const lines: string[] = ['{"genesis":"Sun, 29 Nov 2026 10:00:00 +0000","T":6,"E":"genesis"}'];
  let size = 0;
  for (let t = 10; size < bytes; t++) {
    const line =
      t % 3 === 0
        ? `{"L":"1","S":3,"N":${t % 97},"C":${t % 8},"H":${t},"T":${t},"E":"Z","X":"${randomBytes(20).toString('hex')}"}`
        : `{"L":"0","S":5,"P":${t % 8},"I":${t},"T":${t},"E":"R","Y":"${randomBytes(12).toString('hex')}"}`;
    lines.push(line);
    size += line.length + 1;
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

async function ship(t: Parameters<typeof tempDir>[0], files: Record<string, Buffer | string>): Promise<string> {
  const root = await tempDir(t);
  const extract = path.join(root, 'extract');
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(extract, name)), { recursive: true });
    await fs.writeFile(path.join(extract, name), content);
  }
  const lib = path.join(REPO, 'templates/node-lib.sh');
  const { stdout } = await run('sh', ['-c', `. "${lib}" && ship_extract`], {
    env: { ...process.env, GOMEL_EXTRACT: extract, TMPDIR: root },
    maxBuffer: 1 << 30,
  });
  return stdout;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fileOf = (text: string, name: string) => separateShipped(text).shipment?.files.find((f) => f.path === name);

test('a 6 MB gomel log ships and returns byte for byte, with stderr lines interleaved anywhere among its records', async (t) => {
  const log = gomelLog(6_000_000);
  const panic = Array.from(
    { length: 400 },
    (_, i) =>
      `goroutine ${i} [chan send]:\n\tgitlab.com/alephledger/consensus-go/pkg/sync/fetch.(*server).Resolve(0xc0000f6000)`,
  ).join('\n');
  const shipped = await ship(t, {
    '0.config.log': log,
    exit_status: '2\n',
    'stderr.txt': `panic: send on closed channel\n${panic}\n`,
    'sub/x': 'y',
  });
  const records = shipped.trimEnd().split('\n');
  assert.ok(
    records.join('\n').length > 1_300_000,
    `the log ships at least 1 MB compressed (${records.join('').length} bytes)`,
  );
  // What the engine did with a gomel panic on stderr: its lines fall between the records.
  const noise = panic.split('\n');
  const mixed: string[] = [];
  for (const r of records) {
    mixed.push(r);
    if (noise.length && Math.random() < 0.3) mixed.push(noise.shift()!);
  }
  mixed.push(...noise);
  const { output, shipment } = separateShipped(`probe says hi\n${mixed.join('\n')}\n`);
  assert.deepEqual(shipment!.problems, []);
  assert.equal(shipment!.ended, true);
  assert.equal(sha(fileOf(mixed.join('\n'), '0.config.log')!.content), sha(log));
  assert.deepEqual(shipment!.files.map((f) => f.path).sort(), ['0.config.log', 'exit_status', 'stderr.txt', 'sub/x']);
  assert.equal(Buffer.from(shipment!.files.find((f) => f.path === 'exit_status')!.content).toString(), '2\n');
  assert.equal(
    output.split('\n').filter((l) => l.startsWith('goroutine')).length,
    400,
    'the interleaved lines stay in the output',
  );
  assert.ok(output.startsWith('probe says hi\n'));
  assert.ok(!output.includes('gomelctl-ship'));
});

test('lines lost in the middle: the file says which, keeps the part before them, and the other files arrive whole', async (t) => {
  const log = gomelLog(3_000_000);
  const lines = (await ship(t, { '0.config.log': log, exit_status: '0\n' })).trimEnd().split('\n');
  const data = lines.filter((l) => / data 0 /.test(l));
  const lost = new Set(data.slice(100, 140));
  const { shipment } = separateShipped(lines.filter((l) => !lost.has(l)).join('\n'));
  const file = shipment!.files.find((f) => f.path === '0.config.log')!;
  assert.equal(file.complete, false);
  assert.match(
    file.problem!,
    new RegExp(
      `^0\\.config\\.log lost 40 of its ${data.length} shipped lines \\(101–140\\); kept the first [\\d.]+ (kB|MB) of 3\\.0 MB$`,
    ),
  );
  assert.ok(file.content.length > 100_000, 'the part before the gap is kept');
  assert.deepEqual(
    Buffer.from(file.content),
    log.subarray(0, file.content.length),
    'what is kept is the start of the log, unchanged',
  );
  assert.equal(shipment!.files.find((f) => f.path === 'exit_status')!.complete, true);
  assert.deepEqual(shipment!.problems, [file.problem]);
});

test('doubled lines are harmless; a changed line is corruption; a cut output misses its end; a second shipment wins', async (t) => {
  const small = gomelLog(200_000);
  const lines = (await ship(t, { '1.config.log': small, started_at: '1795948953.1\n' })).trimEnd().split('\n');
  const doubled = separateShipped(lines.flatMap((l) => [l, l]).join('\n')).shipment!;
  assert.deepEqual(doubled.problems, []);
  assert.equal(sha(doubled.files.find((f) => f.path === '1.config.log')!.content), sha(small));

  const at = lines.findIndex((l) => / data 0 5 /.test(l));
  const flipped = lines.map((l, i) =>
    i === at ? l.replace(/ (\S)(\S+)$/, (_, c: string, rest: string) => ` ${c === 'A' ? 'B' : 'A'}${rest}`) : l,
  );
  const corrupt = separateShipped(flipped.join('\n')).shipment!;
  assert.match(corrupt.problems.join(), /1\.config\.log arrived corrupted \(its checksum does not match/);

  const cut = separateShipped(lines.slice(0, Math.floor(lines.length / 2)).join('\n')).shipment!;
  assert.equal(cut.ended, false);
  assert.match(cut.problems.join('\n'), /no end line: the output was cut off/);
  assert.match(cut.problems.join('\n'), /1\.config\.log lost \d+ of its \d+ shipped lines/);

  const again = (await ship(t, { '1.config.log': 'second run\n' })).replace(/gomelctl-ship \S+/g, 'gomelctl-ship zz-2');
  const both = separateShipped(`${lines.join('\n')}\n${again}`).shipment!;
  assert.equal(Buffer.from(both.files[0]!.content).toString(), 'second run\n');
  assert.match(both.notes.join(), /1 earlier shipment\(s\) in the same output were ignored/);
});

test('names from a container never leave the node folder', () => {
  for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a//b', 'a/./b', '..', '.', '', 'a/', 'a\\b', 'a\0b'])
    assert.equal(insideFolder(bad), undefined, bad);
  assert.equal(insideFolder('./0.config.log'), '0.config.log');
  assert.equal(insideFolder('sub/x'), 'sub/x');
  // A shipment naming a path outside is not even a record: its lines stay output.
  const forged = 'gomelctl-ship tok file 0 ../../etc/x 1 ' + 'a'.repeat(64) + ' 1\ngomelctl-ship tok end 1';
  const { shipment, output } = separateShipped(forged);
  assert.equal(shipment!.files.length, 0);
  assert.match(output, /\.\.\/\.\.\/etc\/x/);
});

test('a logs folder is emptied only of what deploy logs recorded writing there', () => {
  const manifest = formatManifest({ network: 'aleph_net', entries: ['node1.log', 'node1', 'committee.ka'] });
  assert.deepEqual(planLogsFolder([LOGS_MARKER, 'node1.log', 'node1', 'committee.ka', 'report.html'], manifest, true), {
    ok: true,
    remove: ['node1.log', 'node1', 'committee.ka', 'report.html'],
  });
  assert.deepEqual(planLogsFolder([LOGS_MARKER, 'node1.log'], manifest, false), { ok: true, remove: [] });
  const mixed = planLogsFolder([LOGS_MARKER, 'node1.log', 'keys', 'configs', 'NOTES.md'], manifest, true);
  assert.equal(mixed.ok, false);
  assert.deepEqual(!mixed.ok && mixed.foreign, ['keys', 'configs', 'NOTES.md']);
  assert.equal(
    planLogsFolder(['keys'], undefined, false).ok,
    false,
    'a folder without the marker is refused even without --fresh',
  );
  assert.deepEqual(planLogsFolder([], undefined, true), { ok: true, remove: [] });
  // A marker from before manifests: only the pairs <node>.log + <node>/ and the run inputs are ours.
  assert.deepEqual(planLogsFolder([LOGS_MARKER, 'node1.log', 'node1', 'conf.json'], 'aleph_net\n', true), {
    ok: true,
    remove: ['node1.log', 'node1', 'conf.json'],
  });
  assert.equal(planLogsFolder([LOGS_MARKER, 'node1.log', 'node1', 'keys'], 'aleph_net\n', true).ok, false);
});

test('planNodeFolder: exactly the recorded files go, with the folders made for them; a name the verdict reads is never kept', () => {
  const recorded = ['0.config.log', 'sub/a/x', 'task.json'];
  assert.deepEqual(planNodeFolder(['0.config.log', 'notes.txt', 'sub/', 'task.json'], recorded), {
    ok: true,
    remove: ['0.config.log', 'sub/', 'task.json'],
    keep: ['notes.txt'],
    recorded: true,
  });
  // A user's empty folder, and a file where gomelctl once wrote a folder: the user's.
  assert.deepEqual(planNodeFolder(['mine/', 'sub'], recorded), {
    ok: true,
    remove: [],
    keep: ['mine/', 'sub'],
    recorded: true,
  });
  for (const name of ['1.log', '2.config.log.gz', 'probe.txt', 'exit_status', 'stderr.txt', 'task.json', 'started_at'])
    assert.deepEqual(planNodeFolder([name, 'notes.txt'], []), { ok: false, file: name }, name);
  assert.deepEqual(
    planNodeFolder(['probe.txt/x'], []),
    { ok: false, file: 'probe.txt/x' },
    'a folder of such a name too',
  );
  assert.equal(planNodeFolder(['sub/probe.txt', 'restart1-0.config.log'], []).ok, true, 'not read by the verdict');
  // No record (an older gomelctl's folder): the node's own names are gomelctl's, nothing else.
  assert.deepEqual(
    planNodeFolder(
      ['0.config.log', 'exit_status.before-restart1', 'notes.txt', 'restart1-stderr.txt', 'sub/x'],
      undefined,
    ),
    {
      ok: true,
      remove: ['0.config.log', 'exit_status.before-restart1', 'restart1-stderr.txt'],
      keep: ['notes.txt', 'sub/x'],
      recorded: false,
    },
  );
  assert.equal(keptInTheWay('notes.txt', ['notes.txt']), 'notes.txt');
  assert.equal(keptInTheWay('sub/x', ['sub']), 'sub', 'under a kept link or file');
  assert.equal(keptInTheWay('mine', ['mine/a.txt']), 'mine/a.txt', 'over a kept folder');
  assert.equal(keptInTheWay('e/x', ['e/']), 'e/');
  assert.equal(keptInTheWay('subx', ['sub']), undefined);
  // The record round-trips; one naming a path outside its folder makes the marker unreadable, the folder refused.
  const manifest = formatManifest({ network: 'n', entries: ['node1'], files: { node1: ['b', 'a/x', 'b'] } });
  assert.deepEqual(recordedFiles(manifest), { node1: ['a/x', 'b'] });
  assert.deepEqual(recordedFiles('aleph_net\n'), {});
  for (const bad of ['../x', '/etc/passwd', 'a//b', 'a/'])
    assert.equal(
      planLogsFolder(
        [LOGS_MARKER, 'node1'],
        JSON.stringify({ network: 'n', entries: ['node1'], files: { node1: [bad] } }),
        true,
      ).ok,
      false,
      bad,
    );
});

/** A forged shipment: each file's header declaring `bytes`, its data the gzip `gz` (4000 base64 characters a line, as ship_extract). */
function forgedFiles(files: { name: string; bytes: number; gz: Buffer }[]): string {
  const records = files.flatMap(({ name, bytes, gz }, f) => {
    const b = gz.toString('base64');
    const lines = Array.from({ length: Math.ceil(b.length / 4000) }, (_, i) => b.slice(i * 4000, (i + 1) * 4000));
    return [
      `gomelctl-ship tok file ${f} ${name} ${bytes} ${'0'.repeat(64)} ${lines.length}`,
      ...lines.map((l, i) => `gomelctl-ship tok data ${f} ${i} ${l}`),
    ];
  });
  return [...records, `gomelctl-ship tok end ${files.length}`, ''].join('\n');
}
const forgedShipment = (name: string, bytes: number, gz: Buffer) => forgedFiles([{ name, bytes, gz }]);

test('a shipped file declaring or inflating past 256 MiB is not kept, and the evidence names it and the cap (hostile pass B4)', async () => {
  const declared = separateShipped(forgedShipment('big.log', 2 ** 30, gzipSync(Buffer.from('hello\n'))));
  assert.deepEqual(declared.shipment!.files, []);
  assert.deepEqual(declared.shipment!.problems, [
    'big.log declares 1073.7 MB, over the 256 MiB cap on a shipped file: not written',
  ]);
  // 257 MiB of zeros in 260 kB of gzip, declared at the cap: inflation stops at the cap.
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => gzip.on('end', r));
  const mib = Buffer.alloc(2 ** 20);
  for (let i = 0; i < 257; i++) if (!gzip.write(mib)) await new Promise((r) => gzip.once('drain', r));
  gzip.end();
  await done;
  const inflated = separateShipped(forgedShipment('zeros.log', 256 * 2 ** 20, Buffer.concat(chunks)));
  assert.deepEqual(inflated.shipment!.files, []);
  assert.deepEqual(inflated.shipment!.problems, [
    'zeros.log inflates to more than it may, over the 256 MiB cap on a shipped file: not written',
  ]);
});

/** Four files declaring 250 MiB each, in 1 kB of output: hostile pass N4's shipment (4 × 250 MiB written from 1.37 MB). */
const FOUR_BIG = forgedFiles(
  [0, 1, 2, 3].map((i) => ({ name: `big${i}.log`, bytes: 250 * 2 ** 20, gz: gzipSync(Buffer.from('hello\n')) })),
);
const SHIPMENT_REFUSED = "over the 256 MiB cap on one node's shipment: none of it written";

test('a shipment whose files sum past 256 MiB, declared or inflated, is refused whole: one problem naming the cap, no file kept (hostile pass N4)', () => {
  const declared = separateShipped(FOUR_BIG).shipment!;
  assert.deepEqual(declared.files, []);
  assert.deepEqual(declared.problems, [`its shipment declares 1048.6 MB in 4 files, ${SHIPMENT_REFUSED}`]);
  // Three files declaring 100 kB each, each inflating to 90 MiB (under the cap on a file; 270 MiB together).
  const gz = gzipSync(Buffer.alloc(90 * 2 ** 20), { level: 9 });
  const lying = separateShipped(
    forgedFiles([0, 1, 2].map((i) => ({ name: `z${i}.log`, bytes: 100_000, gz }))),
  ).shipment!;
  assert.deepEqual(lying.files, []);
  assert.deepEqual(lying.problems, [
    "its shipment inflates to more than the 256 MiB cap on one node's shipment: none of it written",
  ]);
  // Two of them (180 MiB) are under it: kept, each named as what it is (its checksum does not match).
  const two = separateShipped(forgedFiles([0, 1].map((i) => ({ name: `z${i}.log`, bytes: 100_000, gz })))).shipment!;
  assert.equal(two.files.length, 2);
  assert.match(two.problems[0]!, /^z0\.log arrived corrupted/);
});

test('deploy logs: a shipment over the cap is said in one line naming the node and the cap; nothing of it is written', async (t) => {
  const logs = path.join(await tempDir(t), 'logs');
  const engine = {
    listServices: async (labels: Record<string, string>) => [
      {
        ID: 's1',
        Spec: { Name: 'node1', Labels: labels, TaskTemplate: { ContainerSpec: { Command: ['run.sh', 'config'] } } },
      },
    ],
    // Finished on another host: its /extract is what it shipped.
    listTasks: async () => [
      { ServiceID: 's1', CreatedAt: '1', Status: { State: 'complete', ContainerStatus: { ExitCode: 0 } } },
    ],
    listNodes: async () => [],
    serviceOutput: async () => `gomel said this\n${FOUR_BIG}`,
    containerArchive: async () => undefined,
  } as unknown as Engine;
  const o = captureOutput();
  await deployLogs({ network: 'aleph_net', out: logs, keys: 'none', configs: 'none' }, o, engine);
  assert.deepEqual(
    await fs.readdir(path.join(logs, 'node1')),
    ['task.json'],
    'no file of the shipment, whole or in part',
  );
  assert.equal(await fs.readFile(path.join(logs, 'node1.log'), 'utf8'), 'gomel said this\n');
  const refusal = `its shipment declares 1048.6 MB in 4 files, ${SHIPMENT_REFUSED}`;
  const said = o.warnings.filter((w) => w.includes('shipment'));
  assert.equal(said.length, 1, said.join('\n'));
  assert.ok(said[0]!.startsWith(`deploy logs: node1: evidence incomplete: ${refusal} — `), said[0]);
  assert.ok(
    o.lines.includes(`logs: node1 → ${path.join(logs, 'node1.log')}; no files: ${refusal}`),
    o.lines.join('\n'),
  );
  const task = JSON.parse(await fs.readFile(path.join(logs, 'node1', 'task.json'), 'utf8')) as { uncollected: string };
  assert.equal(task.uncollected, refusal);
});

test('a line claiming file 9999999999 costs what arrived: its lines are not used, said in one problem, and the files that came are kept', () => {
  const honest = forgedShipment('a.log', 6, gzipSync(Buffer.from('hello\n'))).replace(
    / 0{64} /,
    ` ${sha(Buffer.from('hello\n'))} `,
  );
  // Before the fix, assemble walked every number up to the claimed one: 2,000,000 problems "file #… lost its name line".
  for (const claimed of [2_000_000, 9_999_999_999]) {
    const s = separateShipped(`${honest}gomelctl-ship tok data ${claimed} 0 AAAA\n`).shipment!;
    assert.deepEqual(
      s.files.map((f) => [f.path, f.complete]),
      [['a.log', true]],
    );
    assert.deepEqual(s.problems, [
      `1 file number(s) of its shipment (as high as #${claimed + 1}) are past what 4 shipping lines and 1000 lost files can number: their lines were not used`,
    ]);
  }
  // 150,000 lines each naming another file: one problem, not one a file, and no "Maximum call stack size exceeded"
  // (the highest number was found by spreading every number into Math.max).
  const many = Array.from({ length: 150_000 }, (_, i) => `gomelctl-ship tok data ${i} 0 AAAA`).join('\n');
  const nameless = separateShipped(`${many}\ngomelctl-ship tok end 150000\n`).shipment!;
  assert.deepEqual(nameless.problems, [
    'files #1–#150000 of the shipment lost their name lines (150000 data lines arrived without them)',
  ]);
});
