// Per-node key derivation from a 32-byte committee seed (documented in README,
// "Key derivation"). Each node's keys depend only on (seed, pid), so growing a
// committee keeps existing nodes byte-identical.
//
//   ed25519 seed  = HKDF-SHA256(ikm = seed, salt = "gomelctl/v1", info = "ed25519" ‖ pid32be, 32 bytes)
//   RMC secret    = first c = 0, 1, 2, … for which
//                   x = HKDF-SHA256(ikm = seed, salt = "gomelctl/v1", info = "bn256-rmc" ‖ pid32be ‖ c32be, 32 bytes)
//                   read big-endian satisfies 1 ≤ x < n   (rejection sampling: uniform, no modular bias)
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import * as ed from '@noble/ed25519';
import { N as BN256_ORDER, scalarFromBytes, verificationKey } from './bn256.js';
import type { Member, PrivateKey } from '../committee.js';

ed.hashes.sha512 = sha512;

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

export function deriveEd25519Seed(seed: Uint8Array, pid: number): Uint8Array {
  return hkdf(sha256, seed, SALT, info('ed25519', pid), 32);
}

export function deriveRmcSecret(seed: Uint8Array, pid: number): bigint {
  for (let counter = 0; ; counter++) {
    const x = scalarFromBytes(hkdf(sha256, seed, SALT, info('bn256-rmc', pid, counter), 32));
    if (x >= 1n && x < BN256_ORDER) return x;
  }
}

/** The public half of an ed25519 key from its 32-byte seed. */
export function ed25519PublicKey(seed32: Uint8Array): Uint8Array {
  return ed.getPublicKey(seed32);
}

export interface DerivedNode {
  privateKey: PrivateKey;
  publicKey: Uint8Array;
  verificationKey: Uint8Array;
}

export function deriveNode(seed: Uint8Array, pid: number): DerivedNode {
  if (seed.length !== SEED_LENGTH) throw new Error(`committee seed must be ${SEED_LENGTH} bytes`);
  const edSeed = deriveEd25519Seed(seed, pid);
  const publicKey = ed25519PublicKey(edSeed);
  const signingKey = new Uint8Array(64);
  signingKey.set(edSeed);
  signingKey.set(publicKey, 32);
  const rmcSecret = deriveRmcSecret(seed, pid);
  return { privateKey: { signingKey, rmcSecret, pid }, publicKey, verificationKey: verificationKey(rmcSecret) };
}

export function memberOf(node: DerivedNode, addresses: { setupAddresses: string[]; addresses: string[] }): Member {
  return { publicKey: node.publicKey, verificationKey: node.verificationKey, ...addresses };
}
