// The verdict on logs written by real gomel runs (test/vectors/gomel-2019-09/logs, see its
// README) and on edits of them that reproduce what real runs showed: a Go panic after
// consensus, lost last lines, a node still running, a node one level short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { cli, copyLogs, readLines, tempDir, VECTORS, writeLines } from './helpers.js';
import { judgeProbes, parseProbeReport, probeCommittee } from '../src/core/logs/probe.js';
import { isShutdownRace, parseGoPanic } from '../src/core/logs/shutdown.js';
import type { Verdict } from '../src/core/logs/verdict.js';

const LOGS = path.join(VECTORS, 'logs');
const lastTwo = (out: string) => out.split('\n').slice(-2);
const verdictOf = async (dir: string, extra: string[] = []) => {
  const r = await cli(['verdict', '--logs', dir, '--json', ...extra]);
  assert.ok(r.out.startsWith('{'), `verdict printed JSON (exit ${r.code}: ${r.err})`);
  return { code: r.code, result: JSON.parse(r.out) as Verdict };
};
const node = (v: Verdict, label: string) => v.nodes.find((n) => n.label === label)!;

test("swarm-8 (real gomel on Swarm): consensus by all 8, three crashed at exit in gomel's shutdown race; exit 0, --strict exit 1", async () => {
  const dir = path.join(LOGS, 'swarm-8');
  const r = await cli(['verdict', '--logs', dir]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(lastTwo(r.out), [
    'consensus reached by all 8 nodes (344 units in the same order)',
    "shutdown: clean on 5 of 8; 3 crashed after finishing (node2, node7, node8: panic: send on closed channel at pkg/sync/fetch/server.go:79 — gomel's own shutdown race)",
  ]);
  assert.match(
    r.out,
    /^node2: consensus — level 50\/50, 48 rounds, 344 ordered, order agrees; shutdown: crashed \(panic: send on closed channel at pkg\/sync\/fetch\/server\.go:79\)$/m,
  );
  const strict = await cli(['verdict', '--logs', dir, '--strict']);
  assert.equal(strict.code, 1);
  assert.match(strict.err, /^gomelctl: verdict --strict: consensus reached, but not every node shut down cleanly/);
  const { result } = await verdictOf(dir);
  assert.equal(result.all, true);
  assert.equal(result.clean, false);
  assert.deepEqual(
    result.nodes.filter((n) => n.shutdown.kind === 'crashed').map((n) => n.label),
    ['node2', 'node7', 'node8'],
  );
});

test('success-4: consensus by all 4, clean shutdown on all; exit 0 also with --strict', async () => {
  const r = await cli(['verdict', '--logs', path.join(LOGS, 'success-4'), '--strict']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(lastTwo(r.out), [
    'consensus reached by all 4 nodes (27 units in the same order)',
    'shutdown: clean on all 4 nodes',
  ]);
});

test('one-bad-key-4: pid 0 never created a unit and was killed; 1–3 agree; exit 1', async () => {
  const r = await cli(['verdict', '--logs', path.join(LOGS, 'one-bad-key-4')]);
  assert.equal(r.code, 1);
  assert.deepEqual(lastTwo(r.out), [
    'consensus reached by 3 of 4 nodes (pid 1, pid 2, pid 3; 22 units in the same order); not by pid 0 (never created a prime unit)',
    'shutdown: clean on 3 of 4; 1 did not stop by itself (killed or still running) (pid 0)',
  ]);
  assert.match(r.out, /^pid 0: NO consensus — .*errors: 300× "DataError: invalid signature"/m);
});

test('a changed ordered unit in one log shows the divergence at its position', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  const file = path.join(dir, '2.log.gz');
  const lines = await readLines(file);
  const target = lines.map((l, i) => (l.includes('"E":"Z"') ? i : -1)).filter((i) => i >= 0)[5]!; // the 6th ordered unit
  const record = JSON.parse(lines[target]!) as { C: number; H: number };
  lines[target] = lines[target]!.replace(`"H":${record.H}`, `"H":${record.H + 7}`);
  await writeLines(file, lines);
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 4, 'a fork has an exit code of its own');
  assert.equal(result.outcome, 'fork');
  assert.equal(result.divergences.length, 1);
  const d = result.divergences[0]!;
  assert.equal(d.position, 6);
  assert.deepEqual(d.minority.nodes, ['pid 2']);
  assert.deepEqual(d.majority.nodes.sort(), ['pid 0', 'pid 1', 'pid 3']);
  assert.equal(d.minority.unit, `${record.C}:${record.H + 7}`);
  assert.match((await cli(['verdict', '--logs', dir])).out, /divergence at ordered unit #6: .* pid 2 ordered/);
});

test('a Go panic after consensus: consensus holds, the shutdown names the panic and its consensus-go frame', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  // node3 now also panics, in another place than the known race.
  await fs.writeFile(path.join(dir, 'node3/exit_status'), '2\n');
  await fs.writeFile(
    path.join(dir, 'node3/stderr.txt'),
    'panic: runtime error: index out of range [3] with length 3\n\ngoroutine 7 [running]:\nmain.helper()\n\t/go/src/other/x.go:1\ngitlab.com/alephledger/consensus-go/pkg/order/linear/ordering.go:120 +0x1\n',
  );
  const r = await cli(['verdict', '--logs', dir]);
  assert.equal(r.code, 0);
  assert.match(r.out, /^consensus reached by all 8 nodes/m);
  assert.match(
    r.out,
    /shutdown: clean on 4 of 8; 4 crashed after finishing \(node2, node3, node7, node8: panic: send on closed channel at pkg\/sync\/fetch\/server\.go:79; panic: runtime error: index out of range \[3\] with length 3 at pkg\/order\/linear\/ordering\.go:120\)$/m,
  );
  assert.doesNotMatch(r.out, /shutdown race/, "only the fetch-server panic is gomel's known race");
});

