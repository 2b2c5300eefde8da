// G2 arithmetic of BN256: sk·G2 for many secret keys at once — the cost of
// `keys gen` and `keys verify` (issue 14) — and the validity check of a
// verification key read from committee.ka. Same points as @noble/curves'
// generic code (the tests compare), ~10× faster:
//
// - GF(p²) in WebAssembly (fp-wasm.ts); points are offsets in its memory.
// - Fixed-base signed windows: sk = Σ dᵢ·2ʷⁱ with dᵢ ∈ [−2ʷ⁻¹, 2ʷ⁻¹), and a table
//   Tᵢ[j] = (j+1)·2ʷⁱ·G in affine form, so a key costs ⌈256/w⌉ + 1 mixed
//   additions at most and no doubling at all. The table is built once per
//   thread, w chosen for the number of keys (windowBits).
// - Jacobian coordinates (x = X/Z², y = Y/Z³); one field inversion per batch
//   of points (Montgomery's trick) brings them back to affine form.
import { B_TWIST, encodeG2, G2_GENERATOR, N, P, parseG2, type G2Affine } from './bn256.js';
import { fieldOps, FP_BYTES, FP2_BYTES, invertFp, readFp, SCRATCH_END, writeFp, type FieldOps } from './fp-wasm.js';

// The module is compiled on first use, not on import: a `keys gen` whose keys
// are all derived on worker threads never needs it on the main thread.
let f: FieldOps;
function ready(): void {
  if (f) return;
  f = fieldOps();
  words = new Uint32Array(f.memory.buffer);
  writeFp2(ZERO, 0n, 0n);
  writeFp2(ONE, 1n, 0n);
}
const AFFINE_BYTES = 2 * FP2_BYTES; // x, y
const JACOBIAN_BYTES = 3 * FP2_BYTES; // X, Y, Z

// ---- Memory: fixed GF(p²) slots, then the table, then each call's points.
let slots = 0;
const slot = () => SCRATCH_END + FP2_BYTES * slots++;
const ZERO = slot(),
  ONE = slot();
// temporaries of addAffine, double and toAffine
const ZZ = slot(),
  U2 = slot(),
  ZZZ = slot(),
  S2 = slot(),
  H = slot(),
  R = slot(),
  HH = slot(),
  HHH = slot(),
  V = slot(),
  T = slot(),
  T2 = slot();
const A = slot(),
  B = slot(),
  C = slot(),
  D = slot(),
  E = slot();
const INV = slot(),
  ZI = slot(),
  ZI2 = slot(),
  ZI3 = slot();
const FIXED_END = slot();
let top = FIXED_END;

/** `bytes` of memory at the top, growing the memory when needed. */
function allocate(bytes: number): number {
  const at = top;
  top += bytes;
  const missing = Math.ceil(top / 65536) - f.memory.buffer.byteLength / 65536;
  if (missing > 0) f.memory.grow(missing);
  return at;
}

let words: Uint32Array;
function view(): Uint32Array {
  if (words.buffer !== f.memory.buffer) words = new Uint32Array(f.memory.buffer);
  return words;
}
function isZero2(at: number): boolean {
  const w = view();
  for (let j = at >> 2, end = j + FP2_BYTES / 4; j < end; j++) if (w[j] !== 0) return false;
  return true;
}
function copy(to: number, from: number, bytes: number): void {
  new Uint8Array(f.memory.buffer).copyWithin(to, from, from + bytes);
}
function writeFp2(at: number, c0: bigint, c1: bigint): void {
  writeFp(f.memory, at, c0);
  writeFp(f.memory, at + FP_BYTES, c1);
}
const readFp2 = (at: number): [bigint, bigint] => [readFp(f.memory, at), readFp(f.memory, at + FP_BYTES)];
function writeAffine(at: number, p: G2Affine): void {
  writeFp2(at, p.x0, p.x1);
  writeFp2(at + FP2_BYTES, p.y0, p.y1);
}
function readAffine(at: number): G2Affine {
  const [x0, x1] = readFp2(at);
  const [y0, y1] = readFp2(at + FP2_BYTES);
  return { x0, x1, y0, y1 };
}

// ---- Points. A Jacobian point at q is X at q, Y at q + 64, Z at q + 128; the point
// at infinity is tracked by the caller (a flag), as it has no coordinates here.

/** q ← 2·q (dbl-2009-l for a = 0); returns whether q is now the point at infinity. */
function double(q: number): boolean {
  const X = q,
    Y = q + FP2_BYTES,
    Z = q + 2 * FP2_BYTES;
  if (isZero2(Y)) return true; // no point of order 2 is in G2, but say what 2·q is anyway
  f.sqr2(A, X);
  f.sqr2(B, Y);
  f.sqr2(C, B);
  f.add2(D, X, B); // D = 2·((X + B)² − A − C)
  f.sqr2(D, D);
  f.sub2(D, D, A);
  f.sub2(D, D, C);
  f.add2(D, D, D);
  f.add2(E, A, A); // E = 3A
  f.add2(E, E, A);
  f.mul2(Z, Y, Z); // Z3 = 2·Y·Z
  f.add2(Z, Z, Z);
  f.sqr2(X, E); // X3 = E² − 2D
  f.sub2(X, X, D);
  f.sub2(X, X, D);
  f.sub2(T, D, X); // Y3 = E·(D − X3) − 8C
  f.mul2(T, E, T);
  f.add2(C, C, C);
  f.add2(C, C, C);
  f.add2(C, C, C);
  f.sub2(Y, T, C);
  return false;
}

