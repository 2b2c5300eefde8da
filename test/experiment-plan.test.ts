// Experiment files (issue 33): the grid is the product of the axes (or the points), each
// point checked as `up` checks its flags, every problem one line naming the file and the
// field (exit 2, nothing run); each run known by a hash that an edit of another point keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { checkExperimentFile, MAX_DEPTH, MAX_RUNS, MAX_VALUES } from '../src/core/experiment/spec.js';
import { planExperiment, runSetting, type ExperimentPlan } from '../src/core/experiment/grid.js';
import { UsageError } from '../src/core/errors.js';
import { parseExperimentText, readExperiment } from '../src/fs/experiment-file.js';
import { REPO, tempDir } from './helpers.js';

const BASE = readFileSync(path.join(REPO, 'configs/config.json'), 'utf8');
const FILE = 'exp.yaml';

/** The plan of an experiment file's value, as readExperiment makes it, with the repository's configs/config.json as base. */
function plan(value: Record<string, unknown>, texts: Record<string, string> = {}): ExperimentPlan {
  const spec = checkExperimentFile({ binary: '/gomel', ...value }, FILE);
  const resolve = (p: string) => path.resolve('/exp', p);
  const setting = runSetting(
    spec,
    FILE,
    { binary: '/gomel' },
    { registry: '127.0.0.1:5000', network: 'aleph_net', timeout: 300 },
  );
  return planExperiment({
    file: FILE,
    spec,
    setting,
    base: { file: 'configs/config.json', text: BASE },
    texts: new Map(Object.entries(texts).map(([k, v]) => [resolve(k), v])),
    resolve,
  });
}

/** The one line a bad file gives: a UsageError (exit 2). */
function refusal(value: Record<string, unknown>, texts?: Record<string, string>): string {
  try {
    plan(value, texts);
  } catch (error) {
    assert.ok(error instanceof UsageError, `a UsageError (exit 2), not ${String(error)}`);
    assert.ok(!error.message.includes('\n'), 'one line');
    return error.message;
  }
  assert.fail('refused');
}

test('the grid is the product of the axes: N outermost, each repeat of every point before the next repeat', () => {
  const p = plan({ n: [4, 8, 16], config: { Txpu: [1, 100, 1000] }, repeats: 2 });
  assert.equal(p.points.length, 9);
  assert.equal(p.runs.length, 18);
  assert.deepEqual(
    p.points.map((x) => x.label),
    [4, 8, 16].flatMap((n) => [1, 100, 1000].map((t) => `n ${n}, Txpu ${t}`)),
  );
  assert.deepEqual(
    p.runs.map((r) => r.repeat),
    [...Array(9).fill(1), ...Array(9).fill(2)],
  );
  assert.match(p.points[4]!.name, /^n8_Txpu100_[0-9a-f]{8}$/);
  assert.equal(new Set(p.runs.map((r) => r.id)).size, 18, 'every run its own id');
  // The config the nodes run: the knob set; NParents follows N and CRPFixedPrefix is capped at N (as config sync).
  const config = JSON.parse(p.points[6]!.configText) as Record<string, number>;
  assert.deepEqual([config.Txpu, config.NParents, config.CRPFixedPrefix, config.LevelLimit], [1, 16, 8, 50]);
  const small = JSON.parse(p.points[0]!.configText) as Record<string, number>;
  assert.deepEqual([small.NParents, small.CRPFixedPrefix], [4, 4]);
  assert.ok(p.points[0]!.configText.includes('"StepSize": 0.0'), "the base's text kept but for the knobs");
});

test("a run's id survives edits of other points, of the file's order, and of the repeats after it", () => {
  const before = plan({ n: [4, 8], config: { Txpu: [1, 100, 1000] }, repeats: 2 });
  const after = plan({ repeats: 3, config: { Txpu: [1, 100, 500] }, n: [4, 8] });
  const ids = (p: ExperimentPlan, label: RegExp) =>
    p.runs.filter((r) => label.test(r.point.label)).map((r) => `${r.point.label}#${r.repeat}=${r.id}`);
  for (const label of [/Txpu 1$/, /Txpu 100$/])
    assert.deepEqual(ids(after, label).slice(0, 4), ids(before, label), `${label}: its first two repeats kept`);
  const kept = new Set(before.runs.map((r) => r.id));
  assert.equal(after.runs.filter((r) => kept.has(r.id)).length, 8, '2 Txpu × 2 N × 2 repeats kept; the rest new');
  // What the runs do changes them all: another timeout, another binary.
  const longer = plan({ n: [4, 8], config: { Txpu: [1, 100, 1000] }, repeats: 2, timeout: 600 });
  assert.equal(longer.runs.filter((r) => before.runs.some((b) => b.id === r.id)).length, 0);
});

