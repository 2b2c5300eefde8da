// Property-based tests (fast-check) of the parsers that read what users write
// (issue 25 item 10): `--net`, zones files, committee.ka lines, member files and
// gomel's addresses lines. For valid input: parse(format(x)) gives x back. For any
// input at all: a value, or the typed one-line error — never another exception.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InputError, UsageError } from '../src/core/errors.js';
import {
  describeConditions,
  parseConditions,
  planConditions,
  planZones,
  shapingScript,
  type LinkConditions,
} from '../src/core/deploy/network-conditions.js';
import {
  formatCommittee,
  formatPrivateKey,
  parseAddressLines,
  parseCommittee,
  parsePrivateKey,
  type Member,
} from '../src/core/keys/committee.js';
import { G2_ENCODED_LENGTH, N as ORDER } from '../src/core/keys/bn256.js';

const RUNS = { numRuns: 300 };
const hosts = (n: number) => Array.from({ length: n }, (_, i) => `node${i + 1}`);
const failUsage = (p: string) => new UsageError(p);
/** Runs `f`; an exception other than `type` fails the property. */
const onlyTyped = (type: typeof InputError | typeof UsageError, f: () => unknown) => {
  try {
    f();
  } catch (error) {
    if (!(error instanceof type)) throw new Error(`not a ${type.name}: ${String(error)}`);
    assert.ok(error.message.length > 0);
  }
};

// --net ------------------------------------------------------------------------------------

/** Valid conditions at the resolution the parser keeps: whole ns of delay, 1e-4 % of loss, whole bits/s. */
const conditions: fc.Arbitrary<LinkConditions> = fc
  .record(
    {
      delayMs: fc.integer({ min: 0, max: 60_000_000_000 }).map((ns) => ns / 1e6),
      jitterMs: fc.integer({ min: 0, max: 60_000_000_000 }).map((ns) => ns / 1e6),
      lossPct: fc.integer({ min: 0, max: 1_000_000 }).map((x) => x / 1e4),
      rateKbit: fc.integer({ min: 1000, max: 10_000_000_000 }).map((bits) => bits / 1000),
    },
    { requiredKeys: [] },
  )
  .map((c) => (c.delayMs === undefined ? { ...c, jitterMs: undefined } : c))
  .map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as LinkConditions)
  .filter((c) => Object.keys(c).length > 0);

test('--net: parse(describe(x)) is x for every valid set of conditions', () => {
  fc.assert(
    fc.property(conditions, (c) => {
      assert.deepEqual(parseConditions(describeConditions(c), failUsage), c);
    }),
    RUNS,
  );
});

test('--net: the same conditions in any order, unit and spacing parse alike', () => {
  const write = (key: string, ms: number, unit: 'us' | 'ms' | 's') =>
    `${key}=${unit === 'us' ? ms * 1000 : unit === 's' ? ms / 1000 : ms}${unit}`;
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 60_000 }),
      fc.integer({ min: 0, max: 60_000 }),
      fc.constantFrom('us', 'ms', 's'),
      fc.constantFrom('kbit', 'mbit', 'gbit', 'Mbit', 'KBIT'),
      fc.integer({ min: 1, max: 10_000 }),
      fc.constantFrom('', ' ', '  '),
      fc.boolean(),
      (delay, jitter, timeUnit, rateUnit, rate, space, reversed) => {
        const kbit = rate * ({ kbit: 1, mbit: 1000, gbit: 1e6 } as Record<string, number>)[rateUnit.toLowerCase()]!;
        fc.pre(kbit <= 10_000_000);
        const parts = [
          write('delay', delay, timeUnit),
          write('jitter', jitter, timeUnit),
          `rate=${rate}${rateUnit}`,
        ].map((p) => `${space}${p.replace('=', `${space}=${space}`)}${space}`);
        const c = parseConditions((reversed ? parts.reverse() : parts).join(','), failUsage);
        assert.deepEqual(c, { delayMs: delay, jitterMs: jitter, rateKbit: kbit });
      },
    ),
    RUNS,
  );
});