test('exit 0 with the last lines lost: consensus, and the shutdown says the log lost its end', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  const file = path.join(dir, 'node5/4.config.log.gz');
  const lines = await readLines(file);
  // Lose the end: the stop lines, the last level's prime unit and the last 5 ordered units.
  const zs = lines.map((l, i) => (l.includes('"E":"Z"') ? i : -1)).filter((i) => i >= 0);
  const kept = lines.slice(0, zs[zs.length - 5]).filter((l) => !l.includes('"Q":50,'));
  await writeLines(file, kept);
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 0);
  const n5 = node(result, 'node5');
  assert.equal(n5.reached, true);
  assert.equal(n5.ordered, 339);
  assert.equal(n5.shutdown.kind, 'lost-last-lines');
  assert.match(result.shutdownLine, /1 lost the last lines of its log \(exit 0, no stop lines\) \(node5\)/);
  assert.equal(result.agreedUnits, 339);
});

test('a node one level short with the full order agrees; a node that ordered little does not', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  const short = path.join(dir, 'node2/1.config.log.gz');
  await writeLines(
    short,
    (await readLines(short)).filter((l) => !l.includes('"Q":50,')),
  );
  const little = path.join(dir, 'node6/5.config.log.gz');
  const lines = await readLines(little);
  const z = lines.map((l, i) => (l.includes('"E":"Z"') ? i : -1)).filter((i) => i >= 0);
  await writeLines(
    little,
    lines.slice(0, z[100]).filter((l) => !/"Q":(4\d|50),/.test(l)),
  );
  await fs.writeFile(path.join(dir, 'node6/exit_status'), '137\n');
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  assert.equal(node(result, 'node2').maxLevel, 49);
  assert.equal(node(result, 'node2').reached, true);
  assert.equal(node(result, 'node6').reached, false);
  // The committee ordered as far as f + 1 = 3 of its finishers: 344 (node4, the furthest, ordered 347).
  assert.equal(node(result, 'node6').reasons[0]!, 'ordered 100 units at highest level 17/50, where node1 ordered 344');
  assert.equal(node(result, 'node6').shutdown.detail, 'killed (SIGKILL, exit 137)');
  // 344: what the 7 ordered alike; 347: node4's order, a level further (hostile pass 9: "344 units … 100 of 347").
  assert.equal(
    result.consensusLine,
    'consensus reached by 7 of 8 nodes (node1, node2, node3 and 4 more; 344 units in the same order); not by node6 (ordered 100 units at highest level 17/50, where node1 ordered 344)',
  );
});