test('explicit points: each its own values; the same point twice is refused', () => {
  const p = plan({
    points: [
      { n: 8, faults: 'crash:8@5s' },
      { n: 8, faults: 'crash:7,8@5s' },
      { n: 16, config: { Txpu: 100 }, net: 'delay=40ms' },
    ],
  });
  assert.deepEqual(
    p.points.map((x) => x.label),
    ['n 8, faults crash:8@5s', 'n 8, faults crash:7,8@5s', 'n 16, Txpu 100, net delay=40ms'],
  );
  assert.match(p.points[1]!.name, /^n8_faults-crash-7-8@5s_[0-9a-f]{8}$/);
  assert.match(
    refusal({ points: [{ n: 8 }, { n: 8 }] }),
    /^exp\.yaml: the point n 8 is given twice — give each point once/,
  );
});

test('bad experiment files: one line naming the file and the field, with the fix', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { n: [4], config: { TxPU: [1] } },
      /^exp\.yaml:config\.TxPU: "TxPU" is not a gomel config knob — the knobs are NParents, PrimeOnly, .*Txpu, LevelLimit/,
    ],
    [
      { n: [4], config: { Txpu: [1, 1.5] } },
      /^exp\.yaml:config\.Txpu\[1\]: at n 4: Txpu: 1\.5 is not a whole-number literal.* — write/,
    ],
    [
      { n: [8], config: { NParents: [16] } },
      /^exp\.yaml:config\.NParents\[0\]: at n 8: NParents: 16 exceeds the committee size 8/,
    ],
    [
      { n: [4], config: { Sync: [[{ Type: 'gossip', Params: { nIn: '1', nOut: '1', timeout: '2' }, Fallback: '' }]] } },
      /^exp\.yaml:config\.Sync\[0\]: at n 4: Sync\[0\]\.Params\.timeout: "2" is not a Go duration: it has no unit/,
    ],
    [{ n: [4, 3] }, /^exp\.yaml:n\[1\]: 3: gomel needs at least 4 nodes/],
    [{ n: [] }, /^exp\.yaml:n: an empty list makes the grid empty — give at least one value/],
    [{ n: [4], config: { Txpu: [] } }, /^exp\.yaml:config\.Txpu: an empty list makes the grid empty/],
    [{ points: [] }, /^exp\.yaml:points: an empty list makes the grid empty/],
    [{}, /^exp\.yaml:n: missing — give the committee sizes/],
    [{ n: [4], nn: 1 }, /^exp\.yaml:nn: unknown field — the fields are binary, code, .*, points$/],
    [
      { points: [{ n: 4, knobs: {} }] },
      /^exp\.yaml:points\[0\]\.knobs: unknown field — the fields are n, config, net, faults$/,
    ],
    [{ n: [4], points: [{ n: 4 }] }, /^exp\.yaml:n: axes and points together/],
    // Hostile pass 5, B4: zod's record of knobs dropped a "__proto__" knob unseen (a value from JSON.parse, as YAML's).
    [
      JSON.parse('{"n": [4], "config": {"__proto__": [1]}}') as Record<string, unknown>,
      /^exp\.yaml:config\.__proto__: "__proto__" is not a gomel config knob — the knobs are NParents/,
    ],
    [
      JSON.parse('{"points": [{"n": 4, "config": {"__proto__": 1}}]}') as Record<string, unknown>,
      /^exp\.yaml:points\[0\]\.config\.__proto__: "__proto__" is not a gomel config knob/,
    ],
    [
      JSON.parse('{"n": [4], "config": {"Sync": [[{"Type": "gossip", "__proto__": 1}]]}}') as Record<string, unknown>,
      /^exp\.yaml:config\.Sync\[0\]\[0\]\.__proto__: unknown field — gomel rejects fields it does not know/,
    ],
    [{ n: [8], faults: ['crash:9@3s'] }, /^exp\.yaml:faults\[0\]: at n 8: "crash:9@3s": .*9/],
    [{ n: [4], net: ['delay=abc'] }, /^exp\.yaml:net\[0\]: at n 4: delay=abc: /],
    [{ n: [4], repeats: 0 }, /^exp\.yaml:repeats: expected a whole number from 1 to 20/],
    [{ n: [4], registry: 'no registry' }, /^exp\.yaml:registry: "no registry": expected HOST\[:PORT\]/],
    [{ n: [4], timeout: 'long' }, /^exp\.yaml:timeout: expected a number, not a string/],
    [{ n: [4], code: '/src' }, /^exp\.yaml:code: binary and code together/],
    [
      { n: [4, 8, 16, 32, 64], config: { Txpu: Array.from({ length: 41 }, (_, i) => i) } },
      /^exp\.yaml: the grid is 205 runs \(205 points × 1 repeats\), more than 200 — cut an axis/,
    ],
  ];
  for (const [value, expected] of cases) assert.match(refusal(value), expected, JSON.stringify(value));
  // A zones file that does not cover the committee: named inside the file, at that N.
  const zones = JSON.stringify({
    zones: { eu: '1-2', us: '3-4' },
    links: { 'eu>us': 'delay=10ms', 'us>eu': 'delay=10ms' },
  });
  assert.match(
    refusal({ n: [4, 8], net: [{ zones: 'z.json' }] }, { 'z.json': zones }),
    /^exp\.yaml:net\[0\]: at n 8: \/exp\/z\.json/,
  );
});