/** Strings near the grammar: keys, numbers, units and separators, mixed with anything. */
const netLike = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'delay',
        'jitter',
        'loss',
        'rate',
        'DELAY',
        'Rate',
        'constructor',
        '__proto__',
        '=',
        ',',
        '%',
        'ms',
        'us',
        's',
        'kbit',
        'mbit',
        'gbit',
        '.',
        '-',
        ' ',
        '1e3',
        '99999999999999999999',
        '0',
        '0.5',
      ),
      fc.nat({ max: 1_000_000 }).map(String),
      fc.string({ maxLength: 4 }),
    ),
    { maxLength: 14 },
  )
  .map((parts) => parts.join(''));

/** key=value lists with keys in any case, numbers from tiny to absurd, and any unit. */
const netParts = fc
  .array(
    fc
      .tuple(
        fc.constantFrom('delay', 'jitter', 'loss', 'rate', 'DELAY', 'Jitter', 'LOSS', 'rAte'),
        fc.oneof(
          fc.nat().map(String),
          fc.double({ min: 0, max: 1e6, noNaN: true }).map(String),
          fc.constantFrom('99999999999999999999', '999999999999', '0.0000001', '1.5', '1e3', '-1', '.5', '100', '0'),
        ),
        fc.constantFrom('ms', 'us', 's', '%', 'kbit', 'mbit', 'gbit', 'MS', 'Gbit', ''),
      )
      .map(([k, v, u]) => `${k}=${v}${u}`),
    { minLength: 1, maxLength: 4 },
  )
  .map((parts) => parts.join(','));

test('--net: any text gives conditions within bounds or a UsageError, never another exception', () => {
  fc.assert(
    fc.property(fc.oneof(netParts, netLike, fc.string(), fc.string({ unit: 'binary' })), (text) => {
      let rules: ReturnType<typeof planConditions>;
      try {
        rules = planConditions(text, undefined, hosts(4));
      } catch (error) {
        assert.ok(error instanceof UsageError, `not a UsageError: ${String(error)}`);
        assert.ok((error as Error).message.startsWith(`--net ${text}: `));
        return;
      }
      const c = rules![0]![0]!.conditions;
      if (c.delayMs !== undefined) assert.ok(c.delayMs >= 0 && c.delayMs <= 60_000);
      if (c.jitterMs !== undefined) assert.ok(c.jitterMs >= 0 && c.jitterMs <= 60_000 && c.delayMs !== undefined);
      if (c.lossPct !== undefined) assert.ok(c.lossPct >= 0 && c.lossPct <= 100);
      if (c.rateKbit !== undefined) assert.ok(c.rateKbit >= 1 && c.rateKbit <= 10_000_000);
      assert.doesNotMatch(
        shapingScript('node1', rules![0]!),
        /\d[eE][+-]?\d|NaN|Infinity|undefined/,
        'tc gets plain numbers',
      );
      assert.deepEqual(parseConditions(describeConditions(c), failUsage), c);
      assert.equal(
        Object.keys(c).length,
        text.split(',').length,
        'each part accepted is one condition: none read as another, none overwritten',
      );
    }),
    { numRuns: 3000 },
  );
});

// zones ------------------------------------------------------------------------------------

/** A valid zones file for n nodes: zones with plain names, each a run of node numbers, and a link for every ordered pair. */
const zonesDoc = fc
  .record({
    n: fc.integer({ min: 4, max: 12 }),
    names: fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_-]{0,7}$/), { minLength: 1, maxLength: 4 }),
    seed: fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
    link: conditions,
    inZone: fc.boolean(),
    asArray: fc.boolean(),
  })
  .filter(({ n, names }) => names.length <= n)
  .map(({ n, names, seed, link, inZone, asArray }) => {
    // Cut 1..n into names.length runs.
    const cuts = [...new Set(seed.map((s) => 1 + (s % (n - 1))))].slice(0, names.length - 1).sort((a, b) => a - b);
    const bounds = [0, ...cuts, n];
    const zoneNames = names.slice(0, bounds.length - 1);
    const zones: Record<string, unknown> = {};
    zoneNames.forEach((z, i) => {
      const [from, to] = [bounds[i]! + 1, bounds[i + 1]!];
      zones[z] = asArray
        ? Array.from({ length: to - from + 1 }, (_, k) => from + k)
        : from === to
          ? `${from}`
          : `${from}-${to}`;
    });
    const links: Record<string, string> = {};
    for (const a of zoneNames)
      for (const b of zoneNames) if (a !== b || inZone) links[`${a}>${b}`] = describeConditions(link);
    return { n, zones, links, zoneNames, bounds, inZone, link };
  });

