// Codec for gomel's 2019-09 key files (docs/gomel-formats.md):
//   committee.ka: <signing pk>|<RMC verification key>|<setup addresses>|<addresses>
//   <pid>.pk:     <signing private key> <RMC secret key> <pid>
//   addresses:    <setup addresses>|<addresses>   (input of gomel's key generator)
import { InputError } from './errors.js';
import { G2_ENCODED_LENGTH, scalarFromBytes, scalarToBytes } from './keys/bn256.js';

export interface Member {
  /** ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** gomel-encoded BN256 G2 point sk·G2, 129 bytes. */
  verificationKey: Uint8Array;
  setupAddresses: string[];
  addresses: string[];
}

export interface PrivateKey {
  /** NaCl expanded ed25519 private key: 32-byte seed ‖ 32-byte public key. */
  signingKey: Uint8Array;
  /** BN256 scalar in [1, n). */
  rmcSecret: bigint;
  pid: number;
}

export interface AddressLine {
  setupAddresses: string[];
  addresses: string[];
}

export const MIN_COMMITTEE = 4;
export const MAX_COMMITTEE = 65535;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function decodeBase64(text: string, file: string, where: string, what: string): Uint8Array {
  if (!BASE64.test(text)) throw new InputError(file, where, `${what} is not valid base64`, 'restore the file or regenerate it with `gomelctl keys gen`');
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Splits a text file into lines, accepting a final newline and CRLF. */
function lines(text: string): string[] {
  const out = text.replace(/\r\n/g, '\n').split('\n');
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/**
 * gomel splits an address field on single spaces (strings.Split(field, " ")), so a
 * double, leading or trailing space is an empty address to it: refuse what it would misread.
 */
function splitAddresses(field: string, file: string, where: string): string[] {
  if (field === '') return [];
  const list = field.split(' ');
  if (list.includes('')) throw new InputError(file, where, `address field "${field}" has a double, leading or trailing space; gomel would read an empty address there`, 'separate addresses with single spaces');
  return list;
}

const HOST_PORT = /^[^\s:|]+:(\d{1,5})$/;

function checkAddresses(list: string[], file: string, where: string): void {
  for (const address of list) {
    const m = HOST_PORT.exec(address);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) {
      throw new InputError(file, where, `address "${address}" is not host:port with a port in 1..65535`, 'fix the address');
    }
  }
}

/** Parses committee.ka. Checks shape and encodings; key consistency is verify.ts's job. */
export function parseCommittee(text: string, file = 'committee.ka'): Member[] {
  const members = lines(text).map((line, i): Member => {
    const where = `${i + 1}`;
    const fields = line.split('|');
    if (fields.length !== 4) {
      throw new InputError(file, where, `expected 4 fields separated by "|", found ${fields.length}`, 'each line is <public key>|<verification key>|<setup addresses>|<addresses>');
    }
    const [pk, vk, setup, addrs] = fields as [string, string, string, string];
    if (pk === '' || vk === '') throw new InputError(file, where, 'empty public or verification key', 'regenerate with `gomelctl keys gen`');
    const publicKey = decodeBase64(pk, file, where, 'signing public key');
    if (publicKey.length !== 32) throw new InputError(file, where, `signing public key has ${publicKey.length} bytes, expected 32`, 'regenerate with `gomelctl keys gen`');
    const verificationKey = decodeBase64(vk, file, where, 'RMC verification key');
    if (verificationKey.length !== G2_ENCODED_LENGTH) {
      throw new InputError(file, where, `RMC verification key has ${verificationKey.length} bytes, expected ${G2_ENCODED_LENGTH}`, 'regenerate with `gomelctl keys gen`');
    }
    const setupAddresses = splitAddresses(setup, file, where);
    const addresses = splitAddresses(addrs, file, where);
    if (addresses.length === 0) throw new InputError(file, where, 'no addresses', 'gomel needs at least one address column');
    checkAddresses([...setupAddresses, ...addresses], file, where);
    return { publicKey, verificationKey, setupAddresses, addresses };
  });
  if (members.length < MIN_COMMITTEE) {
    throw new InputError(file, undefined, `committee has ${members.length} members, gomel needs at least ${MIN_COMMITTEE} (N = 3f+1)`, 'generate a larger one with `gomelctl keys gen --n 4`');
  }
  if (members.length > MAX_COMMITTEE) throw new InputError(file, undefined, `committee has ${members.length} members, gomel's pids are 16-bit (at most ${MAX_COMMITTEE})`);
  return members;
}

/** The host of a node's first address: its service name in a deployment (node<k>). */
export function memberHost(member: Pick<Member, 'addresses'>): string {
  const first = member.addresses[0]!;
  return first.slice(0, first.lastIndexOf(':'));
}

export function formatCommittee(members: readonly Member[]): string {
  return members
    .map((m) => `${encodeBase64(m.publicKey)}|${encodeBase64(m.verificationKey)}|${m.setupAddresses.join(' ')}|${m.addresses.join(' ')}\n`)
    .join('');
}

/** Parses a member file. Never puts key material into an error message. */
export function parsePrivateKey(text: string, file: string): PrivateKey {
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (words.length !== 3) throw new InputError(file, '1', `expected 3 fields "<signing key> <RMC secret key> <pid>", found ${words.length}`, 'restore the file or regenerate with `gomelctl keys gen --regenerate`');
  const [sk, rmc, pidText] = words as [string, string, string];
  const signingKey = decodeBase64(sk, file, '1', 'signing private key (field 1)');
  if (signingKey.length !== 64) throw new InputError(file, '1', `signing private key has ${signingKey.length} bytes, gomel needs 64`, 'restore the file');
  const rmcBytes = decodeBase64(rmc, file, '1', 'RMC secret key (field 2)');
  // The field is not echoed: a file with its fields shifted may hold key material there.
  if (!/^\d+$/.test(pidText)) throw new InputError(file, '1', 'field 3 (the pid) is not a decimal number', 'the third field is the 0-based pid; restore the file');
  // Nor is a huge number: a secret written in decimal there must not reach any later message (issue 25, N27).
  if (!/^0*\d{1,5}$/.test(pidText) || Number(pidText) >= MAX_COMMITTEE) throw new InputError(file, '1', `field 3 (the pid) is not a pid in 0..${MAX_COMMITTEE - 1}`, 'the third field is the 0-based pid; restore the file');
  return { signingKey, rmcSecret: scalarFromBytes(rmcBytes), pid: Number(pidText) };
}

export function formatPrivateKey(key: PrivateKey): string {
  return `${encodeBase64(key.signingKey)} ${encodeBase64(scalarToBytes(key.rmcSecret))} ${key.pid}\n`;
}

/** Parses gomel's key-generator input: one `<setup addresses>|<addresses>` line per node. */
export function parseAddressLines(text: string, file: string): AddressLine[] {
  return lines(text).map((line, i) => {
    const where = `${i + 1}`;
    const fields = line.split('|');
    if (fields.length !== 2) throw new InputError(file, where, `expected "<setup addresses>|<addresses>", found ${fields.length} fields`, 'one line per node, setup addresses may be empty');
    const setupAddresses = splitAddresses(fields[0]!, file, where);
    const addresses = splitAddresses(fields[1]!, file, where);
    if (addresses.length === 0) throw new InputError(file, where, 'no addresses after "|"', 'gomel needs at least one address column');
    checkAddresses([...setupAddresses, ...addresses], file, where);
    return { setupAddresses, addresses };
  });
}

/** Hex fingerprint (first 8 bytes) for tables; public material only. */
export function shortFingerprint(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 8)).toString('hex');
}
