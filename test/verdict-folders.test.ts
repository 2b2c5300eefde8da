// Which node a logs folder's files are (issue 30, hostile pass h8): a node is judged, and named, as
// the committee's pid its evidence is, never as whatever its folder happens to be called.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, copyLogs } from './helpers.js';
import type { Verdict } from '../src/core/logs/verdict.js';

const verdictOf = async (dir: string) => {
  const r = await cli(['verdict', '--logs', dir, '--json']);
  return { code: r.code, result: JSON.parse(r.out) as Verdict };
};

test("swapped node folders are refused in one line naming the folder, its log's pid and that pid's host (it pinned pid 1's panic on node1, pid 0)", async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await fs.rename(path.join(dir, 'node1'), path.join(dir, 'tmp'));
  await fs.rename(path.join(dir, 'node2'), path.join(dir, 'node1'));
  await fs.rename(path.join(dir, 'tmp'), path.join(dir, 'node2'));
  const r = await cli(['verdict', '--logs', dir]);
  assert.equal(r.code, 1, r.out);
  assert.equal(r.out, '');
  assert.doesNotMatch(r.err, /\n/);
  assert.match(
    r.err,
    /^gomelctl: .*\/node1: holds the log of pid 1 \(1\.config\.log\.gz\), but line 2 of .*committee\.ka gives pid 1 the host node2, not node1 — put each node's files in the folder named after its host \(pid 1's in node2\/\)/,
  );
});

test('a folder named as no committee host is refused when the hosts name the nodes apart, saying whose log it holds', async (t) => {
  const dir = await copyLogs(t, 'swarm-8');
  await fs.rename(path.join(dir, 'node1'), path.join(dir, 'zzz'));
  const r = await cli(['verdict', '--logs', dir]);
  assert.equal(r.code, 1, r.out);
  assert.match(
    r.err,
    /^gomelctl: .*\/zzz: no committee line names host zzz; its log \(0\.config\.log\.gz\) is pid 0's, whose host is node1 — name the folder node1/,
  );
  // A twin's folder the run's record names no twin for is refused so, also with its node's folder gone.
  await fs.rename(path.join(dir, 'zzz'), path.join(dir, 'node1-twin'));
  const twin = await cli(['verdict', '--logs', dir]);
  assert.equal(twin.code, 1, twin.out);
  assert.match(twin.err, /node1-twin: .*the run's record \(run\.json\) names no twin of pid 0/);
});

test('when the hosts do not tell nodes apart (all 127.0.0.1), folders of any name are read by their log, and nodes with none are "pid N"', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  for (const pid of [0, 1]) {
    await fs.mkdir(path.join(dir, `run-${pid}`));
    await fs.rename(path.join(dir, `${pid}.log.gz`), path.join(dir, `run-${pid}`, `${pid}.log.gz`));
  }
  for (const pid of [2, 3]) await fs.rm(path.join(dir, `${pid}.log.gz`));
  const { result } = await verdictOf(dir);
  assert.deepEqual(
    result.nodes.map((n) => n.label),
    ['run-0', 'run-1', 'pid 2', 'pid 3'],
  );
  // Two of four nodes left a log: 2f + 1 = 3 must finish, so no node reached consensus (hostile pass 16).
  assert.deepEqual(
    result.nodes.map((n) => n.reached),
    [false, false, false, false],
  );
  assert.match(result.consensusLine, /only 2 nodes finished .*; 2f \+ 1 = 3 must/);
  // A folder named as a host many lines share, holding no log, cannot say which node it is.
  await fs.mkdir(path.join(dir, '127.0.0.1'));
  await fs.writeFile(path.join(dir, '127.0.0.1', 'exit_status'), '0\n');
  const r = await cli(['verdict', '--logs', dir]);
  assert.equal(r.code, 1, r.out);
  assert.match(
    r.err,
    /127\.0\.0\.1: holds no gomel log, and 4 committee lines name host 127\.0\.0\.1 \(pids 0, 1, 2 and 1 more\): which node it is is unknown/,
  );
});

test('<pid>.log files beside an empty or unrelated folder are read; beside a node folder, the mix is refused naming the folder', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  await fs.mkdir(path.join(dir, 'notes'));
  await fs.writeFile(path.join(dir, 'notes', 'x.txt'), 'mine\n');
  const read = await verdictOf(dir);
  assert.equal(read.code, 0);
  assert.deepEqual(
    read.result.nodes.map((n) => n.label),
    ['pid 0', 'pid 1', 'pid 2', 'pid 3'],
  );
  await fs.mkdir(path.join(dir, 'node9'));
  await fs.copyFile(path.join(dir, '0.log.gz'), path.join(dir, 'node9', '0.log.gz'));
  const r = await cli(['verdict', '--logs', dir]);
  assert.equal(r.code, 1, r.out);
  assert.match(
    r.err,
    /^gomelctl: .*success-4: holds both <pid>\.log files \(0\.log\.gz, 1\.log\.gz, 2\.log\.gz and 1 more\) and node folders \(node9\): one layout per logs folder — move node9 away, or the <pid>\.log files/,
  );
});

test('a FIFO named as a <pid>.log is named, not skipped as "no log"', async (t) => {
  const dir = await copyLogs(t, 'success-4');
  await fs.rm(path.join(dir, '2.log.gz'));
  execFileSync('mkfifo', [path.join(dir, '2.log.gz')]);
  // A folder of a log's name too.
  await fs.rm(path.join(dir, '3.log.gz'));
  await fs.mkdir(path.join(dir, '3.log.gz'));
  const { result } = await verdictOf(dir);
  const reasons = (label: string) => result.nodes.find((n) => n.label === label)!.reasons.join('; ');
  assert.match(reasons('pid 2'), /2\.log\.gz: is a named pipe \(FIFO\), not a regular file/);
  assert.match(reasons('pid 3'), /3\.log\.gz: is a folder/);
});