test('an axis or the points of more than 200 values is refused at its path before any of it is typed or expanded', () => {
  const long = Array.from({ length: MAX_RUNS + 1 }, () => 4);
  const cases: [Record<string, unknown>, string][] = [
    [{ n: long }, 'n'],
    [{ n: [4], config: { Txpu: long } }, 'config.Txpu'],
    [{ n: [4], net: long }, 'net'],
    [{ points: long.map((n) => ({ n })) }, 'points'],
  ];
  for (const [value, where] of cases)
    assert.throws(
      () => checkExperimentFile(value, FILE),
      new UsageError(
        `exp.yaml:${where}: a list of 201 values, more than the 200 runs an experiment may have — cut it, or split the grid over several files`,
      ),
      where,
    );
  // 200 values are typed as before; what they multiply to is the grid's own refusal.
  assert.equal(checkExperimentFile({ n: long.slice(1) }, FILE).n!.length, MAX_RUNS);
});

test('a value nested more than 16 deep is refused at its path (100,000 deep overflowed the stack: exit 70)', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.throws(
    () => checkExperimentFile({ n: [4], config: { Txpu: [deep] } }, FILE),
    new UsageError(
      `exp.yaml:config.Txpu${'[0]'.repeat(MAX_DEPTH - 2)}: nested more than 16 deep, far deeper than any gomel config`,
    ),
  );
  // The deepest place a knob goes is typed as before.
  const sync = [{ Type: 'gossip', Params: { nIn: '1', nOut: '1', timeout: '2s' }, Fallback: '' }];
  assert.deepEqual(checkExperimentFile({ points: [{ n: 4, config: { Sync: sync } }] }, FILE).points![0]!.config, {
    Sync: sync,
  });
});

