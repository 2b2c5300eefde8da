// G2 arithmetic of BN256: sk·G2 for many secret keys at once — the cost of
// `keys gen` and `keys verify` (issue 14) — and the validity check of a
// verification key read from committee.ka. Same points as @noble/curves'
// generic code (the tests compare), ~4× faster:
//
// - Fixed-base signed windows: sk = Σ dᵢ·2ʷⁱ with dᵢ ∈ [−2ʷ⁻¹, 2ʷ⁻¹), and a table
//   Tᵢ[j] = (j+1)·2ʷⁱ·G in affine form, so a key costs ⌈256/w⌉ + 1 mixed
//   additions at most and no doubling at all. The table is built once per
//   thread, w chosen for the number of keys (windowBits).
// - Jacobian coordinates (x = X/Z², y = Y/Z³) over GF(p²) = GF(p)[i]/(i²+1),
//   written out on bigint components: no objects per operation, and each
//   product is reduced once, after the additions around it (lazy reduction).
// - One field inversion per batch of points (Montgomery's trick) to bring the
//   results back to affine form for gomel's encoding.
import { B_TWIST, encodeG2, G2_GENERATOR, N, P, parseG2, type G2Affine as Affine } from './bn256.js';

/** x mod p in [0, p), for any bigint x (JS's % keeps the dividend's sign). */
function md(x: bigint): bigint {
  const r = x % P;
  return r < 0n ? r + P : r;
}

