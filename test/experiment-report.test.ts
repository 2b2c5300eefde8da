// The experiment's page (issue 33): transactions/s against latency, one curve per N, the
// repeats as median and range, host-bound points marked; each figure against each axis;
// a table of every run linking its own report. `report DIR` draws it again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, tempDir } from './helpers.js';
import { experimentCharts, summarisePoints } from '../src/core/experiment/charts.js';
import { RESULTS_FORMAT, resultsCsv, type RunResult } from '../src/core/experiment/results.js';
import { experimentPage } from '../src/report/experiment-html.js';

/** A finished run of point (n, Txpu): throughput and latency as given. */
function run(
  n: number,
  txpu: number,
  repeat: number,
  unitsPerSecond: number,
  p50: number,
  extra: Partial<RunResult> = {},
): RunResult {
  const point = `n${n}_Txpu${txpu}_0000000${n % 10}`;
  return {
    id: `${point}#${repeat}`,
    point,
    repeat,
    label: `n ${n}, Txpu ${txpu}`,
    n,
    knobs: { Txpu: txpu },
    net: 'none',
    faults: 'none',
    status: 'finished',
    verdict: 'consensus',
    exitCode: 0,
    message: `consensus reached by all ${n} nodes`,
    startedAt: '2026-12-07T09:00:00.000Z',
    wallSeconds: 60,
    unitsOrdered: 400,
    unitsPerSecond,
    txpu,
    transactionsPerSecond: unitsPerSecond * txpu,
    payloadBytesPerSecond: unitsPerSecond * txpu * 100,
    latencySeconds: { p50, p90: p50 * 2, p99: p50 * 3 },
    levelLimitSeconds: 10,
    startSkewSeconds: 0.1,
    report: `${point}/${repeat}/report.html`,
    ...extra,
  };
}

/** 2 N × 3 Txpu × 2 repeats; N 8 at Txpu 1000 saturated its host in one repeat; one stall. */
const RESULTS: RunResult[] = [4, 8].flatMap((n) =>
  [1, 100, 1000].flatMap((txpu) =>
    [1, 2].map((repeat) =>
      run(n, txpu, repeat, 30 - n + repeat, n / 8 + repeat / 4, {
        ...(n === 8 && txpu === 1000 && repeat === 2 ? { hostBusy: 0.97, hostCpus: 2, hostBound: true } : {}),
        ...(n === 4 && txpu === 100 && repeat === 2
          ? {
              verdict: 'stalled',
              exitCode: 3,
              message: 'verdict: stalled',
              unitsPerSecond: undefined,
              transactionsPerSecond: undefined,
              latencySeconds: undefined,
            }
          : {}),
      }),
    ),
  ),
);

test('transactions/s against latency: a curve per N, a point per load at the median of its repeats, its range, host-bound as a cross', () => {
  const points = summarisePoints(RESULTS);
  assert.equal(points.length, 6);
  const n8 = points.find((p) => p.label === 'n 8, Txpu 1000')!;
  assert.deepEqual(n8.tx, { median: 23500, min: 23000, max: 24000 }, 'units/s 23 and 24, × 1000');
  assert.deepEqual(n8.latency, { median: 1.375, min: 1.25, max: 1.5 });
  assert.equal(n8.hostBound, true, 'one of its repeats was host-bound');
  assert.equal(
    points.find((p) => p.label === 'n 4, Txpu 100')!.tx!.median,
    2700,
    'the stalled repeat measured nothing',
  );
  const [curve, ...against] = experimentCharts(RESULTS);
  assert.equal(curve!.title, 'Transactions per second against latency, one curve per N');
  const spec = curve!.spec as {
    data: { values: Record<string, unknown>[] };
    layer: { mark: { type: string }; encoding: Record<string, { field?: string; scale?: { type?: string } }> }[];
  };
  assert.equal(spec.layer[0]!.encoding.x!.scale!.type, 'log', 'latency on a log axis');
  assert.equal(spec.layer[0]!.encoding.y!.scale!.type, 'log', 'Txpu 1 to 1000: transactions/s on a log axis too');
  assert.equal(spec.layer[0]!.encoding.color!.field, 'N', 'one curve per N');
  assert.deepEqual(
    spec.layer.map((l) => l.mark.type),
    ['line', 'rule', 'rule', 'point', 'text'],
    'the curve, the latency range, the throughput range, the points, their load',
  );
  assert.equal(spec.layer[3]!.encoding.shape!.field, 'host');
  const bound = spec.data.values.filter((v) => v.host !== 'not saturated');
  assert.deepEqual(
    bound.map((v) => [v.N, v.load]),
    [[8, 'Txpu 1000']],
  );
  assert.deepEqual(
    against.map((c) => c.title),
    [
      'Transactions per second against committee size N',
      'Own-unit latency p50 against committee size N',
      'Transactions per second against Txpu',
      'Own-unit latency p50 against Txpu',
    ],
  );
  const byTxpu = against[2]!.spec as { data: { values: { at: string; series: string }[] } };
  assert.deepEqual([...new Set(byTxpu.data.values.map((v) => v.series))], ['n 4', 'n 8'], 'a series per N');
});

