import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, copyDir, DOCKER_CONFIGS, DOCKER_KEYS, REPO, tempDir } from './helpers.js';
import { ConfigurationSchema } from '../src/core/config/model.js';
import { checkConfigText, isGoDuration, type CommitteeShape } from '../src/core/config/check.js';
import { planConfigSync } from '../src/core/config/plan.js';
import { parseJson } from '../src/core/config/json-text.js';
import { overlaps, parseCidr, pickFreeSubnet } from '../src/core/deploy/subnet.js';

const SHIPPED = ['config', 'g', 'g_m', 'g_m-f', 'g_m-g', 'm-f', 'm-rf'];
const eight: CommitteeShape = { size: 8, addressColumns: 3, setupColumns: 0 };
const shipped = (name: string) => fs.readFile(path.join(DOCKER_CONFIGS, `${name}.json`), 'utf8');
/** config.json with one top-level edit, made on the parsed value. */
async function edited(change: (c: Record<string, unknown>) => void): Promise<string> {
  const value = JSON.parse(await shipped('config')) as Record<string, unknown>;
  change(value);
  return JSON.stringify(value, null, 2);
}
const errorsOf = (text: string, shape: CommitteeShape | undefined = eight) =>
  checkConfigText(text, shape).problems.filter((p) => p.severity === 'error');

test('the zod model accepts all seven shipped configs', async () => {
  for (const name of SHIPPED) {
    const result = ConfigurationSchema.safeParse(JSON.parse(await shipped(name)));
    assert.ok(result.success, `${name}: ${result.success ? '' : result.error.message}`);
  }
});

test('config check: of the shipped configs only config.json runs with the shipped 8-node committee', async () => {
  const runnable = [];
  for (const name of SHIPPED) if (errorsOf(await shipped(name)).length === 0) runnable.push(name);
  assert.deepEqual(runnable, ['config']);
});

const rules: { name: string; text: () => Promise<string>; shape?: CommitteeShape; path: string; message: RegExp }[] = [
  { name: 'a missing field', text: () => edited((c) => delete c.LogHuman), path: 'LogHuman', message: /missing field/ },
  { name: 'an extra field', text: () => edited((c) => (c.Foo = 1)), path: 'Foo', message: /unknown field/ },
  {
    name: 'an extra field inside Sync',
    text: () => edited((c) => ((c.Sync as Record<string, unknown>[])[0]!.Bogus = 'x')),
    path: 'Sync[0].Bogus',
    message: /unknown field/,
  },
  // Hostile pass 5, B4: the config's own parser set the prototype for a "__proto__" key, and the field vanished.
  {
    name: 'a "__proto__" field',
    text: () =>
      shipped('config').then((t) => t.replace('"NParents": 8,', '"__proto__": {"NParents": 2}, "NParents": 8,')),
    path: '__proto__',
    message: /unknown field/,
  },
  {
    name: 'a "__proto__" field inside Sync',
    text: () => shipped('config').then((t) => t.replace('"Type": "gossip",', '"Type": "gossip", "__proto__": null,')),
    path: 'Sync[0].__proto__',
    message: /unknown field/,
  },
  {
    name: 'a float where gomel has an integer',
    text: () => edited((c) => (c.NParents = 2.5)),
    path: 'NParents',
    message: /int/i,
  },
  {
    name: 'a number in Params',
    text: () => edited((c) => ((c.Sync as { Params: Record<string, unknown> }[])[0]!.Params.nIn = 2)),
    path: 'Sync[0].Params.nIn',
    message: /string/,
  },
  {
    name: 'an unknown sync Type',
    text: () => edited((c) => ((c.Sync as Record<string, unknown>[])[0]!.Type = 'rumor')),
    path: 'Sync[0].Type',
    message: /gossip/,
  },
  {
    name: 'a Sync/columns mismatch',
    text: () => shipped('g_m-g').then((t) => t.replace(/"timeout": "2"/g, '"timeout": "2s"')),
    path: 'Sync',
    message: /2 sync services, but the committee has 3 address columns/,
  },
  {
    name: 'a setup mismatch',
    text: () => shipped('config'),
    shape: { size: 8, addressColumns: 3, setupColumns: 1 },
    path: 'SyncSetup',
    message: /0 setup services, but the committee has 1 setup-address columns/,
  },
  {
    name: 'NParents > N',
    text: () => shipped('config'),
    shape: { size: 7, addressColumns: 3, setupColumns: 0 },
    path: 'NParents',
    message: /8 exceeds the committee size 7/,
  },
  {
    name: 'a duration without unit',
    text: () => shipped('g'),
    shape: { size: 8, addressColumns: 1, setupColumns: 0 },
    path: 'Sync[0].Params.timeout',
    message: /"2" is not a Go duration/,
  },
  {
    name: 'nIn below 1',
    text: () => edited((c) => ((c.Sync as { Params: Record<string, string> }[])[1]!.Params.nIn = '0')),
    path: 'Sync[1].Params.nIn',
    message: /at least 1/,
  },
  {
    name: 'a Retry without unit',
    text: () => edited((c) => ((c.Sync as Record<string, unknown>[])[0]!.Retry = '5')),
    path: 'Sync[0].Retry',
    message: /not a Go duration/,
  },
  {
    name: 'invalid JSON, with line:column',
    text: () => shipped('config').then((t) => t.replace('"PrimeOnly": true,', '"PrimeOnly": true,,')),
    path: 'line 3:21',
    message: /invalid JSON: expected a field name/,
  },
];