/** Inverse in GF(p) by the extended Euclidean algorithm; a ≠ 0. */
function invFp(a: bigint): bigint {
  let [r0, r1] = [P, md(a)];
  let [s0, s1] = [0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return md(s0);
}

/** A point in Jacobian coordinates, each coordinate an element c0 + c1·i of GF(p²); Z = 0 is the point at infinity. */
interface Jacobian {
  x0: bigint; x1: bigint;
  y0: bigint; y1: bigint;
  z0: bigint; z1: bigint;
}

const INFINITY: Jacobian = { x0: 1n, x1: 0n, y0: 1n, y1: 0n, z0: 0n, z1: 0n };
const isInfinity = (q: Jacobian) => q.z0 === 0n && q.z1 === 0n;

/** 2·q (dbl-2009-l for a = 0). */
function double(q: Jacobian): Jacobian {
  if (isInfinity(q) || (q.y0 === 0n && q.y1 === 0n)) return INFINITY;
  const { x0, x1, y0, y1, z0, z1 } = q;
  const a0 = md((x0 + x1) * (x0 - x1)), a1 = md(2n * x0 * x1); // A = X²
  const b0 = md((y0 + y1) * (y0 - y1)), b1 = md(2n * y0 * y1); // B = Y²
  const c0 = md((b0 + b1) * (b0 - b1)), c1 = md(2n * b0 * b1); // C = B²
  const xb0 = x0 + b0, xb1 = x1 + b1; // D = 2·((X + B)² − A − C)
  const d0 = md(2n * ((xb0 + xb1) * (xb0 - xb1) - a0 - c0)), d1 = md(2n * (2n * xb0 * xb1 - a1 - c1));
  const e0 = 3n * a0, e1 = 3n * a1; // E = 3A
  const rx0 = md((e0 + e1) * (e0 - e1) - 2n * d0), rx1 = md(2n * e0 * e1 - 2n * d1); // X3 = E² − 2D
  const dx0 = d0 - rx0, dx1 = d1 - rx1; // Y3 = E·(D − X3) − 8C
  const ry0 = md(e0 * dx0 - e1 * dx1 - 8n * c0), ry1 = md(e0 * dx1 + e1 * dx0 - 8n * c1);
  const rz0 = md(2n * (y0 * z0 - y1 * z1)), rz1 = md(2n * (y0 * z1 + y1 * z0)); // Z3 = 2·Y·Z
  return { x0: rx0, x1: rx1, y0: ry0, y1: ry1, z0: rz0, z1: rz1 };
}

/**
 * q + (x, y·sign) with (x, y) affine (madd for Jacobian + affine): 8 multiplications
 * and 3 squarings in GF(p²). `negate` adds −(x, y) instead. Handles q = ∞, q = ±(x, y).
 */
function addAffine(q: Jacobian, p: Affine, negate: boolean): Jacobian {
  const px0 = p.x0, px1 = p.x1;
  const py0 = negate ? (p.y0 === 0n ? 0n : P - p.y0) : p.y0;
  const py1 = negate ? (p.y1 === 0n ? 0n : P - p.y1) : p.y1;
  if (isInfinity(q)) return { x0: px0, x1: px1, y0: py0, y1: py1, z0: 1n, z1: 0n };
  const { x0, x1, y0, y1, z0, z1 } = q;
  const zz0 = md((z0 + z1) * (z0 - z1)), zz1 = md(2n * z0 * z1); // Z1²
  const u0 = md(px0 * zz0 - px1 * zz1), u1 = md(px0 * zz1 + px1 * zz0); // U2 = x·Z1²
  const zzz0 = md(z0 * zz0 - z1 * zz1), zzz1 = md(z0 * zz1 + z1 * zz0); // Z1³
  const s0 = md(py0 * zzz0 - py1 * zzz1), s1 = md(py0 * zzz1 + py1 * zzz0); // S2 = y·Z1³
  const h0 = u0 - x0, h1 = u1 - x1; // H = U2 − X1, in (−p, p)
  const r0 = s0 - y0, r1 = s1 - y1; // R = S2 − Y1
  if (h0 === 0n && h1 === 0n) return r0 === 0n && r1 === 0n ? double(q) : INFINITY;
  const hh0 = md((h0 + h1) * (h0 - h1)), hh1 = md(2n * h0 * h1); // HH = H²
  const hhh0 = md(h0 * hh0 - h1 * hh1), hhh1 = md(h0 * hh1 + h1 * hh0); // HHH = H³
  const v0 = md(x0 * hh0 - x1 * hh1), v1 = md(x0 * hh1 + x1 * hh0); // V = X1·H²
  const rx0 = md((r0 + r1) * (r0 - r1) - hhh0 - 2n * v0), rx1 = md(2n * r0 * r1 - hhh1 - 2n * v1); // X3 = R² − H³ − 2V
  const w0 = v0 - rx0, w1 = v1 - rx1; // Y3 = R·(V − X3) − Y1·H³
  const ry0 = md(r0 * w0 - r1 * w1 - (y0 * hhh0 - y1 * hhh1)), ry1 = md(r0 * w1 + r1 * w0 - (y0 * hhh1 + y1 * hhh0));
  const rz0 = md(z0 * h0 - z1 * h1), rz1 = md(z0 * h1 + z1 * h0); // Z3 = Z1·H
  return { x0: rx0, x1: rx1, y0: ry0, y1: ry1, z0: rz0, z1: rz1 };
}

/**
 * Affine forms of Jacobian points, with one inversion in all (Montgomery's trick).
 * Points at infinity have no affine form: their entry is undefined.
 */
function toAffine(points: readonly Jacobian[]): (Affine | undefined)[] {
  // prefix[k] = z_0 · … · z_{k−1} over the finite points
  const prefix: [bigint, bigint][] = [];
  let a0 = 1n, a1 = 0n;
  for (const q of points) {
    prefix.push([a0, a1]);
    if (isInfinity(q)) continue;
    [a0, a1] = [md(a0 * q.z0 - a1 * q.z1), md(a0 * q.z1 + a1 * q.z0)];
  }
  // 1/(a0 + a1·i) = (a0 − a1·i)/(a0² + a1²)
  const norm = invFp(a0 * a0 + a1 * a1);
  let i0 = md(a0 * norm), i1 = md(-a1 * norm); // the inverse of the whole product, peeled off from the end
  const out: (Affine | undefined)[] = new Array<Affine | undefined>(points.length).fill(undefined);
  for (let k = points.length - 1; k >= 0; k--) {
    const q = points[k]!;
    if (isInfinity(q)) continue;
    const [p0, p1] = prefix[k]!;
    const zi0 = md(i0 * p0 - i1 * p1), zi1 = md(i0 * p1 + i1 * p0); // 1/Z
    [i0, i1] = [md(i0 * q.z0 - i1 * q.z1), md(i0 * q.z1 + i1 * q.z0)];
    const zi20 = md((zi0 + zi1) * (zi0 - zi1)), zi21 = md(2n * zi0 * zi1); // 1/Z²
    const zi30 = md(zi20 * zi0 - zi21 * zi1), zi31 = md(zi20 * zi1 + zi21 * zi0); // 1/Z³
    out[k] = {
      x0: md(q.x0 * zi20 - q.x1 * zi21), x1: md(q.x0 * zi21 + q.x1 * zi20),
      y0: md(q.y0 * zi30 - q.y1 * zi31), y1: md(q.y0 * zi31 + q.y1 * zi30),
    };
  }
  return out;
}

/** A fixed-base table: rows[i][j] = (j+1)·2ʷⁱ·G for j < 2ʷ⁻¹. */
interface Table {
  bits: number;
  rows: Affine[][];
}

/**
 * The window that makes `count` keys cheapest: a table point costs about 2.3
 * additions (one addition, and its share of the affine normalisation), a key
 * one addition per window. 1000 keys per thread: w = 7; 32768: w = 12.
 */
export function windowBits(count: number): number {
  const cost = (w: number) => (Math.ceil(256 / w) + 1) * (2.3 * 2 ** (w - 1) + Math.max(count, 1));
  let best = 4;
  for (let w = 5; w <= 12; w++) if (cost(w) < cost(best)) best = w;
  return best;
}

let cached: Table | undefined;

/** The table for w-bit windows: kept for the thread's next batch if it is at least as wide. */
function fixedBaseTable(bits: number): Table {
  if (cached && cached.bits >= bits) return cached;
  const half = 2 ** (bits - 1);
  const rows: Affine[][] = [];
  let base: Affine = G2_GENERATOR;
  for (let i = 0; i < Math.ceil(256 / bits) + 1; i++) {
    const multiples: Jacobian[] = [];
    let q = INFINITY;
    for (let j = 0; j < half; j++) multiples.push((q = addAffine(q, base, false)));
    rows.push(toAffine(multiples) as Affine[]); // j·2ʷⁱ·G ≠ ∞ for j ≤ 2ʷ⁻¹ < n
    base = toAffine([double(multiples[half - 1]!)])[0]!; // 2ʷ⁽ⁱ⁺¹⁾·G = 2·(2ʷ⁻¹·2ʷⁱ·G)
  }
  return (cached = { bits, rows });
}

/** sk·G in Jacobian coordinates, 0 ≤ sk < 2²⁵⁶, by signed w-bit windows. */
function multiplyBase(sk: bigint, { bits, rows }: Table): Jacobian {
  const half = 2 ** (bits - 1);
  const mask = BigInt(2 * half - 1);
  const shift = BigInt(bits);
  let q = INFINITY;
  let k = sk;
  for (let i = 0; k !== 0n; i++) {
    let digit = Number(k & mask);
    k >>= shift;
    if (digit >= half) {
      digit -= 2 * half; // negative digit, carried into the next window
      k += 1n;
    }
    if (digit !== 0) q = addAffine(q, rows[i]![Math.abs(digit) - 1]!, digit < 0);
  }
  return q;
}

/**
 * gomel's encodings of sk·G2 for each secret (1 ≤ sk < n): 0x01, then x.imag,
 * x.real, y.imag, y.real, 32 bytes each, big-endian (docs/gomel-formats.md).
 */
export function verificationKeys(secrets: readonly bigint[]): Uint8Array[] {
  const table = fixedBaseTable(windowBits(secrets.length));
  const affine = toAffine(secrets.map((sk) => multiplyBase(sk, table)));
  return affine.map((point, k) => {
    if (!point) throw new Error(`RMC secret key ${k} is a multiple of the group order`);
    return encodeG2(point);
  });
}

/** k·p for any affine p, by double-and-add (no table: a point is checked once). */
function multiply(p: Affine, k: bigint): Jacobian {
  let q = INFINITY;
  for (let bit = BigInt(k.toString(2).length - 1); bit >= 0n; bit--) {
    q = double(q);
    if ((k >> bit) & 1n) q = addAffine(q, p, false);
  }
  return q;
}

/**
 * Decodes gomel's G2 encoding and checks that it is a point of G2: on the twist
 * y² = x³ + b' and in the subgroup of order n (n·Q = ∞; the twist has cofactor
 * 2p − n, so a point on the curve alone is not enough). Throws a short reason.
 */
export function decodeG2(bytes: Uint8Array): Affine {
  const point = parseG2(bytes);
  const { x0, x1, y0, y1 } = point;
  const xx0 = md((x0 + x1) * (x0 - x1)), xx1 = md(2n * x0 * x1);
  const rhs0 = md(xx0 * x0 - xx1 * x1 + B_TWIST.b0), rhs1 = md(xx0 * x1 + xx1 * x0 + B_TWIST.b1); // x³ + b'
  const lhs0 = md((y0 + y1) * (y0 - y1)), lhs1 = md(2n * y0 * y1); // y²
  const inGroup = lhs0 === rhs0 && lhs1 === rhs1 && isInfinity(multiply(point, N));
  if (!inGroup) throw new Error('not a point of the BN256 G2 group (off the curve or outside the subgroup)');
  return point;
}