test("zones: every valid file plans each peer once per node, in its zone's link, with that link's conditions", () => {
  fc.assert(
    fc.property(zonesDoc, ({ n, zones, links, zoneNames, bounds, inZone, link }) => {
      const all = hosts(n);
      const plan = planZones(JSON.stringify({ zones, links }), 'z.json', all);
      const zoneOf = (k: number) => zoneNames[bounds.findIndex((b, i) => k > b && k <= bounds[i + 1]!)]!;
      plan.forEach((rules, i) => {
        const peers = rules.flatMap((r) => r.to);
        assert.equal(new Set(peers).size, peers.length, 'no peer twice');
        assert.ok(!peers.includes(all[i]!), 'never itself');
        const expected = all.filter((_, j) => j !== i && (inZone || zoneOf(j + 1) !== zoneOf(i + 1)));
        assert.deepEqual([...peers].sort(), [...expected].sort());
        for (const r of rules) {
          assert.deepEqual(r.conditions, link);
          assert.match(r.name, /^[a-z][a-z0-9_-]*->[a-z][a-z0-9_-]*$/);
        }
      });
    }),
    RUNS,
  );
});

test("zones: a link naming anything but a zone of the file is refused, Object.prototype's names included (N83)", () => {
  const stranger = fc.oneof(
    fc.constantFrom('constructor', 'hasOwnProperty', 'toString', 'valueOf', '__proto__', 'isPrototypeOf'),
    fc.stringMatching(/^[a-z]{1,9}$/),
  );
  fc.assert(
    fc.property(zonesDoc, stranger, fc.boolean(), ({ n, zones, links }, name, first) => {
      fc.pre(!Object.hasOwn(zones, name));
      const zone = Object.keys(zones)[0]!;
      const bad = { ...links, [first ? `${name}>${zone}` : `${zone}>${name}`]: 'delay=1ms' };
      assert.throws(
        () => planZones(JSON.stringify({ zones, links: bad }), 'z.json', hosts(n)),
        (e: Error) => e instanceof InputError && /not "<zone>><zone>"/.test(e.message),
      );
    }),
    RUNS,
  );
});