test('the page: the host-bound runs said first, every run in the table with its verdict and a link to its report', () => {
  const html = experimentPage('gomel experiment scaling', RESULTS, [], (r) => `../scaling/${r}`);
  assert.match(html, /<li>12 run\(s\) finished, 1 without consensus \(stalled\)\.<\/li>/);
  assert.match(html, /<li class="marked">1 run\(s\) HOST-BOUND: .*\(a cross in the charts; n 8, Txpu 1000\)/);
  const rows = [...html.matchAll(/<tr( class="marked")?><td>/g)];
  assert.equal(rows.length, 12);
  assert.equal(rows.filter((m) => m[1]).length, 2, 'the stall and the host-bound run marked');
  assert.ok(html.includes('<td>stalled (exit 3): verdict: stalled</td>'));
  assert.ok(html.includes('<td>HOST-BOUND: 97% of 2 CPUs</td>'));
  assert.ok(html.includes('<a href="../scaling/n8_Txpu1000_00000008/2/report.html">report</a>'));
  assert.ok(html.includes('<td>23000 (Txpu 1000)</td>'));
});

test('results.csv: a row a run, every knob a column, quoted where it must be', () => {
  const csv = resultsCsv([
    run(4, 1, 1, 20, 0.5),
    run(4, 1, 2, 20, 0.5, {
      knobs: { Txpu: 1, CreateDelay: 0.1 },
      net: 'delay=80ms,jitter=10ms',
      message: 'a "quoted" word',
    }),
  ]).split('\r\n');
  assert.equal(csv[0]!.split(',').slice(0, 7).join(','), 'point,repeat,id,n,Txpu,CreateDelay,net');
  assert.match(csv[1]!, /^n4_Txpu1_00000004,1,n4_Txpu1_00000004#1,4,1,,none,/);
  assert.match(
    csv[2]!,
    /,4,1,0\.1,"delay=80ms,jitter=10ms",none,finished,consensus,0,400,20,1,20,2000,0\.5,1,1\.5,10,0\.1,,,,60,/,
  );
  assert.match(csv[2]!, /,"a ""quoted"" word",/);
});

test('report DIR on an experiment folder draws its page again (and --json gives its results)', async (t) => {
  const dir = await tempDir(t);
  await fs.writeFile(path.join(dir, 'results.json'), JSON.stringify({ format: RESULTS_FORMAT, runs: RESULTS }));
  const r = await cli(['report', dir]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /experiment: .*report\.html \(12 runs\)/);
  const html = await fs.readFile(path.join(dir, 'report.html'), 'utf8');
  assert.equal((html.match(/<svg /g) ?? []).length, 5, 'the curve and two figures against each of N and Txpu');
  assert.match(html, /data-chart="Transactions per second against latency, one curve per N"/);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'no script, nothing fetched: opens offline');
  const json = await cli(['report', '--json', dir]);
  assert.equal(json.code, 0, json.err);
  assert.equal((JSON.parse(json.out) as RunResult[]).length, 12);
  // A run's report is a path in the folder: a URL (a live link in the page) or an absolute path is refused.
  for (const report of ['javascript:alert(1)', '/etc/passwd']) {
    const runs = RESULTS.map((x, i) => (i === 0 ? { ...x, report } : x));
    await fs.writeFile(path.join(dir, 'results.json'), JSON.stringify({ format: RESULTS_FORMAT, runs }));
    const forged = await cli(['report', dir]);
    assert.equal(forged.code, 1, forged.out);
    assert.match(forged.err, /results\.json: not the results of an experiment/);
    assert.doesNotMatch(await fs.readFile(path.join(dir, 'report.html'), 'utf8'), /javascript:/);
  }
  // A folder that is neither a run nor an experiment is refused as before.
  await fs.writeFile(path.join(dir, 'results.json'), '{"format": "something else"}');
  const refused = await cli(['report', dir]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /results\.json: not the results of an experiment/);
});

test("report DIR --out naming a link is refused as for a run (exit 2, the link kept); the page's own place in DIR is replaced", async (t) => {
  const dir = await tempDir(t);
  await fs.writeFile(path.join(dir, 'results.json'), JSON.stringify({ format: RESULTS_FORMAT, runs: RESULTS }));
  const mine = path.join(dir, 'mine.txt');
  await fs.writeFile(mine, 'keep me\n');
  const link = path.join(dir, 'page.html');
  await fs.symlink(mine, link);
  const r = await cli(['report', dir, '--out', link]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /^gomelctl: report --out .*page\.html: a symbolic link \(to .*mine\.txt\); gomelctl neither/);
  assert.equal(await fs.readlink(link), mine);
  await fs.symlink(mine, path.join(dir, 'report.html'));
  assert.equal((await cli(['report', dir])).code, 0);
  assert.ok((await fs.lstat(path.join(dir, 'report.html'))).isFile());
  assert.equal(await fs.readFile(mine, 'utf8'), 'keep me\n');
});