test('JSON experiment files need nothing more; YAML goes through the yaml package', async (t) => {
  assert.deepEqual(await parseExperimentText('{"n": [4, 8]}', 'e.json'), { n: [4, 8] });
  await assert.rejects(parseExperimentText('{"n": [4,', 'e.json'), /^UsageError: e\.json: not valid JSON/);
  const yaml = await import('yaml' as string).then(
    () => true,
    () => false,
  );
  const read = parseExperimentText('n: [4, 8]\nconfig:\n  Txpu: [1, 100]\n', 'e.yaml');
  if (yaml) assert.deepEqual(await read, { n: [4, 8], config: { Txpu: [1, 100] } });
  else await assert.rejects(read, /e\.yaml: reading YAML needs the yaml package, which is not installed/);
  // The examples are real experiments: each plans (with its own paths, a binary given on the command line).
  const dir = await tempDir(t);
  const binary = path.join(dir, 'gomel');
  await fs.writeFile(binary, '#!/bin/sh\n', { mode: 0o755 });
  for (const example of ['scaling', 'faults', 'network']) {
    const read = readExperiment(
      path.join(REPO, `examples/${example}.yaml`),
      { binary },
      {
        registry: '127.0.0.1:5000',
        network: 'aleph_net',
        timeout: 300,
      },
    );
    if (!yaml) await assert.rejects(read, /reading YAML needs the yaml package/);
    else assert.ok((await read).runs.length > 0, example);
  }
});

test('a YAML experiment naming the knob __proto__ is refused as an unknown knob (hostile pass 5, B4)', async () => {
  const value = await parseExperimentText('n: [4]\nconfig: {__proto__: [1]}\n', FILE);
  assert.throws(
    () => checkExperimentFile(value, FILE),
    (e: unknown) =>
      e instanceof UsageError && /^exp\.yaml:config\.__proto__: "__proto__" is not a gomel config knob/.test(e.message),
  );
});

test('a zones or fault plan file that cannot be read is named at the field naming it, exit 2 (hostile pass 9: a device was exit 1, unnamed)', async (t) => {
  const dir = await tempDir(t);
  const binary = path.join(dir, 'gomel');
  await fs.writeFile(binary, '#!/bin/sh\n', { mode: 0o755 });
  await fs.mkdir(path.join(dir, 'configs'));
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(dir, 'configs/config.json'));
  await fs.mkdir(path.join(dir, 'plan.json'));
  const cases: [Record<string, unknown>, string][] = [
    [{ n: [4], net: ['none', { zones: '/dev/zero' }] }, 'net[1]: /dev/zero: is a character device, not a regular file'],
    [{ points: [{ n: 4 }, { n: 4, net: { zones: 'gone.json' } }] }, `points[1].net: ${dir}/gone.json: no such file`],
    [{ n: [4], faults: ['none', 'plan.json'] }, `faults[1]: ${dir}/plan.json: is a folder`],
  ];
  for (const [value, expected] of cases) {
    const file = path.join(dir, 'exp.json');
    await fs.writeFile(file, JSON.stringify({ configs: 'configs', ...value }));
    await assert.rejects(
      readExperiment(file, { binary }, { registry: '127.0.0.1:5000', network: 'aleph_net', timeout: 300 }),
      (e: unknown) => e instanceof UsageError && e.message.startsWith(`${file}:${expected}`),
      expected,
    );
  }
});

test('a number beyond a 64-bit float (1e400) is refused at its path as not finite, not sent to gomel as null (hostile pass 9)', async () => {
  // JSON.parse, as YAML, reads 1e400 as Infinity; JSON.stringify then wrote the knob as null.
  const value = await parseExperimentText('{"n": [4], "config": {"Txpu": [1, 1e400]}}', 'e.json');
  assert.throws(
    () => checkExperimentFile(value, FILE),
    new UsageError(
      'exp.yaml:config.Txpu[1]: Infinity is not a finite number (a literal beyond a 64-bit float, as 1e400, reads as infinite) — write a finite number',
    ),
  );
  assert.throws(
    () => checkExperimentFile({ points: [{ n: 4, config: { Txpu: NaN } }] }, FILE),
    (e: unknown) =>
      e instanceof UsageError && e.message.startsWith('exp.yaml:points[0].config.Txpu: NaN is not a finite'),
  );
});