for (const rule of rules) {
  test(`config check rejects ${rule.name}`, async () => {
    const errors = errorsOf(await rule.text(), rule.shape);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]!.path, rule.path);
    assert.match(errors[0]!.message, rule.message);
    assert.ok(errors[0]!.fix.length > 0);
  });
}

test('Params keys gomel ignores are warnings; mcType points at network', async () => {
  const { problems } = checkConfigText(await shipped('config'), eight);
  const warnings = problems.filter((p) => p.severity === 'warning');
  assert.deepEqual(
    warnings.map((w) => w.path),
    ['Sync[2].Params.mcType', 'Sync[2].Params.retryingFallback', 'Sync[2].Params.retryingInterval', 'CRPFixedPrefix'],
  );
  assert.match(warnings[0]!.fix, /rename it to "network"/);
});

test('CRPFixedPrefix > N is a warning (gomel runs with it), capped by sync', async () => {
  const { problems } = checkConfigText(await shipped('config'), eight);
  const w = problems.find((p) => p.path === 'CRPFixedPrefix');
  assert.equal(w?.severity, 'warning');
  assert.match(w!.message, /10 exceeds the committee size 8/);
});

test('Go durations', () => {
  for (const ok of ['2s', '500ms', '1h2m3.5s', '0', '1.5us', '-3s']) assert.ok(isGoDuration(ok), ok);
  for (const bad of ['2', '', 's', '1 s', '1d', '0.5']) assert.ok(!isGoDuration(bad), bad);
});

test('invalid JSON positions are exact on a multi-line document', () => {
  assert.throws(
    () => parseJson('{\n  "a": 1,\n  "b": tru\n}'),
    (e: Error & { line?: number; column?: number }) => e.line === 3 && e.column === 8,
  );
});

test('sync: resizing 8→16→5 moves NParents (it followed N) and caps CRPFixedPrefix', async () => {
  const original = await shipped('config'); // NParents 8 = N, CRPFixedPrefix 10
  const at8 = planConfigSync(original, eight, undefined, 'config');
  assert.deepEqual(at8.changes, [{ field: 'CRPFixedPrefix', from: 10, to: 8 }]);
  const at16 = planConfigSync(at8.text, { ...eight, size: 16 }, 8, 'config');
  assert.deepEqual(at16.changes, [{ field: 'NParents', from: 8, to: 16 }]);
  const at5 = planConfigSync(at16.text, { ...eight, size: 5 }, 16, 'config');
  assert.deepEqual(at5.changes, [
    { field: 'NParents', from: 16, to: 5 },
    { field: 'CRPFixedPrefix', from: 8, to: 5 },
  ]);
  // Only the two values changed: every other byte (e.g. "StepSize": 0.0) is as the user wrote it.
  assert.equal(
    at5.text,
    original.replace('"NParents": 8', '"NParents": 5').replace('"CRPFixedPrefix": 10', '"CRPFixedPrefix": 5'),
  );
  assert.match(at5.text, /"StepSize": 0\.0,/);
});

test('sync: NParents below N that did not follow N is only capped', async () => {
  const g = await shipped('m-f'); // NParents 2
  assert.deepEqual(planConfigSync(g, { size: 16, addressColumns: 2, setupColumns: 0 }, 8, 'm-f').changes, []);
});