/**
 * q ← q + p, or q − p when `negate`, for p affine (madd: 8 multiplications and
 * 3 squarings in GF(p²)). `infinite` says whether q is the point at infinity;
 * returns whether the sum is. Handles q = ±p.
 */
function addAffine(q: number, infinite: boolean, p: number, negate: boolean): boolean {
  const X = q,
    Y = q + FP2_BYTES,
    Z = q + 2 * FP2_BYTES;
  const px = p,
    py = p + FP2_BYTES;
  if (infinite) {
    copy(q, p, AFFINE_BYTES);
    if (negate) f.sub2(Y, ZERO, Y);
    copy(Z, ONE, FP2_BYTES);
    return false;
  }
  f.sqr2(ZZ, Z); // Z1²
  f.mul2(U2, px, ZZ); // U2 = x·Z1²
  f.mul2(ZZZ, Z, ZZ); // Z1³
  f.mul2(S2, py, ZZZ); // S2 = ±y·Z1³
  if (negate) f.sub2(S2, ZERO, S2);
  f.sub2(H, U2, X); // H = U2 − X1
  f.sub2(R, S2, Y); // R = S2 − Y1
  if (isZero2(H)) return isZero2(R) ? double(q) : true; // q = p, or q = −p
  f.sqr2(HH, H);
  f.mul2(HHH, H, HH);
  f.mul2(V, X, HH); // V = X1·H²
  f.sqr2(X, R); // X3 = R² − H³ − 2V
  f.sub2(X, X, HHH);
  f.sub2(X, X, V);
  f.sub2(X, X, V);
  f.sub2(T, V, X); // Y3 = R·(V − X3) − Y1·H³
  f.mul2(T, R, T);
  f.mul2(T2, Y, HHH);
  f.sub2(Y, T, T2);
  f.mul2(Z, Z, H); // Z3 = Z1·H
  return false;
}

/**
 * Writes the affine form of the Jacobian points at `from` (count of them, each
 * JACOBIAN_BYTES apart) to `to` (AFFINE_BYTES apart), with one inversion in all
 * (Montgomery's trick). Points flagged infinite are skipped.
 */
function toAffine(from: number, infinite: readonly boolean[], to: number): void {
  const mark = top;
  const prefix = allocate(infinite.length * FP2_BYTES); // prefix[k] = product of the Z before k
  copy(INV, ONE, FP2_BYTES);
  infinite.forEach((inf, k) => {
    copy(prefix + k * FP2_BYTES, INV, FP2_BYTES);
    if (!inf) f.mul2(INV, INV, from + k * JACOBIAN_BYTES + 2 * FP2_BYTES);
  });
  // 1/(a0 + a1·i) = (a0 − a1·i)/(a0² + a1²)
  const [a0, a1] = readFp2(INV);
  const norm = invertFp(a0 * a0 + a1 * a1);
  writeFp2(INV, (a0 * norm) % P, (((P - a1) % P) * norm) % P);
  for (let k = infinite.length - 1; k >= 0; k--) {
    if (infinite[k]) continue;
    const q = from + k * JACOBIAN_BYTES;
    f.mul2(ZI, INV, prefix + k * FP2_BYTES); // 1/Z
    f.mul2(INV, INV, q + 2 * FP2_BYTES);
    f.sqr2(ZI2, ZI);
    f.mul2(ZI3, ZI2, ZI);
    f.mul2(to + k * AFFINE_BYTES, q, ZI2);
    f.mul2(to + k * AFFINE_BYTES + FP2_BYTES, q + FP2_BYTES, ZI3);
  }
  top = mark;
}

// ---- Fixed-base multiplication.

/** A fixed-base table: row i, entry j = (j+1)·2ʷⁱ·G, affine, at rowsAt + (i·2ʷ⁻¹ + j)·AFFINE_BYTES. */
interface Table {
  bits: number;
  rowsAt: number;
}
let table: Table | undefined;

/**
 * The window that makes `count` keys cheapest: a table point costs about 2.3
 * additions (one addition, and its share of the affine normalisation), a key
 * one addition per window: w = 4 for one key, 7 for 500, 8 for 1000, 12 from ~30000.
 */
export function windowBits(count: number): number {
  const cost = (w: number) => (Math.ceil(256 / w) + 1) * (2.3 * 2 ** (w - 1) + Math.max(count, 1));
  let best = 4;
  for (let w = 5; w <= 12; w++) if (cost(w) < cost(best)) best = w;
  return best;
}