test('nodes past the first two reasons are counted as nodes, with their reasons (hostile pass 9: "and 1 more reasons")', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  // Three reasons: node6 and node7 ordered little (each its own count), node8 left no log.
  for (const [label, kept] of [
    ['node6', 100],
    ['node7', 60],
  ] as const) {
    const folder = path.join(dir, label);
    const log = path.join(
      folder,
      (await fs.readdir(folder)).find((f) => f.endsWith('.log.gz'))!,
    );
    const lines = await readLines(log);
    const z = lines.map((l, i) => (l.includes('"E":"Z"') ? i : -1)).filter((i) => i >= 0);
    await writeLines(log, lines.slice(0, z[kept]));
    await fs.writeFile(path.join(folder, 'exit_status'), '137\n');
  }
  const node8 = path.join(dir, 'node8');
  for (const f of await fs.readdir(node8)) if (f.endsWith('.log.gz')) await fs.rm(path.join(node8, f));
  const { result } = await verdictOf(dir);
  assert.match(
    result.consensusLine,
    /^consensus reached by 5 of 8 nodes \(node1, node2, node3 and 2 more; 344 units in the same order\); not by node6 \(ordered 100 units at [^)]*\), node7 \(ordered 60 units at [^)]*\) and 1 more node for another reason$/,
  );
});

test('a node still running when the logs were collected: named as running, judged on what it logged', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await fs.rm(path.join(dir, 'node4/exit_status'));
  await fs.writeFile(path.join(dir, 'node4/task.json'), JSON.stringify({ state: 'running', swarmNode: 'h2' }));
  const file = path.join(dir, 'node4/3.config.log.gz');
  await writeLines(file, (await readLines(file)).slice(0, 40));
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  const n4 = node(result, 'node4');
  assert.equal(n4.shutdown.kind, 'running');
  assert.equal(n4.swarmNode, 'h2');
  assert.match(result.shutdownLine, /1 is still running \(node4\)/);
});

test('a node with no files at all is named, never silently left out', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await fs.rm(path.join(dir, 'node8'), { recursive: true });
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  assert.equal(result.nodes.length, 8);
  assert.deepEqual(node(result, 'node8').reasons, ['no log']);
  assert.match(result.consensusLine, /7 of 8 nodes .* not by node8 \(no log\)$/);
});

test('the committee decides N: none is an error; two logs for one pid, or a pid outside it, are errors naming the files', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  const alone = await tempDir(t);
  await fs.cp(dir, path.join(alone, 'logs'), { recursive: true });
  await fs.rm(path.join(alone, 'logs/committee.ka'));
  const none = await cli(['verdict', '--logs', path.join(alone, 'logs'), '--keys', path.join(alone, 'nokeys')]);
  assert.equal(none.code, 1);
  assert.match(
    none.err,
    /^gomelctl: .*logs: no committee\.ka here nor in .*nokeys, so the committee size is unknown — pass --keys DIR/,
  );

  await fs.writeFile(path.join(dir, '0.log'), gunzipSync(await fs.readFile(path.join(dir, '0.log.gz'))));
  const twice = await cli(['verdict', '--logs', dir]);
  assert.equal(twice.code, 1);
  assert.match(twice.err, /two gomel logs for one node: 0\.log(\.gz)? and 0\.log(\.gz)? — keep one/);
  await fs.rm(path.join(dir, '0.log'));

  await fs.copyFile(path.join(dir, '3.log.gz'), path.join(dir, '4.log.gz'));
  const outside = await cli(['verdict', '--logs', dir]);
  assert.equal(outside.code, 1);
  assert.match(outside.err, /4\.log\.gz: pid 4 is outside the 4-node committee/);
});