test('sync: a Sync count that cannot match is reported with the command that fixes it, not rewritten', async () => {
  const plan = planConfigSync((await shipped('g_m')).replace(/"timeout": "2"/g, '"timeout": "2s"'), eight, 8, 'g_m');
  assert.deepEqual(plan.changes, []);
  assert.equal(plan.blocking[0]!.path, 'Sync');
  assert.match(plan.blocking[0]!.fix, /gomelctl keys gen --config g_m/);
});

async function project(t: Parameters<typeof tempDir>[0], n: number) {
  const root = await tempDir(t);
  const configs = path.join(root, 'configs');
  await fs.cp(path.join(REPO, 'configs'), configs, { recursive: true });
  const keys = path.join(root, 'keys');
  await fs.cp(path.join(REPO, 'keys'), keys, { recursive: true });
  if (n !== 8) await cli(['keys', 'gen', '--dir', keys, '--n', String(n), '--configs', configs]);
  return { configs, keys, flags: ['--configs', configs, '--keys', keys] };
}

test('config sync CLI: idempotent, untouched files not rewritten, --check exits 1 only when out of date', async (t) => {
  const p = await project(t, 16);
  const stat = async (name: string) => (await fs.stat(path.join(p.configs, name))).mtimeMs;
  const gBefore = await fs.readFile(path.join(p.configs, 'g.json'));
  const gMtime = await stat('g.json');
  const check = await cli(['config', 'sync', '--check', ...p.flags]);
  assert.equal(check.code, 1);
  assert.match(check.err, /1 config out of date with the 16-node committee/);
  const dry = await cli(['config', 'sync', '--dry-run', ...p.flags]);
  assert.equal(dry.code, 0);
  assert.match(dry.out, /config\.json: would update\n  - "NParents": 8\n  \+ "NParents": 16/);
  assert.equal((await cli(['config', 'sync', '--check', ...p.flags])).code, 1, 'dry run changed nothing');
  const first = await cli(['config', 'sync', ...p.flags]);
  assert.equal(first.code, 0, first.err);
  const after = await fs.readFile(path.join(p.configs, 'config.json'), 'utf8');
  assert.match(after, /"NParents": 16,/);
  assert.equal(await stat('g.json'), gMtime);
  assert.deepEqual(await fs.readFile(path.join(p.configs, 'g.json')), gBefore);
  const second = await cli(['config', 'sync', ...p.flags]);
  assert.doesNotMatch(second.out, /updated/);
  assert.equal(await fs.readFile(path.join(p.configs, 'config.json'), 'utf8'), after);
  assert.equal((await cli(['config', 'sync', '--check', ...p.flags])).code, 0);
});

test('config check CLI on the shipped default: names exactly the configs that cannot run, exit 1', async (t) => {
  const p = await project(t, 8);
  const r = await cli(['config', 'check', ...p.flags]);
  assert.equal(r.code, 1);
  assert.match(r.out, /configs\/config\.json: OK, 3 warnings/);
  assert.match(r.err, /6 of 7 configs cannot run with the 8-node committee .*: g, g_m, g_m-f, g_m-g, m-f, m-rf$/);
  assert.equal((await cli(['config', 'check', 'config', ...p.flags])).code, 0);
});

test('config check CLI: a missing config and a missing committee are one-line errors', async (t) => {
  const p = await project(t, 8);
  const missing = await cli(['config', 'check', 'nope', ...p.flags]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nope\.json: no such config/);
  const noKeys = await cli(['config', 'check', '--configs', p.configs, '--keys', path.join(p.keys, 'absent')]);
  assert.equal(noKeys.code, 1);
  assert.match(noKeys.err, /committee\.ka: no committee file/);
});

test("a resize reaches NParents the first time: gomel's shipped keys and configs (no sync record), 8 → 16 → 6", async (t) => {
  const root = await tempDir(t);
  const keys = path.join(root, 'keys');
  const configs = path.join(root, 'configs');
  await copyDir(DOCKER_KEYS, keys);
  await copyDir(DOCKER_CONFIGS, configs);
  const flags = ['--keys', keys, '--configs', configs];
  const nParents = async () =>
    (JSON.parse(await fs.readFile(path.join(configs, 'config.json'), 'utf8')) as { NParents: number }).NParents;
  assert.equal(await nParents(), 8);
  for (const n of [16, 6]) {
    const gen = await cli(['keys', 'gen', '--n', String(n), ...flags]);
    assert.equal(gen.code, 0, gen.err);
    const sync = await cli(['config', 'sync', 'config', ...flags]);
    assert.equal(sync.code, 0, sync.err);
    assert.equal(await nParents(), n);
  }
  // m-f's NParents (2) never followed the committee: it stays.
  await cli(['config', 'sync', 'm-f', ...flags]);
  assert.equal(
    (JSON.parse(await fs.readFile(path.join(configs, 'm-f.json'), 'utf8')) as { NParents: number }).NParents,
    2,
  );
});

