// Per-node key derivation from a 32-byte committee seed (documented in docs/keys.md,
// "Key derivation"). Each node's keys depend only on (seed, pid), so growing a
// committee keeps existing nodes byte-identical.
//
//   ed25519 seed  = HKDF-SHA256(ikm = seed, salt = "gomelctl/v1", info = "ed25519" ‖ pid32be, 32 bytes)
//   RMC secret    = first c = 0, 1, 2, … for which
//                   x = HKDF-SHA256(ikm = seed, salt = "gomelctl/v1", info = "bn256-rmc" ‖ pid32be ‖ c32be, 32 bytes)
//                   read big-endian satisfies 1 ≤ x < n   (rejection sampling: uniform, no modular bias)
import { createHmac, createPrivateKey } from 'node:crypto';
import { N as BN256_ORDER, scalarFromBytes } from './bn256.js';
import { verificationKeys } from './g2.js';
import type { Member, PrivateKey } from './committee.js';

export const SEED_LENGTH = 32;
const SALT = new TextEncoder().encode('gomelctl/v1');

function info(label: string, ...numbers: number[]): Uint8Array {
  const text = new TextEncoder().encode(label);
  const out = new Uint8Array(text.length + 4 * numbers.length);
  out.set(text);
  const view = new DataView(out.buffer);
  numbers.forEach((n, i) => view.setUint32(text.length + 4 * i, n));
  return out;
}

// HKDF-SHA256 (RFC 5869) for 32 bytes, spelled out so that the extract step,
// the same for every key of a committee, is done once: PRK = HMAC(salt, seed),
// then the output is T(1) = HMAC(PRK, info ‖ 0x01). By OpenSSL's HMAC: ~2.5 µs,
// where one hkdfSync call costs ~10 µs and noble's HKDF ~30 µs (issue 14).
let extracted: { seed: Uint8Array; prk: Buffer } | undefined;
function hkdf32(seed: Uint8Array, info: Uint8Array): Uint8Array {
  if (!extracted || Buffer.compare(extracted.seed, seed) !== 0)
    extracted = { seed: Uint8Array.from(seed), prk: createHmac('sha256', SALT).update(seed).digest() };
  return new Uint8Array(createHmac('sha256', extracted.prk).update(info).update(BLOCK_1).digest());
}
const BLOCK_1 = Uint8Array.of(1);

export function deriveEd25519Seed(seed: Uint8Array, pid: number): Uint8Array {
  return hkdf32(seed, info('ed25519', pid));
}

function deriveRmcSecret(seed: Uint8Array, pid: number): bigint {
  for (let counter = 0; ; counter++) {
    const x = scalarFromBytes(hkdf32(seed, info('bn256-rmc', pid, counter)));
    if (x >= 1n && x < BN256_ORDER) return x;
  }
}

/**
 * The public half of an ed25519 key from its 32-byte seed, by OpenSSL: ~50 µs
 * against ~180 µs in @noble/ed25519 (issue 14). Node imports a JWK private key
 * through OpenSSL's raw-key path and derives the public half from `d` alone; it
 * wants `x` to be a string but does not read it, hence the placeholder. Should a
 * Node ever read it, the self-check below falls back to noble, loaded only then.
 */
function nativePublicKey(seed32: Uint8Array): Uint8Array {
  const d = Buffer.from(seed32.buffer, seed32.byteOffset, seed32.byteLength).toString('base64url');
  const x = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d, x: '' }, format: 'jwk' }).export({
    format: 'jwk',
  }).x!;
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

// RFC 8032, section 7.1, TEST 1: the secret key (seed) and the public key it derives.
const RFC8032_SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const RFC8032_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const nativeWorks = (() => {
  try {
    return Buffer.from(nativePublicKey(RFC8032_SEED)).toString('hex') === RFC8032_PUBLIC;
  } catch {
    return false;
  }
})();

const noble = nativeWorks ? undefined : await loadNoble();
async function loadNoble() {
  const ed = await import('@noble/ed25519');
  ed.hashes.sha512 = (await import('@noble/hashes/sha2.js')).sha512;
  return ed;
}

/** The public half of an ed25519 key from its 32-byte seed. */
export function ed25519PublicKey(seed32: Uint8Array): Uint8Array {
  return noble ? noble.getPublicKey(seed32) : nativePublicKey(seed32);
}

export interface DerivedNode {
  privateKey: PrivateKey;
  publicKey: Uint8Array;
  verificationKey: Uint8Array;
}

/** The keys of each pid, derived from the committee seed; one batch shares the cost of bringing the RMC keys to affine form. */
export function deriveNodes(seed: Uint8Array, pids: readonly number[]): DerivedNode[] {
  if (seed.length !== SEED_LENGTH) throw new Error(`committee seed must be ${SEED_LENGTH} bytes`);
  const rmcSecrets = pids.map((pid) => deriveRmcSecret(seed, pid));
  const rmcKeys = verificationKeys(rmcSecrets);
  return pids.map((pid, k) => {
    const edSeed = deriveEd25519Seed(seed, pid);
    const publicKey = ed25519PublicKey(edSeed);
    const signingKey = new Uint8Array(64);
    signingKey.set(edSeed);
    signingKey.set(publicKey, 32);
    return { privateKey: { signingKey, rmcSecret: rmcSecrets[k]!, pid }, publicKey, verificationKey: rmcKeys[k]! };
  });
}

export function deriveNode(seed: Uint8Array, pid: number): DerivedNode {
  return deriveNodes(seed, [pid])[0]!;
}

export function memberOf(node: DerivedNode, addresses: { setupAddresses: string[]; addresses: string[] }): Member {
  return { publicKey: node.publicKey, verificationKey: node.verificationKey, ...addresses };
}
