// `experiment run` (issue 33) with a stand-in for `up`: the memory engine cannot drive up
// (it has no swarm info, registry or image build), so each run copies a real gomel run
// (test/vectors: success-4 for 4 nodes, swarm-8 for 8) where up would collect its logs,
// with the point's Txpu in its conf.json. Everything else is the command's own: the grid,
// the flags up gets, results.json and .csv, resume, a failed point, Ctrl-C.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, REPO, tempDir, VECTORS } from './helpers.js';
import { exitCodeOf } from '../src/cli.js';
import { experimentRun, type ExperimentDeps } from '../src/commands/experiment.js';
import { captureOutput } from '../src/commands/output.js';
import { report, takeReportedRun } from '../src/commands/report.js';
import type { UpFlags } from '../src/commands/up.flags.js';
import { EnvironmentError, ExpectedStall, Interrupted } from '../src/core/errors.js';
import type { RunResult } from '../src/core/experiment/results.js';
import { keyRedactor } from '../src/core/keys/secrets.js';
import { randomBytes } from 'node:crypto';

interface Lab {
  dir: string;
  file: string;
  out: string;
  /** Every up the experiment ran, with its flags. */
  ups: UpFlags[];
  cleaned: string[];
  run(stand?: Partial<ExperimentDeps>): Promise<{ lines: string[]; warnings: string[] }>;
  results(): Promise<RunResult[]>;
}

async function lab(t: { after: (fn: () => Promise<void>) => void }, experiment: Record<string, unknown>): Promise<Lab> {
  const dir = await tempDir(t);
  const binary = path.join(dir, 'gomel');
  await fs.writeFile(binary, '#!/bin/sh\n', { mode: 0o755 });
  const file = path.join(dir, 'exp.json');
  await fs.writeFile(
    file,
    JSON.stringify({ binary: 'gomel', configs: path.join(REPO, 'configs'), network: 'exp_net', ...experiment }),
  );
  const ups: UpFlags[] = [];
  const cleaned: string[] = [];
  const out = path.join(dir, 'out');
  return {
    dir,
    file,
    out,
    ups,
    cleaned,
    async run(stand = {}) {
      const o = captureOutput();
      await experimentRun(file, { out }, o, {
        up: (options) => standIn(options, ups),
        clean: async (network) => void cleaned.push(network),
        onInterrupt: () => () => {},
        ...stand,
      });
      return { lines: o.lines, warnings: o.warnings };
    },
    async results() {
      return (JSON.parse(await fs.readFile(path.join(out, 'results.json'), 'utf8')) as { runs: RunResult[] }).runs;
    },
  };
}

/** What up leaves in --logs, from a real run of that size, with the point's Txpu in its conf.json. */
async function standIn(options: UpFlags, ups: UpFlags[]): Promise<void> {
  ups.push(options);
  const from = path.join(VECTORS, 'logs', options.n === 4 ? 'success-4' : 'swarm-8');
  await fs.cp(from, options.logs, { recursive: true });
  const txpu = (JSON.parse(await fs.readFile(path.join(options.configs, 'config.json'), 'utf8')) as { Txpu: number })
    .Txpu;
  const conf = path.join(options.logs, 'conf.json');
  await fs.chmod(conf, 0o644);
  await fs.writeFile(conf, (await fs.readFile(conf, 'utf8')).replace(/"Txpu": ?1,/, `"Txpu": ${txpu},`));
  await fs.writeFile(path.join(options.logs, 'report.html'), '<!doctype html>'); // up's report step
}

