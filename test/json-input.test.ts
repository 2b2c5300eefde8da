// Issue 30, class 4: one JSON value gave a stack trace and exit 70. {"toString": 1} where a
// fault plan's kind or a zone's member belongs reached String(), which threw a TypeError.
// Every JSON a user hands gomelctl is now typed by a zod schema first (src/core/json-input.ts),
// and the first wrong value is one line naming the file and its JSON path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { z } from 'zod';
import { InputError, UsageError } from '../src/core/errors.js';
import { inputFail, parseJsonWith, protoFieldPath, readJsonAs } from '../src/core/json-input.js';
import { parseFaultPlan, parseFaultPlanJson, readFaultRecord } from '../src/core/faults/plan.js';
import { planZones } from '../src/core/deploy/network-conditions.js';
import { planLogsFolder, recordedFiles } from '../src/core/logs/logs-folder.js';
import { configColumns } from '../src/core/keys/keys-plan.js';
import { addLogLine, newLogStats } from '../src/core/logs/log-stats.js';
import { addRunLine, newRunStats } from '../src/core/logs/run-stats.js';
import { addProtocolLine, newProtocolStats } from '../src/core/logs/protocol-stats.js';
import { cli, copyLogs, sourceMatches, tempDir } from './helpers.js';
import { recoverFolder } from '../src/fs/atomic.js';

const H8 = Array.from({ length: 8 }, (_, i) => `node${i + 1}`);

test('{"toString": 1} as a plan event\'s kind or a zone member: one line naming the file and the JSON path', () => {
  assert.throws(
    () => parseFaultPlanJson('[{"kind": {"toString": 1}, "nodes": "7", "at": "3s"}]', 'plan.json', H8),
    (e: Error) =>
      e instanceof InputError && /^plan\.json:\[0\]\.kind: expected a string, not an object — /.test(e.message),
  );
  assert.throws(
    () => parseFaultPlanJson('[{"kind": "crash", "nodes": [1, {"toString": 1}], "at": "3s"}]', 'plan.json', H8),
    /^InputError: plan\.json:\[0\]\.nodes\[1\]: expected a string or a number, not an object/,
  );
  assert.throws(
    () =>
      parseFaultPlanJson('[{"kind": "slow", "nodes": "1", "at": 0, "until": 5, "cpu": {"valueOf": 1}}]', 'p.json', H8),
    /^InputError: p\.json:\[0\]\.cpu: expected a string or a number, not an object/,
  );
  const zones = (eu: unknown) => JSON.stringify({ zones: { eu, us: '5-8' }, links: { 'eu>us': 'delay=1ms' } });
  assert.throws(
    () => planZones(zones([{ toString: 1 }]), 'zones.json', H8),
    /^InputError: zones\.json:zones\.eu\[0\]: expected a string or a number, not an object/,
  );
  assert.throws(
    () => planZones(zones({ toString: 1 }), 'zones.json', H8),
    /^InputError: zones\.json:zones\.eu: expected a string, a number or a list, not an object/,
  );
});

/** Any JSON value, and the ones that break String() and template literals most often. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(
    { toString: 1 },
    { toString: 1, valueOf: 1 },
    [{ toString: 1 }],
    { toString: { toString: 1 } },
    null,
    [],
    {},
    -1,
    1e300,
    '',
  ),
);
/** An object with these fields (some left out), each any value, or one of `good` often enough to get past the first check. */
const shaped = (fields: Record<string, readonly unknown[]>) =>
  fc.record(
    Object.fromEntries(
      Object.entries(fields).map(([k, good]) => [
        k,
        good.length ? fc.oneof(hostile, fc.constantFrom(...good)) : hostile,
      ]),
    ),
    { requiredKeys: [] },
  );
/** Runs `f` on `text`; anything thrown but the project's typed errors fails the property. */
const onlyTyped = (f: (text: string) => unknown) => (value: unknown) => {
  try {
    f(JSON.stringify(value) ?? 'null');
  } catch (error) {
    if (!(error instanceof InputError || error instanceof UsageError)) throw error;
    assert.doesNotMatch(error.message, /\n/);
  }
};