test('--config takes a name or a path; a missing config is one line', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  const conf = JSON.parse(await fs.readFile(path.join(dir, 'conf.json'), 'utf8')) as { LevelLimit: number };
  conf.LevelLimit = 12; // nobody reached 12
  const other = path.join(dir, 'higher.json');
  await fs.writeFile(other, JSON.stringify(conf, null, 2));
  // The run's own conf.json is what it ran: a --config that disagrees is refused (a lower LevelLimit would
  // call logs cut short finished, hostile pass LV01), one that agrees is taken.
  const disagrees = await cli(['verdict', '--logs', dir, '--config', other]);
  assert.equal(disagrees.code, 2);
  assert.match(
    disagrees.err,
    /^gomelctl: --config .*higher\.json: LevelLimit 12, but the run's own .*conf\.json says 10; a run is judged by the config it ran — leave --config out$/m,
  );
  await fs.rm(path.join(dir, 'conf.json'));
  const byPath = await cli(['verdict', '--logs', dir, '--config', other]);
  assert.equal(byPath.code, 1);
  assert.match(byPath.out, /consensus not reached: no node reached LevelLimit 12/);
  const byName = await cli(['verdict', '--logs', dir, '--config', 'higher', '--configs', dir]);
  assert.match(byName.out, /no node reached LevelLimit 12/);
  const missing = await cli(['verdict', '--logs', dir, '--config', path.join(dir, 'absent.json')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /absent\.json: no such config — check the path$/);
  conf.LevelLimit = 0;
  await fs.writeFile(other, JSON.stringify(conf, null, 2));
  const zero = await cli(['verdict', '--logs', dir, '--config', other]);
  assert.equal(zero.code, 1);
  assert.match(
    zero.err,
    /higher\.json:LevelLimit: is 0: consensus is judged at a level of 1 or more — give the LevelLimit gomel ran to$/m,
  );
});

test("issue 30: LevelLimit comes from the run's own conf.json or --config, said in a line; with neither the verdict refuses, and never takes the working folder's configs/config.json", async (t) => {
  const dir = await copyLogs(t, 'success-4');
  const own = await cli(['verdict', '--logs', dir]);
  assert.equal(own.code, 0, own.err);
  assert.equal(own.out.split('\n')[0], `config: LevelLimit 10, from ${path.join(dir, 'conf.json')}`);
  const given = path.join(path.dirname(dir), 'ran.json');
  await fs.rename(path.join(dir, 'conf.json'), given);
  // The tests run from the repository, whose configs/config.json says LevelLimit 50: it was taken unsaid,
  // and these logs (LevelLimit 10) were judged "NO consensus".
  const none = await cli(['verdict', '--logs', dir]);
  assert.equal(none.code, 1);
  assert.equal(none.out, '');
  assert.equal(
    none.err,
    `gomelctl: ${dir}: holds no conf.json, so the config the run ran (its LevelLimit) is unknown; gomelctl does not guess it — pass --config NAME (from --configs) or --config FILE with the config the run used`,
  );
  const report = await cli(['report', '--logs', dir, '--json']);
  assert.equal(report.code, 1);
  assert.match(report.err, /holds no conf\.json/);
  const byFlag = await cli(['verdict', '--logs', dir, '--config', given]);
  assert.equal(byFlag.code, 0, byFlag.err);
  assert.equal(byFlag.out.split('\n')[0], `config: LevelLimit 10, from ${given}`);
});