test('subnets: a new network gets the first 10.N.0.0/16 that overlaps nothing', () => {
  assert.equal(pickFreeSubnet(['172.17.0.0/16', '10.0.0.0/24']), '10.77.0.0/16');
  assert.equal(pickFreeSubnet(['10.77.0.0/16', '10.78.3.0/24', 'fe80::/64']), '10.79.0.0/16');
  assert.throws(() => pickFreeSubnet(['10.0.0.0/8']), /no free 10\.N\.0\.0\/16 subnet .* pass --subnet/);
  assert.throws(() => parseCidr('10.77.0.0/33'), /--subnet 10\.77\.0\.0\/33: expected an IPv4 CIDR/);
  assert.throws(() => parseCidr('300.1.1.1/16'), /expected an IPv4 CIDR/);
  assert.equal(overlaps(parseCidr('10.77.0.0/16'), parseCidr('10.77.200.0/24')), true);
  assert.equal(overlaps(parseCidr('10.77.0.0/16'), parseCidr('10.78.0.0/16')), false);
});

test("integer fields take only whole-number literals, as Go's encoding/json: 1e2 and 2.0 are refused, -0 and 100 pass", async () => {
  const text = await shipped('config');
  for (const [literal, ok] of [
    ['1e2', false],
    ['2.0', false],
    ['1E1', false],
    ['-0', true],
    ['100', true],
  ] as const) {
    const problems = errorsOf(text.replace('"LevelLimit": 50', `"LevelLimit": ${literal}`));
    if (ok) assert.deepEqual(problems, [], literal);
    else {
      assert.equal(problems.length, 1, literal);
      assert.equal(problems[0]!.path, 'LevelLimit');
      assert.match(
        problems[0]!.message,
        new RegExp(
          `${literal.replace('.', '\\.')} is not a whole-number literal; gomel \\(Go's encoding/json\\) refuses it`,
        ),
      );
    }
  }
});

// Issue 25, checked against real gomel (test/vectors/differential): each case below was wrong before.
const withSync0 = (text: string, params: string) =>
  text.replace(/"nIn": "2",\s*"nOut": "1",\s*"timeout": "2s"/, params);