test('a grid runs through up point by point: its flags, its folders, results.json and .csv with tx/s', async (t) => {
  const l = await lab(t, { n: [4, 8], config: { Txpu: [1, 100] }, repeats: 2, timeout: 120 });
  const { lines } = await l.run();
  assert.equal(l.ups.length, 8);
  // Every point's first repeat before any second.
  assert.deepEqual(
    l.ups.map((u) => `${path.basename(path.dirname(u.logs)).replace(/_[0-9a-f]{8}$/, '')}/${path.basename(u.logs)}`),
    [
      'n4_Txpu1/1',
      'n4_Txpu100/1',
      'n8_Txpu1/1',
      'n8_Txpu100/1',
      'n4_Txpu1/2',
      'n4_Txpu100/2',
      'n8_Txpu1/2',
      'n8_Txpu100/2',
    ],
  );
  const first = l.ups[3]!;
  assert.equal(first.n, 8);
  assert.equal(first.binary, path.join(l.dir, 'gomel'), "the file's paths are relative to it");
  assert.equal(first.network, 'exp_net');
  assert.equal(first.timeout, 120);
  assert.equal(first.keys, path.join(l.out, 'keys'));
  assert.equal(first.net, undefined);
  assert.equal(first.faults, undefined);
  const config = JSON.parse(await fs.readFile(path.join(first.configs, 'config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.deepEqual([config.Txpu, config.NParents], [100, 8]);
  assert.deepEqual(JSON.parse(await fs.readFile(path.join(first.configs, '.gomelctl-sync.json'), 'utf8')), {
    config: 8,
  });
  const results = await l.results();
  assert.equal(results.length, 8);
  for (const r of results) {
    assert.equal(r.status, 'finished');
    assert.equal(r.verdict, 'consensus');
    assert.equal(r.exitCode, 0);
    assert.equal(r.transactionsPerSecond, r.unitsPerSecond! * (r.knobs.Txpu as number), 'tx/s = units/s × Txpu');
    assert.equal(r.payloadBytesPerSecond, r.transactionsPerSecond! * 100);
    assert.ok(r.latencySeconds!.p50 > 0 && r.unitsOrdered! > 0);
    assert.equal(r.report, path.join(r.point, String(r.repeat), 'report.html'));
  }
  const csv = (await fs.readFile(path.join(l.out, 'results.csv'), 'utf8')).split('\r\n');
  assert.equal(
    csv[0],
    'point,repeat,id,n,Txpu,net,faults,status,verdict,exit_code,units_ordered,units_per_s,txpu,tx_per_s,payload_bytes_per_s,latency_p50_s,latency_p90_s,latency_p99_s,level_limit_s,start_skew_s,host_busy,host_cpus,host_bound,wall_s,started_at,message,report',
  );
  assert.equal(csv.length, 10, 'a header, 8 rows and the last line break');
  // One line a run: where it is, its verdict and figures, what is left.
  const progress = lines.filter((x) => x.startsWith('['));
  assert.equal(progress.length, 8);
  assert.match(
    progress[1]!,
    /^\[2\/8\] n4_Txpu100_[0-9a-f]{8} #1: consensus \(exit 0\) — \d+ units\/s, \d+ tx\/s, latency p50 [\d.]+ s \[\d+ s\] · 6 left, about \d+/,
  );
  assert.match(lines.at(-1)!, /^experiment: 8 of 8 runs done; .*results\.csv$/);
  assert.match(
    lines.at(-2)!,
    /^experiment: .*out\/report\.html \(8 runs\)$/,
    "the experiment's page, drawn at its end",
  );
  assert.match(await fs.readFile(path.join(l.out, 'report.html'), 'utf8'), /one curve per N/);
  // up's own output is beside the run's logs.
  assert.ok((await fs.stat(path.join(path.dirname(first.logs), 'up-1.txt'))).isFile());
});

test('a failed point is a result and the grid goes on; run again, nothing finished runs again; an edit runs only its points', async (t) => {
  const l = await lab(t, { n: [4, 8], config: { Txpu: [1, 100] } });
  let calls = 0;
  await l.run({
    up: async (options) => {
      await standIn(options, l.ups);
      if (++calls === 2) throw new ExpectedStall('verdict: the committee stalled: 3 faulty of 8, f = 2');
    },
  });
  assert.equal(l.ups.length, 4, 'the grid went on after the stall');
  const stalled = (await l.results()).find((r) => r.exitCode !== 0)!;
  assert.deepEqual([stalled.verdict, stalled.exitCode, stalled.status], ['stalled', 3, 'finished']);
  assert.equal(stalled.message, 'verdict: the committee stalled: 3 faulty of 8, f = 2');
  assert.ok(stalled.unitsPerSecond! > 0, 'its logs were collected and measured all the same');
  // Again: nothing to run, a stalled run included (it is a result, not a failure to run).
  const again = await l.run();
  assert.equal(l.ups.length, 4);
  assert.match(again.lines[0]!, /^experiment: 4 points × 1 repeat\(s\) = 4 runs: 4 done \(kept\), 0 to run$/);
  // An edit of one axis value: only its points run; the others' runs are kept.
  await fs.writeFile(l.file, (await fs.readFile(l.file, 'utf8')).replace('"Txpu":[1,100]', '"Txpu":[1,500]'));
  const edited = await l.run();
  assert.equal(l.ups.length, 6);
  assert.deepEqual(
    l.ups.slice(4).map((u) => u.n),
    [4, 8],
  );
  assert.match(edited.lines[0]!, /: 2 done \(kept\), 2 to run$/);
  assert.match(
    edited.lines[1]!,
    /^experiment: 2 finished run\(s\) of points no longer in the file stay in the results$/,
  );
  assert.equal((await l.results()).length, 6);
  // A change that keeps the point's values but not its plan (here the timeout of every run) is said so.
  await fs.writeFile(l.file, (await fs.readFile(l.file, 'utf8')).replace('"network"', '"timeout":99,"network"'));
  const plan = await cli(['experiment', 'plan', l.file, '--out', l.out]);
  assert.equal(plan.code, 0, plan.err);
  assert.match(plan.out, /: 0 done \(kept\), 4 to run \(4 of points whose plan changed\)/);
  assert.match(plan.out, /^n4_Txpu1_[0-9a-f]{8} +n 4, Txpu 1 +\(0\/1 done\)$/m);
  assert.match(plan.out, /about \d+ s for the 4 runs to run \(measured at N 4, 8\)/);
});

test('Ctrl-C stops the current run: its nodes removed, the run unfinished, exit 130; the next invocation runs it and the rest', async (t) => {
  const l = await lab(t, { n: [4], config: { Txpu: [1, 10, 100] } });
  let interrupt = () => {};
  const cut = l.run({
    onInterrupt: (fn) => ((interrupt = fn), () => (interrupt = () => {})),
    up: async (options, _out, stop) => {
      await standIn(options, l.ups);
      if (l.ups.length === 2) {
        interrupt(); // the user's Ctrl-C while the second run's nodes run
        stop.throwIfAborted(); // up's next step ends it so
      }
    },
  });
  await assert.rejects(cut, (e: unknown) => {
    assert.ok(e instanceof Interrupted);
    assert.match(e.message, /^experiment: interrupted; 1 of 3 runs done — the same command runs the rest$/);
    return true;
  });
  assert.deepEqual(l.cleaned, ['exp_net'], "the interrupted run's deployment removed");
  assert.equal(exitCodeOf(new Interrupted('x')), 130, 'exit 130, as a shell reports SIGINT');
  assert.equal(l.ups.length, 2, 'the third run never started');
  const cutResults = await l.results();
  assert.deepEqual(
    cutResults.map((r) => [r.status, r.verdict, r.exitCode]),
    [
      ['finished', 'consensus', 0],
      ['unfinished', 'interrupted', 130],
    ],
  );
  const next = await l.run();
  assert.match(next.lines[0]!, /: 1 done \(kept\), 2 to run \(1 left unfinished before\)$/);
  assert.equal(l.ups.length, 4, 'the interrupted run and the one after it');
  assert.deepEqual(
    (await l.results()).map((r) => r.status),
    ['finished', 'finished', 'finished'],
  );
});

test('a run that ends before any log (the engine gone) stops the grid: recorded unfinished, its error the exit; the next invocation retries it', async (t) => {
  const l = await lab(t, { n: [4], config: { Txpu: [1, 10, 100] } });
  const gone = l.run({
    up: async (options) => {
      if (l.ups.length === 1) {
        l.ups.push(options);
        throw new EnvironmentError('cannot reach the Docker engine at /var/run/docker.sock');
      }
      await standIn(options, l.ups);
    },
  });
  await assert.rejects(gone, /^EnvironmentError: cannot reach the Docker engine/);
  assert.equal(l.ups.length, 2, 'the third run never started');
  assert.deepEqual(
    (await l.results()).map((r) => [r.status, r.verdict, r.exitCode]),
    [
      ['finished', 'consensus', 0],
      ['unfinished', 'failed', 1],
    ],
  );
  const next = await l.run();
  assert.match(next.lines[0]!, /: 1 done \(kept\), 2 to run \(1 left unfinished before\)$/);
  assert.equal(l.ups.length, 4);
});

test('bad experiment files and folders: one line, exit 2 (or 1 for a folder not ours), nothing run or written', async (t) => {
  const l = await lab(t, { n: [4], config: { Txpu: [1] } });
  await fs.writeFile(l.file, JSON.stringify({ binary: 'gomel', n: [4], config: { Txpu: ['many'] } }));
  const bad = await cli(['experiment', 'run', l.file, '--out', l.out]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^gomelctl: .*exp\.json:config\.Txpu\[0\]: at n 4: Txpu: expected number, received string/);
  await assert.rejects(fs.stat(l.out), 'nothing written');
  await fs.writeFile(l.file, JSON.stringify({ binary: 'gomel', configs: path.join(REPO, 'configs'), n: [4] }));
  const foreign = path.join(l.dir, 'mine');
  await fs.mkdir(foreign);
  await fs.writeFile(path.join(foreign, 'notes.txt'), 'mine');
  const refused = await cli(['experiment', 'run', l.file, '--out', foreign]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /mine: holds files but no results\.json: not an experiment folder gomelctl wrote/);
  assert.deepEqual(await fs.readdir(foreign), ['notes.txt']);
  const missing = await cli(['experiment', 'plan', path.join(l.dir, 'none.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /none\.yaml: no such experiment file/);
  const nothing = await cli(['experiment', 'plan', l.file.replace('exp.json', 'x.json')]);
  assert.equal(nothing.code, 2);
});

test("what up's report step read is taken once by the experiment, for that folder only: no second read of the logs", async (t) => {
  const dir = path.join(await tempDir(t), 'swarm-8');
  await fs.cp(path.join(VECTORS, 'logs/swarm-8'), dir, { recursive: true });
  await report([], { logs: dir, configs: path.join(REPO, 'configs'), keys: 'keys' }, captureOutput());
  assert.equal(
    takeReportedRun(path.join(dir, 'elsewhere')),
    undefined,
    'another folder: nothing, and the entry is gone',
  );
  await report([], { logs: dir, configs: path.join(REPO, 'configs'), keys: 'keys' }, captureOutput());
  const taken = takeReportedRun(`${dir}/.`);
  assert.equal(taken?.figures.nodes, 8);
  assert.equal(takeReportedRun(dir), undefined, 'taken once');
});

test("a key cut into pieces, in up's output and in a run's error, is redacted in up-N.txt, results.json and results.csv; up's committee is told to the printer", async (t) => {
  const l = await lab(t, { n: [4] });
  const key = randomBytes(64).toString('base64');
  const pieces = `${key.slice(0, 29)} ${key.slice(29, 58)}`;
  const told: string[] = [];
  let forwarded = false;
  // As src/cli.ts gives it: the printer's redactor, and a keysFolder that learns a folder's secrets.
  const o = { ...captureOutput(), redact: keyRedactor([key]), keysFolder: async (dir: string) => void told.push(dir) };
  await experimentRun(l.file, { out: l.out }, o, {
    up: async (options, out) => {
      await standIn(options, l.ups);
      const before = told.length;
      await out.keysFolder?.(options.keys); // as up does after its keys gen
      forwarded = told.length > before;
      out.line(`node1: bad key ${pieces}`);
      throw new ExpectedStall(`verdict: node1 said ${pieces}`);
    },
    clean: async () => {},
    onInterrupt: () => () => {},
  });
  assert.ok(forwarded, "up's keysFolder reached the experiment's printer");
  assert.ok(told.includes(path.join(l.out, 'keys')), told.join(', '));
  const [r] = await l.results();
  assert.match(r!.message, /^verdict: node1 said \S+…\(redacted, 29 chars\) \S+…\(redacted, 29 chars\)$/);
  const windows = Array.from({ length: key.length - 7 }, (_, i) => key.slice(i, i + 8));
  const upFile = path.join(l.out, r!.point, `up-${r!.repeat}.txt`);
  // Before the fix: whole in each file.
  for (const file of [upFile, path.join(l.out, 'results.json'), path.join(l.out, 'results.csv')]) {
    const text = await fs.readFile(file, 'utf8');
    assert.match(text, /redacted, 29 chars/, file);
    assert.deepEqual(
      windows.filter((w) => text.includes(w)),
      [],
      `${file}: ${text}`,
    );
  }
});
