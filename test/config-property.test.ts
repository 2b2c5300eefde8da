// Property-based tests (fast-check) of the config parser (issue 25 item 10): gomel's
// configs as Go's encoding/json and gomel's loaders read them (the differential corpus,
// test/vectors/differential, holds the edges; these hold the ranges between them).
// For any text: problems, never an exception. Go's int64 and uint16 fields take exactly
// their ranges, read from the literal; Go durations accept any sum of units in range
// and refuse overflow; field names match in any case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { checkConfigText, type Problem } from '../src/core/config/check.js';
import { REPO } from './helpers.js';

const RUNS = { numRuns: 300 };
const BASE = readFileSync(path.join(REPO, 'configs/config.json'), 'utf8');
const errors = (text: string): Problem[] =>
  checkConfigText(text, undefined).problems.filter((p) => p.severity === 'error');
const withField = (field: string, literal: string) => {
  const at = new RegExp(`"${field}": [^,\\n]+`);
  assert.match(BASE, at, field);
  return BASE.replace(at, `"${field}": ${literal}`);
};
const withTimeout = (timeout: string) => BASE.replace('"timeout": "2s"', `"timeout": ${JSON.stringify(timeout)}`);

test('config: the shipped config has no error, so each property below changes one thing', () => {
  assert.deepEqual(errors(BASE), []);
});

test('config: any text, and any JSON value, gives problems, never an exception', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
      ),
      (text) => {
        const { problems } = checkConfigText(text, undefined);
        assert.ok(Array.isArray(problems));
        for (const p of problems) assert.ok(p.message.length > 0 && p.fix.length > 0);
      },
    ),
    RUNS,
  );
  fc.assert(
    fc.property(
      fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
      (v) => assert.ok(errors(JSON.stringify(v)).length > 0, 'not an object: refused'),
    ),
    RUNS,
  );
});

const INT64_FIELDS = ['Txpu', 'LevelLimit', 'LogBuffer', 'LogMemInterval', 'OrderStartLevel'];
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

test("config: Go's int fields take every int64 literal and refuse every one beyond, naming the field", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...INT64_FIELDS),
      fc.oneof(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), fc.constantFrom(INT64_MIN, INT64_MAX, 0n, -1n)),
      (field, n) => assert.deepEqual(errors(withField(field, String(n))), [], `${field}: ${n}`),
    ),
    RUNS,
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...INT64_FIELDS),
      fc.oneof(
        fc.bigInt({ min: INT64_MAX + 1n, max: 2n ** 90n }),
        fc.bigInt({ min: -(2n ** 90n), max: INT64_MIN - 1n }),
      ),
      (field, n) => {
        const found = errors(withField(field, String(n)));
        assert.equal(found.length, 1, `${field}: ${n}`);
        assert.equal(found[0]!.path, field);
        assert.match(found[0]!.message, /beyond Go's int/);
      },
    ),
    RUNS,
  );
});

test("config: Go's uint16 fields take 0..65535 and refuse beyond and any sign", () => {
  for (const field of ['NParents', 'CRPFixedPrefix']) {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), (n) =>
        assert.deepEqual(errors(withField(field, String(n))), [], `${field}: ${n}`),
      ),
      RUNS,
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.bigInt({ min: 65536n, max: 2n ** 70n }), fc.bigInt({ min: -(2n ** 70n), max: -1n })),
        (n) => {
          const found = errors(withField(field, String(n)));
          assert.equal(found.length, 1, `${field}: ${n}`);
          assert.equal(found[0]!.path, field);
        },
      ),
      RUNS,
    );
  }
});

// A Go duration: [+-]? then one or more <number><unit>. Nanoseconds per unit, as time.ParseDuration's table.
const UNITS: [string, bigint][] = [
  ['ns', 1n],
  ['us', 1000n],
  ['µs', 1000n],
  ['μs', 1000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
];
const component = (max: bigint) =>
  fc
    .tuple(fc.constantFrom(...UNITS), fc.bigInt({ min: 0n, max }))
    .map(([[unit, ns], v]) => ({ text: `${v}${unit}`, ns: v * ns }));

test('config: a timeout that is a sum of Go duration units is accepted while it fits int64 nanoseconds, and refused past it', () => {
  // Each part at most 10^6 of its unit: a sum of 5 can pass 2^63 ns (~292 years; 3 of ~10^6 h do),
  // and Go's ParseDuration refuses a sum that overflows as it refuses one part that does. The
  // example is the sum that once failed here when the oracle took every such sum as valid.
  const hours = (h: bigint) => ({ text: `${h}h`, ns: h * 3_600_000_000_000n });
  fc.assert(
    fc.property(
      fc.array(component(10n ** 6n), { minLength: 1, maxLength: 5 }),
      fc.constantFrom('', '+'),
      (parts, sign) => {
        fc.pre(parts.some((p) => p.ns > 0n));
        const timeout = sign + parts.map((p) => p.text).join('');
        const found = errors(withTimeout(timeout));
        if (parts.reduce((sum, p) => sum + p.ns, 0n) <= INT64_MAX) assert.deepEqual(found, [], timeout);
        else assert.match(found[0]?.message ?? '', /is not a Go duration: it is longer than Go's longest/, timeout);
      },
    ),
    { ...RUNS, examples: [[[hours(823675n), hours(999996n), hours(738377n)], '']] },
  );
  // One component alone past 2^63 ns: Go's ParseDuration says "invalid duration".
  fc.assert(
    fc.property(
      component(10n ** 22n).filter((p) => p.ns > INT64_MAX),
      (p) => {
        const found = errors(withTimeout(p.text));
        assert.ok(found.length >= 1, p.text);
        assert.match(found[0]!.message, /not a Go duration/);
      },
    ),
    RUNS,
  );
  // Go's durations take no exponent, no space, no upper-case unit.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 9 }), fc.constantFrom('e3s', 'E2ms', ' s', 'S', 'Ms', 'H'), (n, tail) => {
      assert.ok(errors(withTimeout(`${n}${tail}`)).length >= 1, `${n}${tail}`);
    }),
    RUNS,
  );
});

test("config: field names match in any case, as Go's encoding/json matches them (a warning, never an error)", () => {
  const names = [...BASE.matchAll(/^ {2}"(\w+)":/gm)].map((m) => m[1]!);
  assert.ok(names.length >= 16);
  fc.assert(
    fc.property(
      fc.array(fc.boolean(), { minLength: 200, maxLength: 200 }),
      fc.constantFrom(...names),
      (flips, name) => {
        const spelled = [...name].map((c, i) => (flips[i] ? c.toLowerCase() : c.toUpperCase())).join('');
        const text = BASE.replace(`  "${name}":`, `  "${spelled}":`);
        assert.deepEqual(errors(text), [], spelled);
      },
    ),
    RUNS,
  );
});