test("issue 30: a --config beside the run's own conf.json must be the same config in every field: the first that differs is named, with both values", async (t) => {
  const dir = await copyLogs(t, 'success-4');
  const conf = JSON.parse(await fs.readFile(path.join(dir, 'conf.json'), 'utf8')) as {
    NParents: number;
    Sync: { Params: Record<string, string> }[];
  };
  const other = path.join(path.dirname(dir), 'other.json');
  // The same config written otherwise (another order of fields, no indentation) is the same config.
  const { NParents, ...rest } = conf;
  await fs.writeFile(other, JSON.stringify({ ...rest, NParents }));
  assert.equal((await cli(['verdict', '--logs', dir, '--config', other])).code, 0);
  conf.Sync[0]!.Params.timeout = '7s';
  await fs.writeFile(other, JSON.stringify(conf));
  const timeout = await cli(['verdict', '--logs', dir, '--config', other]);
  assert.equal(timeout.code, 2);
  assert.equal(timeout.out, '');
  assert.equal(
    timeout.err,
    `gomelctl: --config ${other}: Sync[0].Params.timeout "7s", but the run's own ${path.join(dir, 'conf.json')} says "2s"; a run is judged by the config it ran — leave --config out`,
  );
  conf.Sync[0]!.Params.timeout = '2s';
  conf.NParents = 3;
  await fs.writeFile(other, JSON.stringify(conf));
  assert.match(
    (await cli(['verdict', '--logs', dir, '--config', other])).err,
    /: NParents 3, but the run's own .* says 2;/,
  );
});

test("issue 30: a node's log that is a link to another node's (or a hard link: one device and inode) is refused, naming both", async (t) => {
  // <pid>.log files side by side: a link was dropped unseen ("pid 3: no log").
  const flat = await copyLogs(t, 'success-4');
  await fs.rm(path.join(flat, '3.log.gz'));
  await fs.symlink('2.log.gz', path.join(flat, '3.log.gz'));
  const linked = await cli(['verdict', '--logs', flat]);
  assert.equal(linked.code, 1);
  assert.equal(linked.out, '');
  assert.equal(
    linked.err,
    `gomelctl: ${path.join(flat, '3.log.gz')}: is the same file as ${path.join(flat, '2.log.gz')}, pid 2's evidence (a link to ${await fs.realpath(path.join(flat, '2.log.gz'))}): one file cannot be two nodes' evidence — put each node's own file in its place (\`gomelctl deploy logs\` collects them), or remove the link`,
  );
  // A link to a log of its own is read through.
  await fs.rm(path.join(flat, '3.log.gz'));
  await fs.copyFile(path.join(VECTORS, 'logs/success-4/3.log.gz'), path.join(path.dirname(flat), 'kept.log.gz'));
  await fs.symlink('../kept.log.gz', path.join(flat, '3.log.gz'));
  assert.equal((await cli(['verdict', '--logs', flat])).code, 0);
  // One folder per node: node3's log linked to node2's was judged as node3's ("consensus by all 8").
  const folders = await copyLogs(t, 'swarm-8');
  await fs.rm(path.join(folders, 'node3', '2.config.log.gz'));
  await fs.link(path.join(folders, 'node2', '1.config.log.gz'), path.join(folders, 'node3', '2.config.log.gz'));
  const hard = await cli(['verdict', '--logs', folders]);
  assert.equal(hard.code, 1);
  assert.match(
    hard.err,
    /^gomelctl: .*node3\/2\.config\.log\.gz: is the same file as .*node2\/1\.config\.log\.gz, node2's evidence \(a hard link\): one file cannot be two nodes' evidence/,
  );
  await fs.rm(path.join(folders, 'node3', '2.config.log.gz'));
  await fs.symlink('../node2/1.config.log.gz', path.join(folders, 'node3', '2.config.log.gz'));
  assert.match(
    (await cli(['verdict', '--logs', folders])).err,
    /node2's evidence \(a link to .*node2\/1\.config\.log\.gz\)/,
  );
});

