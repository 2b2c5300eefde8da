// Consistency of a committee with its member files: each private key must
// derive exactly the public keys on its committee line (gomel-formats.md).
import { N as BN256_ORDER } from './bn256.js';
import { decodeG2, verificationKeys } from './g2.js';
import type { Member, PrivateKey } from './committee.js';
import { ed25519PublicKey } from './derive.js';
import { InputError } from '../errors.js';

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkPoint(member: Member, file: string, line: string): void {
  try {
    decodeG2(member.verificationKey);
  } catch (e) {
    throw new InputError(
      file,
      line,
      `RMC verification key invalid: ${(e as Error).message}`,
      'regenerate with `gomelctl keys gen --regenerate`',
    );
  }
}

/**
 * Checks the committee on its own: address columns consistent across lines, and
 * each verification key a point of G2 — except on lines in `provenByKey`, whose
 * key is recomputed from the private key (checkPrivateKeys), which proves more,
 * faster than a subgroup check.
 */
export function verifyCommitteeShape(
  members: readonly Member[],
  file: string,
  provenByKey: ReadonlySet<number> = new Set(),
): void {
  const first = members[0]!;
  members.forEach((m, i) => {
    const where = `${i + 1}`;
    if (!provenByKey.has(i)) checkPoint(m, file, where);
    if (m.addresses.length !== first.addresses.length || m.setupAddresses.length !== first.setupAddresses.length) {
      throw new InputError(
        file,
        where,
        `${m.setupAddresses.length} setup and ${m.addresses.length} address columns, line 1 has ${first.setupAddresses.length} and ${first.addresses.length}`,
        'every line needs the same columns; rewrite them with `gomelctl keys gen --ports ...`',
      );
    }
  });
}

/** A member file to check against the committee line of `expectedPid` (the pid its name says). */
export interface KeyToVerify {
  key: PrivateKey;
  expectedPid: number;
  file: string;
}

/** What a member file's two secrets derive: its signing public key and RMC verification key. */
export interface DerivedPublicKeys {
  publicKey: Uint8Array;
  verificationKey: Uint8Array;
}

/**
 * The public keys each key's secrets derive, the RMC keys in one batch (g2.ts);
 * the secrets must be in range (precheckPrivateKeys). A member file is checked
 * in three steps: precheckPrivateKeys, this (on every core: parallel/derive-pool.ts),
 * then checkPrivateKeys.
 */
export function derivePublicKeys(keys: readonly PrivateKey[]): DerivedPublicKeys[] {
  const verificationKeysOf = verificationKeys(keys.map((key) => key.rmcSecret));
  return keys.map((key, k) => ({
    publicKey: ed25519PublicKey(key.signingKey.subarray(0, 32)),
    verificationKey: verificationKeysOf[k]!,
  }));
}

/** What needs no derivation: the pid, a committee line for it, the RMC secret in [1, n). */
export function precheckPrivateKeys(
  keys: readonly KeyToVerify[],
  members: readonly Member[],
  committeeFile: string,
): void {
  for (const { key, expectedPid, file } of keys) {
    if (key.pid !== expectedPid)
      throw new InputError(
        file,
        '1',
        `pid field is ${key.pid}, the file name says ${expectedPid}`,
        `rename the file to ${key.pid}.pk or fix the pid`,
      );
    if (!members[expectedPid])
      throw new InputError(
        file,
        undefined,
        `pid ${expectedPid} has no line in ${committeeFile} (${members.length} lines)`,
        'remove the file or regenerate the committee',
      );
    if (key.rmcSecret <= 0n || key.rmcSecret >= BN256_ORDER)
      throw new InputError(file, '1', 'RMC secret key is outside [1, n)', 'restore the file');
  }
}

/** Compares what each key derives (`derived[k]` for `keys[k]`) with the key file itself and its committee line. */
export function checkPrivateKeys(
  keys: readonly KeyToVerify[],
  derived: readonly DerivedPublicKeys[],
  members: readonly Member[],
  committeeFile: string,
): void {
  keys.forEach(({ key, expectedPid, file }, k) => {
    const { publicKey, verificationKey } = derived[k]!;
    const member = members[expectedPid]!;
    if (!equalBytes(publicKey, key.signingKey.subarray(32))) {
      throw new InputError(
        file,
        '1',
        'signing private key is corrupt: its seed does not derive the public key it carries',
        'restore the file from a backup or the committee seed',
      );
    }
    if (!equalBytes(publicKey, member.publicKey)) {
      throw new InputError(
        committeeFile,
        `${expectedPid + 1}`,
        `signing public key does not match ${file}`,
        'restore the line or the key file; `keys gen` never rewrites existing keys',
      );
    }
    if (!equalBytes(verificationKey, member.verificationKey)) {
      // Say why precisely: a line that is not even a curve point is corrupt, not just another key.
      checkPoint(member, committeeFile, `${expectedPid + 1}`);
      throw new InputError(
        committeeFile,
        `${expectedPid + 1}`,
        `RMC verification key does not match ${file}`,
        'restore the line or the key file',
      );
    }
  });
}
