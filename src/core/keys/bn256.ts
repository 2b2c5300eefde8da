// BN256 as used by gomel's RMC keys: github.com/cloudflare/bn256, the curve of
// the dclxvi paper (Naehrig, Niederhagen, Schwabe) — NOT Ethereum's bn254.
// Constants and byte formats from docs/gomel-formats.md ("The BN256 curve of
// the RMC keys"); the arithmetic is in g2.ts. Only G2 is needed: a
// verification key is sk·G2.

export const P = 65000549695646603732796438742359905742825358107623003571877145026864184071783n;
/** Order of G1, G2 and of the scalar field: secret keys live in [1, N). */
export const N = 65000549695646603732796438742359905742570406053903786389881062969044166799969n;

/** An affine point of G2: x = x0 + x1·i, y = y0 + y1·i in GF(p²) = GF(p)[i]/(i²+1). */
export interface G2Affine {
  x0: bigint;
  x1: bigint;
  y0: bigint;
  y1: bigint;
}

/** b' = 3/ξ with ξ = i + 3: the twist is y² = x³ + b'. */
export const B_TWIST = {
  b0: 45500384786952622612957507119651934019977750675336102500314001518804928850249n,
  b1: 6500054969564660373279643874235990574282535810762300357187714502686418407178n,
} as const;

export const G2_GENERATOR: G2Affine = {
  x0: 64746500191241794695844075326670126197795977525365406531717464316923369116492n,
  x1: 21167961636542580255011770066570541300993051739349375019639421053990175267184n,
  y0: 17778617556404439934652658462602675281523610326338642107814333856843981424549n,
  y1: 20666913350058776956210519119118544732556678129809273996262322366050359951122n,
};

/** gomel's marshalled G2 point: 0x01, then x.imag, x.real, y.imag, y.real (32 bytes each, big-endian). */
export const G2_ENCODED_LENGTH = 129;

export function encodeG2(point: G2Affine): Uint8Array {
  const out = new Uint8Array(G2_ENCODED_LENGTH);
  out[0] = 0x01;
  [point.x1, point.x0, point.y1, point.y0].forEach((c, j) => out.set(toBytes32(c), 1 + 32 * j));
  return out;
}

/**
 * The coordinates of gomel's G2 encoding; throws a short reason when the bytes
 * are not one. Whether the point is on the curve and in G2 is g2.ts's decodeG2.
 */
export function parseG2(bytes: Uint8Array): G2Affine {
  if (bytes.length === 1 && bytes[0] === 0x00) throw new Error('point at infinity');
  if (bytes.length !== G2_ENCODED_LENGTH) throw new Error(`expected ${G2_ENCODED_LENGTH} bytes, got ${bytes.length}`);
  if (bytes[0] !== 0x01)
    throw new Error(`expected leading byte 0x01, got 0x${bytes[0]!.toString(16).padStart(2, '0')}`);
  const [x1, x0, y1, y0] = [1, 33, 65, 97].map((o) => fromBytes(bytes.subarray(o, o + 32))) as [
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  if ([x0, x1, y0, y1].some((c) => c >= P)) throw new Error('coordinate not below the field prime');
  return { x0, x1, y0, y1 };
}

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