test('an empty log, a truncated gzip and a 1 MB line are reported, not crashed on', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  await fs.writeFile(path.join(dir, '1.log.gz'), gzipSync(''));
  const full = await fs.readFile(path.join(dir, '3.log.gz'));
  await fs.writeFile(path.join(dir, '3.log.gz'), full.subarray(0, Math.floor(full.length / 2)));
  const lines = await readLines(path.join(dir, '2.log.gz'));
  await writeLines(path.join(dir, '2.log.gz'), [...lines.slice(0, 5), 'x'.repeat(1 << 20), ...lines.slice(5)]);
  const { code, result } = await verdictOf(dir);
  assert.equal(code, 1);
  assert.deepEqual(node(result, 'pid 1').reasons, ['never created a prime unit', 'ordered no units']);
  assert.deepEqual(node(result, 'pid 1').notes, ['empty log']);
  assert.ok(node(result, 'pid 3').notes.includes('log truncated (the gzip stream ends early)'));
  assert.deepEqual(node(result, 'pid 2').notes, ['1 malformed line(s) (log truncated?)']);
  // A line that is not gomel's among its ordered units may have been one: its order proves nothing (hostile pass G07).
  assert.equal(node(result, 'pid 2').reached, false);
  assert.equal(
    node(result, 'pid 2').reasons[0],
    'its order is no evidence: 1 damaged or cut line(s) among its ordered units',
  );
  // One node of four finished: 2f + 1 = 3 must (hostile passes 15, 16: one log at LevelLimit is no finished run).
  assert.equal(node(result, 'pid 0').reached, false);
  assert.match(node(result, 'pid 0').reasons.join('; '), /only 1 node finished .*; 2f \+ 1 = 3 must/);
});

test('recorded starts give the start skew', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  for (let k = 1; k <= 8; k++) await fs.writeFile(path.join(dir, `node${k}/started_at`), `${1764072000 + k * 0.1}\n`);
  const r = await cli(['verdict', '--logs', dir]);
  assert.match(r.out, /^start: the nodes started gomel within 0\.70 s of each other$/m);
});