test('N54: Go int fields take exactly int64, read from the literal (2^63−1 and −2^63 pass, one beyond is refused)', async () => {
  const text = await shipped('config');
  for (const [literal, ok] of [
    ['9223372036854775807', true],
    ['-9223372036854775808', true],
    ['9223372036854775808', false],
    ['-9223372036854775809', false],
  ] as const) {
    const errors = errorsOf(text.replace('"LevelLimit": 50', `"LevelLimit": ${literal}`));
    assert.equal(errors.length, ok ? 0 : 1, `${literal}: ${JSON.stringify(errors)}`);
    if (!ok) assert.match(errors[0]!.message, /beyond Go's int/);
  }
  // uint16 refuses any sign, even -0 (Go's ParseUint)
  assert.match(
    errorsOf(text.replace(/"CRPFixedPrefix": \d+/, '"CRPFixedPrefix": -0'))[0]!.message,
    /not a Go uint16 .*even on 0/,
  );
});

test('N47: CreateDelay beyond float32 is refused (1e39, 3.5e38), float32 max and what rounds to it pass', async () => {
  const text = await shipped('config');
  for (const [literal, ok] of [
    ['1e39', false],
    ['3.5e38', false],
    ['-3.5e38', false],
    ['3.4028234663852886e38', true],
    ['3.4028235677973366e38', true],
    ['340282356779733661637539395458142568448', false],
  ] as const) {
    const errors = errorsOf(text.replace('"CreateDelay": 0.2', `"CreateDelay": ${literal}`));
    assert.equal(errors.length, ok ? 0 : 1, `${literal}: ${JSON.stringify(errors)}`);
    if (!ok) assert.equal(errors[0]!.path, 'CreateDelay');
  }
});

test('N48: a gossip or multicast entry without "timeout" is refused (gomel dies on "")', async () => {
  const errors = errorsOf(withSync0(await shipped('config'), '"nIn": "2", "nOut": "1"'));
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.equal(errors[0]!.path, 'Sync[0].Params');
  assert.match(errors[0]!.message, /missing "timeout"/);
  assert.equal(errors[0]!.fix, 'add "timeout": "2s"');
});

test('N49, N52: Go durations parsed as Go does — overflow refused, an exponent gets a fix without it', async () => {
  const text = await shipped('config');
  const overflow = errorsOf(withSync0(text, '"nIn": "2", "nOut": "1", "timeout": "9999999999999h"'));
  assert.equal(overflow.length, 1);
  assert.match(overflow[0]!.message, /longer than Go's longest duration/);
  const exp = errorsOf(withSync0(text, '"nIn": "2", "nOut": "1", "timeout": "1e3s"'));
  assert.equal(exp.length, 1);
  assert.equal(exp[0]!.fix, 'write it out, e.g. "1000s"');
  for (const ok of ['2562047h47m16.854775807s', '9223372036854775807ns', '2µs', '2μs', '.5s', '5.s', '+2s', '-0'])
    assert.ok(isGoDuration(ok), ok);
  for (const bad of ['2562047h47m16.854775808s', '9223372036854775808ns', '1e3s', '.s', '2S'])
    assert.ok(!isGoDuration(bad), bad);
});

test('N51: a timeout of zero or less is refused on purpose, with the fix (gomel accepts it and never syncs)', async () => {
  const text = await shipped('config');
  for (const t of ['-2s', '0', '0s', '-0s']) {
    const errors = errorsOf(withSync0(text, `"nIn": "2", "nOut": "1", "timeout": "${t}"`));
    assert.equal(errors.length, 1, t);
    assert.match(errors[0]!.message, /zero or less: gomel accepts it, but every sync then times out at once/);
    assert.equal(errors[0]!.fix, 'use a positive duration, e.g. "2s"');
  }
});

test('nIn/nOut are read with strconv.Atoi: "+2" and "02" pass, beyond int64 is refused', async () => {
  const text = await shipped('config');
  for (const [v, ok] of [
    ['+2', true],
    ['02', true],
    ['9223372036854775808', false],
    [' 2', false],
  ] as const) {
    assert.equal(errorsOf(withSync0(text, `"nIn": "${v}", "nOut": "1", "timeout": "2s"`)).length, ok ? 0 : 1, v);
  }
});

test('N53: field names match case-insensitively, as in Go (warned); two spellings of one field are refused; sync edits the right value', async () => {
  const text = (await shipped('config')).replace('"NParents"', '"nparents"');
  const { problems } = checkConfigText(text, eight);
  assert.deepEqual(
    problems.filter((p) => p.severity === 'error'),
    [],
  );
  assert.ok(
    problems.some(
      (p) =>
        p.severity === 'warning' &&
        p.path === 'nparents' &&
        /gomel reads "nparents" as NParents/.test(p.message) &&
        p.fix === 'write "NParents"',
    ),
  );
  const plan = planConfigSync(text, { size: 16, addressColumns: 3, setupColumns: 0 }, 8, 'config');
  assert.match(plan.text, /"nparents": 16/);
  const both = errorsOf((await shipped('config')).replace('"NParents": 8,', '"NParents": 8, "nparents": 8,'));
  assert.equal(both.length, 1);
  assert.match(both[0]!.message, /same field NParents to gomel.*incorrect number of fields/);
});

test("gomel's sync.NewService rules: an empty Sync, two multicasts, a fallback that is not a gossip/fetch of the list", async () => {
  const value = JSON.parse(await shipped('config')) as { Sync: Record<string, unknown>[] };
  const variant = (change: (v: { Sync: Record<string, unknown>[] }) => void) => {
    const v = structuredClone(value);
    change(v);
    return errorsOf(JSON.stringify(v), undefined)
      .map((p) => p.message)
      .join(' | ');
  };
  assert.match(
    variant((v) => (v.Sync = [])),
    /empty sync configuration/,
  );
  assert.match(
    variant((v) => v.Sync.push({ ...v.Sync[2]! })),
    /multiple multicast servers/,
  );
  assert.match(
    variant((v) => (v.Sync[1]!.Fallback = 'retrying')),
    /defined retrying as fallback/,
  );
  assert.equal(
    variant((v) => (v.Sync[2]!.Type = 'rmc')),
    '',
  );
});