test('property: any JSON value in any field of a fault plan, inline or a file, is a plan or a typed one-line error', () => {
  const event = shaped({
    kind: ['crash', 'pause', 'partition', 'slow', 'random'],
    nodes: ['1', '2-3', [1, '4']],
    groups: [
      ['1-4', '5-8'],
      [[1, 2], 3],
    ],
    at: ['3s', 1],
    until: ['9s', 12],
    cpu: ['0.2', 0.5],
    count: [2, '1'],
  });
  const plans = fc.oneof(fc.array(event, { maxLength: 3 }), hostile);
  fc.assert(
    fc.property(
      plans,
      onlyTyped((text) => parseFaultPlanJson(text, 'plan.json', H8, 'seed')),
    ),
    {
      numRuns: 1000,
    },
  );
  fc.assert(
    fc.property(
      fc.array(event, { maxLength: 3 }),
      onlyTyped((text) => parseFaultPlan(text, H8, 'seed')),
    ),
    {
      numRuns: 300,
    },
  );
});

test('property: any JSON value in a zones file is rules or a typed one-line error', () => {
  const zones = fc.oneof(
    fc.dictionary(
      fc.constantFrom('eu', 'us', 'toString', '__proto__', 'a b'),
      fc.oneof(hostile, fc.constantFrom('1-4', [5, '6-8'])),
    ),
    hostile,
  );
  const links = fc.oneof(
    fc.dictionary(fc.constantFrom('eu>us', 'us>eu', 'eu>eu', 'x'), fc.oneof(hostile, fc.constant('delay=1ms'))),
    hostile,
  );
  const doc = fc.oneof(fc.record({ zones, links }, { requiredKeys: [] }), hostile);
  fc.assert(
    fc.property(
      doc,
      onlyTyped((text) => planZones(text, 'zones.json', H8)),
    ),
    { numRuns: 1000 },
  );
});

test('property: what gomelctl keeps in a folder, edited by hand into any JSON, is read or refused, never thrown on', () => {
  const manifest = shaped({ network: ['aleph_net'], entries: [['node1'], ['../x']], files: [{ node1: ['a'] }] });
  fc.assert(
    fc.property(fc.oneof(manifest, hostile), (value) => {
      const text = JSON.stringify(value) ?? 'null';
      planLogsFolder(['node1', 'node1.log', '.gomelctl-logs'], text, true);
      recordedFiles(text);
    }),
    { numRuns: 500 },
  );
  const record = shaped({ n: [8], hosts: [H8], events: [[], [{ kind: 'crash', nodes: [1], atMs: 1, source: 'x' }]] });
  fc.assert(fc.property(fc.oneof(record, hostile), (value) => void readFaultRecord(JSON.stringify(value) ?? 'null')));
  const config = shaped({ Sync: [[], [1]], SyncSetup: [[]] });
  fc.assert(fc.property(fc.oneof(config, hostile), (value) => void configColumns(JSON.stringify(value) ?? 'null')));
});

test("property: any JSON value in the fields of gomel's log lines is counted or skipped, never thrown on", () => {
  const line = shaped({
    E: ['Z', 'D', 'E', 'C', 'W', 'Y', 'genesis', 'k'],
    L: ['3', '0'],
    T: [1],
    C: [0],
    H: [0],
    Q: [1],
  });
  fc.assert(
    fc.property(line, hostile, (record, other) => {
      // The event matched as text, as each reader does, then a second "E" (JSON.parse keeps the last).
      const event = typeof record.E === 'string' ? record.E : 'Z';
      const text = `{"L":"3","E":"${event}",${JSON.stringify({ ...record, E: other }).slice(1)}`;
      for (const t of [text, `{"E":"${event}",${JSON.stringify(record).slice(1)}`]) {
        addLogLine(newLogStats(), t);
        addRunLine(newRunStats(), t);
        addProtocolLine(newProtocolStats(), t);
      }
    }),
    { numRuns: 1000 },
  );
});