test('a folder with no node logs, or no folder, is a one-line error naming it', async (t) => {
  const empty = await tempDir(t);
  await fs.copyFile(path.join(LOGS, 'success-4/committee.ka'), path.join(empty, 'committee.ka'));
  await fs.writeFile(path.join(empty, 'notes.txt'), 'not a log\n');
  const r = await cli(['verdict', '--logs', empty]);
  assert.equal(r.code, 1);
  assert.match(r.err, /holds no node logs .* collect them with `gomelctl deploy logs`/);
  const missing = await cli(['verdict', '--logs', path.join(empty, 'absent')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /absent: no such logs folder/);
  const file = await cli(['verdict', '--logs', path.join(empty, 'notes.txt')]);
  assert.equal(file.code, 1);
  assert.match(file.err, /notes\.txt: is a file, not a logs folder/);
});

test('Go panics: the message and the topmost consensus-go frame', () => {
  const p = parseGoPanic(
    'some line\npanic: send on closed channel\n\ngoroutine 105 [running]:\ngitlab.com/alephledger/consensus-go/pkg/sync/fetch.(*server).Resolve(0xc0)\n\t/go/src/gitlab.com/alephledger/consensus-go/pkg/sync/fetch/server.go:79 +0x205\n',
  )!;
  assert.deepEqual(p, { message: 'panic: send on closed channel', frame: 'pkg/sync/fetch/server.go:79' });
  assert.equal(isShutdownRace(p), true);
  assert.equal(isShutdownRace({ message: 'panic: send on closed channel', frame: 'pkg/order/x.go:1' }), false);
  assert.equal(parseGoPanic('Wrong number of addresses. Needs 2, got 3'), undefined);
  assert.equal(
    parseGoPanic('fatal error: all goroutines are asleep - deadlock!\n')!.message,
    'fatal error: all goroutines are asleep - deadlock!',
  );
});

test('probe reports: all ok, and a wrong key or an unreachable peer named', () => {
  const committee = probeCommittee([{ addresses: ['n1:9000'] }, { addresses: ['n2:9000'] }]);
  const ok = parseProbeReport('pid 0\nkey ok\npeer 0 n1:9000 ok\npeer 1 n2:9000 ok\nresult ok\n', committee);
  const badKey = parseProbeReport(
    'pid 1\nkey mismatch: the private key does not match committee line 2\npeer 0 n1:9000 ok\npeer 1 n2:9000 ok\nresult fail\n',
    committee,
  );
  const lost = parseProbeReport(
    'pid 2\nkey ok\npeer 0 n1:9000 ok\npeer 1 n2:9000 unreachable\nresult fail\n',
    committee,
  );
  const result = judgeProbes(
    [
      { label: 'n1', pid: 0, report: ok },
      { label: 'n2', pid: 1, report: badKey },
      { label: 'n3', pid: 2, report: lost },
      { label: 'n4', pid: 3, report: undefined },
    ],
    committee,
    4,
  );
  assert.equal(result.all, false);
  assert.deepEqual(
    result.nodes.map((n) => n.ok),
    [true, false, false, false],
  );
  assert.match(result.nodes[1]!.reasons[0]!, /key mismatch/);
  assert.match(result.nodes[2]!.reasons[0]!, /1 address\(es\) not reached: n2:9000 unreachable/);
  assert.equal(result.nodes[3]!.reasons[0], 'no probe report');
  assert.equal(judgeProbes([{ label: 'n1', pid: 0, report: ok }], committee, 1).all, true);
});

/** A 4-node probe folder on swarm-8's addresses cut to 4 nodes (node<k>:9000/10000/11000), node1's report replaced by `first`. */
async function probeFolder(t: Parameters<typeof tempDir>[0], first: (every: string[]) => string[]) {
  const dir = await tempDir(t);
  const committee = (await fs.readFile(path.join(LOGS, 'swarm-8/committee.ka'), 'utf8')).split('\n').slice(0, 4);
  await fs.writeFile(path.join(dir, 'committee.ka'), `${committee.join('\n')}\n`);
  const every = [0, 1, 2, 3].flatMap((p) => [9000, 10000, 11000].map((port) => `peer ${p} node${p + 1}:${port} ok`));
  const report = (pid: number, peers = every, tail = ['result ok']) =>
    [`pid ${pid}`, 'config config', 'nodes 4', 'key ok', ...peers, ...tail, ''].join('\n');
  for (let k = 1; k <= 4; k++) {
    await fs.mkdir(path.join(dir, `node${k}`));
    await fs.writeFile(path.join(dir, `node${k}/probe.txt`), k === 1 ? first(every).join('\n') : report(k - 1));
  }
  return { dir, report };
}

test("forged probe reports fail (hostile pass B12): one address 12 times, another pid's report, addresses outside the committee", async (t) => {
  const head = (pid: number) => [`pid ${pid}`, 'config config', 'nodes 4', 'key ok'];
  const cases: [string, (every: string[]) => string[], RegExp][] = [
    [
      'one address listed 12 times',
      () => [...head(0), ...Array(12).fill('peer 1 node2:9000 ok'), 'result ok'],
      /node1: FAIL — 1 address\(es\) reached; reached 1 of the committee's 12 addresses$/m,
    ],
    [
      "pid 3's report in node1's folder",
      (every) => [...head(3), ...every, 'result ok'],
      /node1: FAIL — 12 address\(es\) reached; the report is pid 3's, not pid 0's$/m,
    ],
    [
      '12 addresses of no member',
      () => [...head(0), ...Array.from({ length: 12 }, (_, j) => `peer 9 evil${j}:1 ok`), 'result ok'],
      /node1: FAIL — 0 address\(es\) reached; reached 0 of the committee's 12 addresses \(12 line\(s\) name an address outside the committee, or under another pid than its line's\)$/m,
    ],
    [
      'the committee addresses under the wrong pids',
      (every) => [
        ...head(0),
        ...every.map((l) => l.replace(/^peer (\d)/, (_, p) => `peer ${(Number(p) + 1) % 4}`)),
        'result ok',
      ],
      /node1: FAIL — 0 address\(es\) reached; reached 0 of the committee's 12 addresses \(12 line/m,
    ],
  ];
  for (const [what, first, line] of cases) {
    const { dir } = await probeFolder(t, first);
    const r = await cli(['verdict', '--logs', dir]);
    assert.equal(r.code, 1, `${what}: ${r.out}${r.err}`);
    assert.match(r.out, line, what);
    assert.match(r.out, /^node2: ok — 12 address\(es\) reached$/m, what);
    assert.equal(r.err, 'gomelctl: verdict: probe: 3 of 4 nodes reached every peer', what);
  }
  const { dir } = await probeFolder(t, (every) => [...head(0), ...every, 'result ok']);
  assert.equal((await cli(['verdict', '--logs', dir])).code, 0, 'the real reports pass');
});