test('zones: any JSON value or text gives a plan or an InputError naming the file, never another exception', () => {
  const key = fc.oneof(
    fc.constantFrom(
      'zones',
      'links',
      'eu',
      'us',
      'eu>us',
      'us>eu',
      'eu>constructor',
      'hasOwnProperty>eu',
      '__proto__',
      'toString',
    ),
    fc.string({ maxLength: 6 }),
  );
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.constantFrom('1-4', '5-8', '1-2', '3-4', 'delay=1ms', 'rate=5mbit,loss=1%', '0', '9-1'),
      fc.integer({ min: -2, max: 20 }),
      fc.constant(null),
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(key, tie('v'), { maxKeys: 4 }),
    ),
  })).v;
  fc.assert(
    fc.property(
      fc.oneof(
        value.map((v) => JSON.stringify(v) ?? 'null'),
        fc.json(),
        fc.string(),
      ),
      fc.integer({ min: 4, max: 8 }),
      (text, n) => {
        try {
          planZones(text, 'z.json', hosts(n));
        } catch (error) {
          assert.ok(error instanceof InputError, `not an InputError: ${String(error)}`);
          assert.ok((error as Error).message.startsWith('z.json'));
          assert.doesNotMatch((error as Error).message, /\n/);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

// committee.ka, member files, addresses --------------------------------------------------------

const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
const host = fc.oneof(
  label,
  fc.tuple(label, label).map(([a, b]) => `${a}.${b}`),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.')),
  fc.ipV6().map((ip) => `[${ip}]`),
);
const address = fc.tuple(host, fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`);
const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const member: fc.Arbitrary<Member> = fc
  .record({
    publicKey: bytes(32),
    verificationKey: bytes(G2_ENCODED_LENGTH),
    setupAddresses: fc.array(address, { maxLength: 2 }),
    addresses: fc.array(address, { minLength: 1, maxLength: 3 }),
  })
  .map((m) => ({ ...m })); // fast-check may make objects without a prototype; parsed ones have one

test('committee.ka: parse(format(members)) is the members, for any shape of valid lines', () => {
  fc.assert(
    fc.property(fc.array(member, { minLength: 4, maxLength: 9 }), fc.constantFrom('\n', '\r\n'), (members, eol) => {
      const text = formatCommittee(members).replace(/\n/g, eol);
      assert.deepEqual(parseCommittee(text, 'c.ka'), members);
    }),
    { numRuns: 150 },
  );
});

test('member files: parse(format(key)) is the key; addresses lines round-trip', () => {
  const key = fc
    .record({
      signingKey: bytes(64),
      rmcSecret: fc.bigInt({ min: 1n, max: ORDER - 1n }),
      pid: fc.integer({ min: 0, max: 65534 }),
    })
    .map((k) => ({ ...k }));
  fc.assert(
    fc.property(key, (k) => {
      assert.deepEqual(parsePrivateKey(formatPrivateKey(k), '3.pk'), k);
    }),
    RUNS,
  );
  const line = fc
    .record({
      setupAddresses: fc.array(address, { maxLength: 2 }),
      addresses: fc.array(address, { minLength: 1, maxLength: 3 }),
    })
    .map((l) => ({ ...l }));
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 6 }), (lines) => {
      const text = lines.map((l) => `${l.setupAddresses.join(' ')}|${l.addresses.join(' ')}\n`).join('');
      assert.deepEqual(parseAddressLines(text, 'addresses'), lines);
    }),
    RUNS,
  );
});

/** Text near the committee grammar: fields, separators, base64, addresses, BOMs and odd spaces. */
const committeeLike = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '|',
        '||',
        ' ',
        '\n',
        '\r\n',
        '\ufeff',
        '\u00a0',
        '\u0085',
        ':',
        '[',
        ']',
        '=',
        '+',
        '-1',
        '65535',
        '0',
      ),
      address,
      bytes(32).map((b) => Buffer.from(b).toString('base64')),
      bytes(G2_ENCODED_LENGTH).map((b) => Buffer.from(b).toString('base64')),
      fc.string({ maxLength: 5 }),
    ),
    { maxLength: 30 },
  )
  .map((parts) => parts.join(''));

test('committee.ka, member files, addresses: any text gives a value or an InputError naming the file, never another exception', () => {
  fc.assert(
    fc.property(fc.oneof(committeeLike, fc.string(), fc.string({ unit: 'binary' })), (text) => {
      onlyTyped(InputError, () => parseCommittee(text, 'c.ka'));
      onlyTyped(InputError, () => parsePrivateKey(text, '3.pk'));
      onlyTyped(InputError, () => parseAddressLines(text, 'addresses'));
    }),
    { numRuns: 2000 },
  );
});

test('member files: no error ever quotes a field of the file (key material, N27)', () => {
  const secret = fc.stringMatching(/^[A-Za-z0-9+/]{12,90}={0,2}$/);
  const pidLike = fc.oneof(
    fc.bigInt({ min: 0n, max: ORDER }).map(String),
    fc.stringMatching(/^[+-]?\d{1,80}$/),
    secret,
  );
  fc.assert(
    fc.property(
      fc.array(fc.oneof(secret, pidLike), { minLength: 1, maxLength: 5 }),
      fc.constantFrom(' ', '\t', '\n', '\u00a0'),
      (fields, space) => {
        try {
          parsePrivateKey(fields.join(space), '3.pk');
        } catch (error) {
          assert.ok(error instanceof InputError);
          for (const f of fields)
            if (f.length >= 6) assert.ok(!error.message.includes(f), `the error quotes a field: ${error.message}`);
          // Nor a prefix of a long decimal (16 digits of a secret once leaked as 3.77…e+76).
          assert.doesNotMatch(error.message, /\d{7,}|e\+\d/);
        }
      },
    ),
    { numRuns: 1000 },
  );
});