/** The table for w-bit windows, kept for the thread's next batch if it is at least as wide. */
function fixedBaseTable(bits: number): Table {
  if (table && table.bits >= bits) return table;
  top = FIXED_END; // a narrower table is replaced
  const half = 2 ** (bits - 1);
  const rows = Math.ceil(256 / bits) + 1;
  const rowsAt = allocate(rows * half * AFFINE_BYTES);
  const multiples = allocate(half * JACOBIAN_BYTES);
  const base = allocate(AFFINE_BYTES);
  writeAffine(base, G2_GENERATOR);
  const noneInfinite = new Array<boolean>(half).fill(false); // j·2ʷⁱ·G ≠ ∞ for j ≤ 2ʷ⁻¹ < n
  for (let i = 0; i < rows; i++) {
    let infinite = true;
    for (let j = 0; j < half; j++) {
      const q = multiples + j * JACOBIAN_BYTES;
      if (j > 0) copy(q, q - JACOBIAN_BYTES, JACOBIAN_BYTES);
      infinite = addAffine(q, infinite, base, false);
    }
    toAffine(multiples, noneInfinite, rowsAt + i * half * AFFINE_BYTES);
    // 2ʷ⁽ⁱ⁺¹⁾·G = 2·(2ʷ⁻¹·2ʷⁱ·G)
    const last = multiples + (half - 1) * JACOBIAN_BYTES;
    double(last);
    toAffine(last, [false], base);
  }
  top = rowsAt + rows * half * AFFINE_BYTES;
  return (table = { bits, rowsAt });
}

/** q ← sk·G (0 ≤ sk < 2²⁵⁶) by signed w-bit windows; returns whether it is the point at infinity. */
function multiplyBase(q: number, sk: bigint, { bits, rowsAt }: Table): boolean {
  const half = 2 ** (bits - 1);
  const mask = BigInt(2 * half - 1);
  const shift = BigInt(bits);
  let infinite = true;
  let k = sk;
  for (let i = 0; k !== 0n; i++) {
    let digit = Number(k & mask);
    k >>= shift;
    if (digit >= half) {
      digit -= 2 * half; // negative digit, carried into the next window
      k += 1n;
    }
    if (digit !== 0)
      infinite = addAffine(q, infinite, rowsAt + (i * half + Math.abs(digit) - 1) * AFFINE_BYTES, digit < 0);
  }
  return infinite;
}

/**
 * gomel's encodings of sk·G2 for each secret (1 ≤ sk < n): 0x01, then x.imag,
 * x.real, y.imag, y.real, 32 bytes each, big-endian (docs/gomel-formats.md).
 */
export function verificationKeys(secrets: readonly bigint[]): Uint8Array[] {
  if (!secrets.length) return [];
  ready();
  const fixed = fixedBaseTable(windowBits(secrets.length));
  const mark = top;
  const points = allocate(secrets.length * JACOBIAN_BYTES);
  const affine = allocate(secrets.length * AFFINE_BYTES);
  const infinite = secrets.map((sk, k) => multiplyBase(points + k * JACOBIAN_BYTES, sk, fixed));
  toAffine(points, infinite, affine);
  const encoded = secrets.map((_, k) => {
    if (infinite[k]) throw new Error(`RMC secret key ${k} is a multiple of the group order`);
    return encodeG2(readAffine(affine + k * AFFINE_BYTES));
  });
  top = mark;
  return encoded;
}

// ---- Validity of a point read from a file.

/** k·p for an affine p, by double-and-add (no table: a point is checked once); returns whether it is ∞. */
function multiplyIsInfinity(p: G2Affine, k: bigint): boolean {
  const mark = top;
  const base = allocate(AFFINE_BYTES);
  const q = allocate(JACOBIAN_BYTES);
  writeAffine(base, p);
  let infinite = true;
  for (let bit = k.toString(2).length - 1; bit >= 0; bit--) {
    if (!infinite) infinite = double(q);
    if ((k >> BigInt(bit)) & 1n) infinite = addAffine(q, infinite, base, false);
  }
  top = mark;
  return infinite;
}

const md = (x: bigint) => ((x % P) + P) % P;

/**
 * Decodes gomel's G2 encoding and checks that it is a point of G2: on the twist
 * y² = x³ + b' and in the subgroup of order n (n·Q = ∞; the twist has cofactor
 * 2p − n, so a point on the curve alone is not enough). Throws a short reason.
 */
export function decodeG2(bytes: Uint8Array): G2Affine {
  const point = parseG2(bytes);
  ready();
  const { x0, x1, y0, y1 } = point;
  const xx0 = md((x0 + x1) * (x0 - x1)),
    xx1 = md(2n * x0 * x1);
  const rhs0 = md(xx0 * x0 - xx1 * x1 + B_TWIST.b0),
    rhs1 = md(xx0 * x1 + xx1 * x0 + B_TWIST.b1); // x³ + b'
  const lhs0 = md((y0 + y1) * (y0 - y1)),
    lhs1 = md(2n * y0 * y1); // y²
  const inGroup = lhs0 === rhs0 && lhs1 === rhs1 && multiplyIsInfinity(point, N);
  if (!inGroup) throw new Error('not a point of the BN256 G2 group (off the curve or outside the subgroup)');
  return point;
}
