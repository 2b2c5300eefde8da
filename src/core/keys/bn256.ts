// BN256 as used by gomel's RMC keys: github.com/cloudflare/bn256, the curve of
// the dclxvi paper (Naehrig, Niederhagen, Schwabe) — NOT Ethereum's bn254.
// Constants from docs/gomel-formats.md ("The BN256 curve of the RMC
// keys"). Only G2 is needed: a verification key is sk·G2.
import { tower12, type Fp2 } from '@noble/curves/abstract/tower.js';
import { weierstrass, type WeierstrassPoint } from '@noble/curves/abstract/weierstrass.js';

export const P = 65000549695646603732796438742359905742825358107623003571877145026864184071783n;
/** Order of G1, G2 and of the scalar field: secret keys live in [1, N). */
export const N = 65000549695646603732796438742359905742570406053903786389881062969044166799969n;

// GF(p²) = GF(p)[i]/(i²+1); the sextic non-residue ξ = i + 3 (FP2_NONRESIDUE
// is [real, imag]). Pairings are never computed, so the final exponentiation
// is a placeholder that is never called.
const fields = tower12({
  ORDER: P,
  X_LEN: 64,
  FP2_NONRESIDUE: [3n, 1n],
  Fp2mulByB: (num: Fp2) => fields.Fp2.mul(num, B_TWIST),
  Fp12finalExponentiate: () => {
    throw new Error('bn256: pairings are not implemented');
  },
});
const Fp2 = fields.Fp2;

// b' = 3/ξ and the G2 generator; noble writes GF(p²) elements as {c0: real, c1: imag}.
const B_TWIST: Fp2 = Fp2.fromBigTuple([
  45500384786952622612957507119651934019977750675336102500314001518804928850249n,
  6500054969564660373279643874235990574282535810762300357187714502686418407178n,
]);

export const G2 = weierstrass<Fp2>(
  {
    p: Fp2.ORDER,
    n: N,
    h: 2n * P - N, // #E'(GF(p²)) = n·(2p − n)
    a: Fp2.ZERO,
    b: B_TWIST,
    Gx: Fp2.fromBigTuple([
      64746500191241794695844075326670126197795977525365406531717464316923369116492n,
      21167961636542580255011770066570541300993051739349375019639421053990175267184n,
    ]),
    Gy: Fp2.fromBigTuple([
      17778617556404439934652658462602675281523610326338642107814333856843981424549n,
      20666913350058776956210519119118544732556678129809273996262322366050359951122n,
    ]),
  },
  { Fp: Fp2 },
);
export type G2Point = WeierstrassPoint<Fp2>;

/** gomel's marshalled G2 point: 0x01, then x.imag, x.real, y.imag, y.real (32 bytes each, big-endian). */
export const G2_ENCODED_LENGTH = 129;

function toBytes32(x: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function fromBytes(b: Uint8Array): bigint {
  let x = 0n;
  for (const byte of b) x = (x << 8n) | BigInt(byte);
  return x;
}

export function encodeG2(point: G2Point): Uint8Array {
  const { x, y } = point.toAffine();
  const out = new Uint8Array(G2_ENCODED_LENGTH);
  out[0] = 0x01;
  out.set(toBytes32(x.c1), 1);
  out.set(toBytes32(x.c0), 33);
  out.set(toBytes32(y.c1), 65);
  out.set(toBytes32(y.c0), 97);
  return out;
}

/** Decodes gomel's G2 encoding; throws a short reason when it is not a valid point of the group. */
export function decodeG2(bytes: Uint8Array): G2Point {
  if (bytes.length === 1 && bytes[0] === 0x00) throw new Error('point at infinity');
  if (bytes.length !== G2_ENCODED_LENGTH) throw new Error(`expected ${G2_ENCODED_LENGTH} bytes, got ${bytes.length}`);
  if (bytes[0] !== 0x01) throw new Error(`expected leading byte 0x01, got 0x${bytes[0]!.toString(16).padStart(2, '0')}`);
  const coords = [1, 33, 65, 97].map((o) => fromBytes(bytes.subarray(o, o + 32)));
  if (coords.some((c) => c >= P)) throw new Error('coordinate not below the field prime');
  const [xi, xr, yi, yr] = coords as [bigint, bigint, bigint, bigint];
  const point = G2.fromAffine({ x: Fp2.fromBigTuple([xr, xi]), y: Fp2.fromBigTuple([yr, yi]) });
  try {
    point.assertValidity();
  } catch {
    throw new Error('not a point of the BN256 G2 group (off the curve or outside the subgroup)');
  }
  return point;
}

/** The RMC verification key of secret scalar `sk` (1 ≤ sk < N). */
/**
 * sk·G2 by fixed-base windowed multiplication with a table of window 8, built once
 * per thread on first use (~0.15 s): ~0.7 ms a key against ~1.7 ms with the default
 * table (measured here). Same points, so the same bytes.
 */
let fixedBase: G2Point | undefined;
export function multiplyBase(sk: bigint): G2Point {
  if (!fixedBase) {
    fixedBase = G2.fromAffine(G2.BASE.toAffine());
    fixedBase.precompute(8, false);
  }
  return fixedBase.multiply(sk);
}

export function verificationKey(sk: bigint): Uint8Array {
  if (sk <= 0n || sk >= N) throw new Error('RMC secret key out of range [1, n)');
  return encodeG2(multiplyBase(sk));
}

/** Go's big.Int.Bytes(): big-endian, no leading zero bytes (empty for 0). */
export function scalarToBytes(x: bigint): Uint8Array {
  const full = toBytes32(x);
  let i = 0;
  while (i < full.length && full[i] === 0) i++;
  return full.subarray(i);
}

export function scalarFromBytes(b: Uint8Array): bigint {
  return fromBytes(b);
}