test('through the CLI: a hand-edited task.json or faults.json with a wrong type is one line, exit 1', async (t) => {
  for (const [file, content, where] of [
    ['node1/task.json', { state: 'complete', incomplete: { toString: 1 } }, 'incomplete'],
    ['node1/task.json', { state: { toString: 1 } }, 'state'],
    ['faults.json', { events: [], faulty: [{ node: 1, host: { toString: 1 }, why: 'x', atMs: 0 }] }, 'faulty[0].host'],
  ] as const) {
    const logs = await copyLogs(t, 'swarm-8');
    await fs.writeFile(path.join(logs, file), JSON.stringify(content));
    for (const command of ['verdict', 'report']) {
      const r = await cli([command, '--logs', logs, ...(command === 'report' ? ['--out', '/dev/null'] : [])]);
      assert.equal(r.code, 1, `${command} ${file}: ${r.err}`);
      assert.equal(r.err.split('\n').length, 1, r.err);
      assert.ok(r.err.includes(`${path.join(logs, file)}:${where}: expected`), `${command}: ${r.err}`);
    }
  }
});

test('every JSON.parse in src/ reads through src/core/json-input.ts, but for the listed ones and why', async () => {
  const allowed: Record<string, string> = {
    'src/core/json-input.ts': 'the one place',
    'src/docker/engine.ts': "the engine's answers, checked by the engine layer (issue 25 item 8)",
    'src/core/config/json-text.ts':
      "gomel's configs: its own parser, which remembers positions, then zod (config/model.ts)",
    'src/core/faults/plan.ts': 'repeatedKey(): one JSON string literal, a key',
    'src/core/logs/log-stats.ts':
      'a log line, field by field with typeof: 20,000 lines a node (json-input.ts jsonText)',
    'src/core/logs/run-stats.ts': 'a log line, as log-stats.ts',
    'src/core/logs/protocol-stats.ts': 'a log line, as log-stats.ts',
  };
  assert.deepEqual(await sourceMatches(/JSON\.parse\(/, Object.keys(allowed)), []);
});

test("an in-place commit's list of names to remove, edited to point out of the folder, removes nothing outside it", async (t) => {
  const root = await tempDir(t);
  const keys = path.join(root, 'keys');
  const commit = path.join(keys, '.gomelctl-commit-3');
  await fs.mkdir(commit, { recursive: true });
  await fs.writeFile(path.join(root, 'victim'), 'mine\n');
  for (const list of [['../victim'], [{ toString: 1 }], '../victim']) {
    await fs.mkdir(commit, { recursive: true });
    await fs.writeFile(path.join(commit, '.remove'), JSON.stringify(list));
    assert.equal(await recoverFolder(keys), true);
    assert.equal(await fs.readFile(path.join(root, 'victim'), 'utf8'), 'mine\n', JSON.stringify(list));
  }
});

test('a "__proto__" field, which zod\'s records drop unseen, is an unknown field in any JSON gomelctl checks (hostile pass 5, B4)', () => {
  const fail = inputFail('plan.json');
  const record = z.record(z.string(), z.number());
  assert.throws(
    () => parseJsonWith('{"a": 1, "__proto__": 2}', record, fail),
    (e: unknown) => e instanceof InputError && /^plan\.json:__proto__: unknown field/.test(e.message),
  );
  assert.throws(
    () => parseJsonWith('{"zones": {"eu": [{"x": {"__proto__": null}}]}}', z.unknown(), fail),
    (e: unknown) => e instanceof InputError && /zones\.eu\[0\]\.x\.__proto__: unknown field/.test(e.message),
  );
  // "constructor" and "prototype" are plain data to JSON.parse and zod: kept, not refused.
  assert.deepEqual(parseJsonWith('{"constructor": 1, "prototype": 2}', record, fail), { constructor: 1, prototype: 2 });
  // A record gomelctl wrote, edited by hand: not its record.
  assert.equal(readJsonAs('{"a": 1, "__proto__": 2}', record), undefined);
  assert.deepEqual(readJsonAs('{"a": 1}', record), { a: 1 });
});

test('a __proto__ field is found at any depth, in time linear in the depth (hostile pass 13: 80 KB of nested "[" took 29 s)', () => {
  const depth = 100_000;
  const nested = JSON.parse(`${'['.repeat(depth)}{"a":{"__proto__":1}}${']'.repeat(depth)}`) as unknown;
  assert.equal(protoFieldPath(nested), `${'[0]'.repeat(depth)}.a.__proto__`);
  assert.equal(protoFieldPath(JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`)), undefined);
});