test('a YAML tag is one line naming it, and the yaml package prints nothing of its own (hostile pass 9: a multi-line YAMLWarning)', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const cases: [string, string][] = [
      ['n: !!js/undefined ""\n', 'Unresolved tag: !!js/undefined at line 1, column 4'],
      ['n: [4]\nseed: !!js/function "function () {}"\n', 'Unresolved tag: !!js/function at line 2, column 7'],
      ['n: !foo 4\n', 'Unresolved tag: !foo at line 1, column 4'],
      // YAML 1.1's tags are no plain value either: a Uint8Array, a Set, a Date no field takes.
      ['!!binary "AAAA"\n', 'Unresolved tag: !!binary at line 1, column 1'],
      ['n: !!set {4, 8}\n', 'Unresolved tag: !!set at line 1, column 4'],
    ];
    for (const [text, problem] of cases)
      await assert.rejects(
        parseExperimentText(text, 'u.yaml'),
        new UsageError(
          `u.yaml: not plain YAML: ${problem} — an experiment file holds mappings, lists, strings, numbers, true/false and null, without tags`,
        ),
      );
    // The package's own tags of YAML 1.2 are plain values.
    assert.deepEqual(await parseExperimentText('n: [!!int "4"]\nseed: !!str 7\n', 'u.yaml'), { n: [4], seed: '7' });
    // A second document is still an error (the package drops it unsaid at logLevel "silent").
    await assert.rejects(
      parseExperimentText('n: [4]\n---\nn: [8]\n', 'u.yaml'),
      /^UsageError: u\.yaml: not valid YAML: Source contains multiple documents/,
    );
    await new Promise((resolve) => setImmediate(resolve)); // process.emitWarning emits on the next tick
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(
    warnings.map((w) => w.message),
    [],
  );
});

test('a file that is not a mapping of the fields says so (hostile pass 9: "bin.yaml:0: unknown field")', async () => {
  const cases: [unknown, string][] = [
    [await parseExperimentText('- 4\n- 8\n', FILE), 'a list'],
    [await parseExperimentText('n 4\n', FILE), 'a string'],
    [await parseExperimentText('', FILE), 'empty'],
    [await parseExperimentText('[4, 8]', 'e.json'), 'a list'],
    [new Uint8Array(3), 'a tagged value'],
  ];
  for (const [value, what] of cases)
    assert.throws(
      () => checkExperimentFile(value, FILE),
      new UsageError(
        `exp.yaml: the file is ${what}, not a mapping of the experiment's fields — write them as a YAML mapping or a JSON object, e.g. n: [4, 8]`,
      ),
      what,
    );
});

test('YAML anchors: 120 points sharing one config are read; an alias bomb, or aliases writing out too many values, is one line (hostile pass 10: a stack trace, exit 70)', async () => {
  const points = Array.from(
    { length: 120 },
    (_, i) => `  - {n: 4, net: "delay=${i + 1}ms", config: ${i === 0 ? '&c {Txpu: 100}' : '*c'}}`,
  );
  const shared = checkExperimentFile(await parseExperimentText(`points:\n${points.join('\n')}\n`, 'a.yaml'), 'a.yaml');
  assert.equal(shared.points?.length, 120);
  assert.deepEqual(shared.points?.[119]?.config, { Txpu: 100 });
  // Ten lists of ten, each naming the one before ten times: 10^9 values written out.
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (const [k, prev] of ['ba', 'cb', 'dc', 'ed', 'fe', 'gf', 'hg', 'ih'].map((p) => [p[0], p[1]]))
    bomb.push(`${k}: &${k} [${Array(10).fill(`*${prev}`).join(', ')}]`);
  await assert.rejects(
    parseExperimentText(`${bomb.join('\n')}\npoints: [{n: 4, net: *i}]\n`, 'bomb.yaml'),
    (e: unknown) => e instanceof UsageError && /^bomb\.yaml: its anchors are used more than \d+ times/.test(e.message),
  );
  // Under the package's bound, but each use a mapping of 2,000 knobs: 200 uses are 400,000 values.
  const big = `big: &b {${Array.from({ length: 2000 }, (_, i) => `k${i}: ${i}`).join(', ')}}\n`;
  const uses = Array.from({ length: 200 }, () => `  - {n: 4, config: *b}`).join('\n');
  const value = await parseExperimentText(`${big}points:\n${uses}\n`, 'big.yaml');
  assert.throws(
    () => checkExperimentFile(value, 'big.yaml'),
    new UsageError(
      `big.yaml: more than ${MAX_VALUES} values once its aliases (*) are written out — an experiment needs far fewer: share less through & and *`,
    ),
  );
});