test('two probe reports appended in one probe.txt are refused in one line naming the file and the line (hostile re-pass N10: the last pid and result won, the addresses added up, exit 0)', async (t) => {
  const head = (pid: number) => [`pid ${pid}`, 'config config', 'nodes 4', 'key ok'];
  const reached = (k: number) => `reached ${k} of 12 addresses in 1.0s after the common start`;
  const cases: [string, (every: string[]) => string[], RegExp][] = [
    [
      "pid 3's whole report, then node1's own cut short",
      (every) => [...head(3), ...every, reached(12), 'result ok', ...head(0), ...every.slice(0, 4)],
      /node1\/probe\.txt:19: a second "pid" line \(the first is line 1\): a probe writes one report, and this file holds more — /,
    ],
    [
      "node1's own failing report, then one of its own reaching the other 8 addresses",
      (every) => [
        ...head(0),
        ...every.slice(0, 4),
        reached(4),
        'result fail',
        ...head(0),
        ...every.slice(4),
        reached(8),
        'result ok',
      ],
      /node1\/probe\.txt:11: a second "pid" line \(the first is line 1\)/,
    ],
    [
      'a second result line',
      (every) => [...head(0), ...every, 'result fail', 'result ok'],
      /probe\.txt:18: a second "result" line \(the first is line 17\)/,
    ],
  ];
  for (const [what, first, line] of cases) {
    const { dir } = await probeFolder(t, first);
    const r = await cli(['verdict', '--logs', dir]);
    assert.equal(r.code, 1, `${what}: ${r.out}${r.err}`);
    assert.equal(r.out, '', what);
    assert.match(r.err, line, what);
    assert.equal(r.err.split('\n').length, 1, what);
  }
});

test('a probe error line quoting a private key is redacted in every node line, summary and --json (hostile pass B11)', async (t) => {
  const key = `${Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 256)).toString('base64')} ${Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 53 + 7) % 256)).toString('base64')} 0`;
  const { dir } = await probeFolder(t, (every) => [
    'pid 0',
    `key ${key}`,
    ...every,
    `error key ${key}`,
    `peer 1 node2:9000 unreachable ${key}`,
    'result fail',
  ]);
  const secrets = key.split(' ').slice(0, 2);
  for (const flags of [[], ['--json']]) {
    const r = await cli(['verdict', '--logs', dir, ...flags]);
    assert.equal(r.code, 1);
    assert.match(r.out, /redacted, 88 chars/);
    for (const secret of secrets)
      for (let i = 0; i + 8 <= secret.length; i++)
        assert.ok(!(r.out + r.err).includes(secret.slice(i, i + 8)), `${flags.join(' ')}: ${r.out}`);
  }
});
