// src/core/keys/g2.ts against an independent implementation (@noble/curves'
// generic Weierstrass code, test/support/bn256-noble.ts): the same points
// for every kind of scalar, the same verdict on every kind of bad point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { encodeG2, N, P, parseG2 } from '../src/core/keys/bn256.js';
import { decodeG2, verificationKeys, windowBits } from '../src/core/keys/g2.js';
import { fieldOps, readFp, SCRATCH_END, writeFp } from '../src/core/keys/fp-wasm.js';
import { b as B_TWIST, Fp2, nobleAccepts, nobleEncode, NobleG2, nobleVerificationKey } from './support/bn256-noble.js';

/** Deterministic pseudo-random scalars in [1, n). */
function scalars(count: number, label: string): bigint[] {
  return Array.from(
    { length: count },
    (_, i) => (BigInt(`0x${createHash('sha256').update(`${label}/${i}`).digest('hex')}`) % (N - 1n)) + 1n,
  );
}

// Scalars whose signed-window digits hit the edges: 0, ±2ʷ⁻¹, carries into the top window.
const edges = [
  1n,
  2n,
  3n,
  63n,
  64n,
  65n,
  127n,
  128n,
  129n,
  255n,
  256n,
  257n,
  2n ** 128n,
  2n ** 255n,
  N - 1n,
  N - 2n,
  N - 128n,
  2n ** 256n % N,
];
const repeated = (byte: number) => BigInt(`0x${byte.toString(16).padStart(2, '0').repeat(32)}`) % N;

test('verificationKeys gives the points noble gives, in batches of every table width', () => {
  const all = [...edges, repeated(0x80), repeated(0x7f), repeated(0xff), repeated(0x40), ...scalars(40, 'g2')];
  const expected = all.map(nobleVerificationKey);
  // One at a time (w = 4), a batch (w = 6 or so), and again after a wider table was kept.
  assert.deepEqual(
    all.map((sk) => verificationKeys([sk])[0]),
    expected,
  );
  assert.deepEqual(verificationKeys(all), expected);
  assert.deepEqual(verificationKeys(all.slice(0, 5)), expected.slice(0, 5));
});

test('windowBits grows with the batch, within 4..12', () => {
  assert.equal(windowBits(1), 4);
  assert.ok(windowBits(500) > windowBits(10));
  assert.ok(windowBits(40_000) > windowBits(500));
  assert.equal(windowBits(10_000_000), 12);
});

test('a multiple of the group order is refused, not encoded', () => {
  assert.throws(() => verificationKeys([5n, N]), /RMC secret key 1 is a multiple of the group order/);
});

test('decodeG2 accepts what noble accepts and refuses what it refuses', () => {
  const good = nobleEncode(NobleG2.BASE.multiply(123456789n));
  assert.deepEqual(encodeG2(decodeG2(good)), good);
  // Off the curve: y changed.
  const offCurve = Uint8Array.from(good);
  offCurve[128] = offCurve[128]! ^ 1;
  // On the twist but outside G2 (the twist has cofactor 2p − n).
  const outside = pointOutsideSubgroup();
  for (const [bytes, accepted] of [
    [good, true],
    [offCurve, false],
    [outside, false],
  ] as const) {
    assert.equal(nobleAccepts(bytes), accepted);
    if (accepted) assert.doesNotThrow(() => decodeG2(bytes));
    else assert.throws(() => decodeG2(bytes), /not a point of the BN256 G2 group/);
  }
  assert.throws(() => decodeG2(Uint8Array.of(0)), /point at infinity/);
  assert.throws(() => decodeG2(good.subarray(1)), /expected 129 bytes, got 128/);
  const big = Uint8Array.from(good);
  big.fill(0xff, 1, 33);
  assert.throws(() => decodeG2(big), /not below the field prime/);
});

/** A point on the twist outside G2: the first x = 1, 2, … with a square x³ + b' (almost every point of the twist is outside). */
function pointOutsideSubgroup(): Uint8Array {
  for (let x = 1n; ; x++) {
    const X = Fp2.fromBigTuple([x, 0n]);
    let Y;
    try {
      Y = Fp2.sqrt(Fp2.add(Fp2.mul(Fp2.sqr(X), X), B_TWIST));
    } catch {
      continue;
    }
    const point = NobleG2.fromAffine({ x: X, y: Y });
    // n·Q = (n − 1)·Q + Q, which is ∞ only for a point of G2.
    if (
      !point
        .multiplyUnsafe(N - 1n)
        .add(point)
        .is0()
    )
      return encodeG2(toAffine(point));
  }
}

function toAffine(q: InstanceType<typeof NobleG2>): { x0: bigint; x1: bigint; y0: bigint; y1: bigint } {
  const { x, y } = q.toAffine();
  const point = { x0: x.c0, x1: x.c1, y0: y.c0, y1: y.c1 };
  assert.ok([point.x0, point.x1, point.y0, point.y1].every((c) => c < P));
  assert.deepEqual(parseG2(encodeG2(point)), point);
  return point;
}

test('the WebAssembly field agrees with bigint arithmetic mod p, at the edges and on random elements', () => {
  const f = fieldOps();
  const [a, b, c] = [SCRATCH_END, SCRATCH_END + 64, SCRATCH_END + 128];
  const edgeValues = [0n, 1n, 2n, P - 1n, P - 2n, 2n ** 255n % P, 2n ** 224n, 2n ** 32n - 1n];
  const random = scalars(300, 'fp').map((x) => x % P);
  const pairs: [bigint, bigint][] = [
    ...edgeValues.flatMap((x) => edgeValues.map((y) => [x, y] as [bigint, bigint])),
    ...random.map((x, i) => [x, random[(i + 1) % random.length]!] as [bigint, bigint]),
  ];
  const mod = (x: bigint) => ((x % P) + P) % P;
  for (const [x, y] of pairs) {
    writeFp(f.memory, a, x);
    writeFp(f.memory, b, y);
    f.mul(c, a, b);
    assert.equal(readFp(f.memory, c), mod(x * y), `${x}·${y}`);
    f.add(c, a, b);
    assert.equal(readFp(f.memory, c), mod(x + y), `${x}+${y}`);
    f.sub(c, a, b);
    assert.equal(readFp(f.memory, c), mod(x - y), `${x}−${y}`);
    // GF(p²): (x + y·i)·(y + x·i) and (x + y·i)², written over an operand
    writeFp(f.memory, a + 32, y);
    writeFp(f.memory, b + 32, x);
    f.mul2(c, a, b);
    assert.deepEqual([readFp(f.memory, c), readFp(f.memory, c + 32)], [mod(x * y - y * x), mod(x * x + y * y)]);
    f.sqr2(a, a);
    assert.deepEqual([readFp(f.memory, a), readFp(f.memory, a + 32)], [mod(x * x - y * y), mod(2n * x * y)]);
  }
});

test('a Node without WebAssembly gets one line saying so', () => {
  const saved = globalThis.WebAssembly;
  Reflect.deleteProperty(globalThis, 'WebAssembly');
  try {
    assert.throws(
      () => fieldOps(),
      (e: Error) => e.name === 'EnvironmentError' && /has no WebAssembly \(run without --jitless\)/.test(e.message),
    );
  } finally {
    globalThis.WebAssembly = saved;
  }
});
