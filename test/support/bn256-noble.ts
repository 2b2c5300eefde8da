// An independent BN256 G2 for the tests: @noble/curves' generic Weierstrass
// code over its GF(p²) tower, from the same constants. src/core/keys/g2.ts is
// checked against it (same points, same validity verdicts).
import { tower12, type Fp2 as Fp2Element } from '@noble/curves/abstract/tower.js';
import { weierstrass, type WeierstrassPoint } from '@noble/curves/abstract/weierstrass.js';
import { B_TWIST, encodeG2, G2_GENERATOR, N, P, parseG2 } from '../../src/core/keys/bn256.js';

// GF(p²) = GF(p)[i]/(i²+1); the sextic non-residue ξ = i + 3 (FP2_NONRESIDUE
// is [real, imag]). Pairings are never computed.
const fields = tower12({
  ORDER: P,
  X_LEN: 64,
  FP2_NONRESIDUE: [3n, 1n],
  Fp2mulByB: (num: Fp2Element) => fields.Fp2.mul(num, b),
  Fp12finalExponentiate: () => {
    throw new Error('bn256: pairings are not implemented');
  },
});
export const Fp2 = fields.Fp2;
export const b = Fp2.fromBigTuple([B_TWIST.b0, B_TWIST.b1]);

export const NobleG2 = weierstrass<Fp2Element>(
  {
    p: Fp2.ORDER,
    n: N,
    h: 2n * P - N, // #E'(GF(p²)) = n·(2p − n)
    a: Fp2.ZERO,
    b,
    Gx: Fp2.fromBigTuple([G2_GENERATOR.x0, G2_GENERATOR.x1]),
    Gy: Fp2.fromBigTuple([G2_GENERATOR.y0, G2_GENERATOR.y1]),
  },
  { Fp: Fp2 },
);

export function nobleEncode(point: WeierstrassPoint<Fp2Element>): Uint8Array {
  const { x, y } = point.toAffine();
  return encodeG2({ x0: x.c0, x1: x.c1, y0: y.c0, y1: y.c1 });
}

/** sk·G2 in gomel's encoding, by noble. */
export function nobleVerificationKey(sk: bigint): Uint8Array {
  return nobleEncode(NobleG2.BASE.multiply(sk));
}

/** Whether noble takes the bytes for a point of G2 (on the curve, in the order-n subgroup). */
export function nobleAccepts(bytes: Uint8Array): boolean {
  try {
    const { x0, x1, y0, y1 } = parseG2(bytes);
    NobleG2.fromAffine({ x: Fp2.fromBigTuple([x0, x1]), y: Fp2.fromBigTuple([y0, y1]) }).assertValidity();
    return true;
  } catch {
    return false;
  }
}
