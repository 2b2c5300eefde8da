// Codec for gomel's 2019-09 key files (docs/gomel-formats.md):
//   committee.ka: <signing pk>|<RMC verification key>|<setup addresses>|<addresses>
//   <pid>.pk:     <signing private key> <RMC secret key> <pid>
//   addresses:    <setup addresses>|<addresses>   (input of gomel's key generator)
import { quoted } from '../bounded.js';
import { InputError } from '../errors.js';
import { G2_ENCODED_LENGTH, scalarFromBytes, scalarToBytes } from './bn256.js';

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

function decodeBase64(text: string, file: string, where: string, what: string): Uint8Array {
  if (!BASE64.test(text))
    throw new InputError(
      file,
      where,
      `${what} is not valid base64`,
      'restore the file or regenerate it with `gomelctl keys gen`',
    );
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Splits a text file into lines as Go's bufio.ScanLines does: a final newline is optional, one CR before each line end is dropped. */
function lines(text: string): string[] {
  const out = text.split('\n');
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

/**
 * The longest line of a committee or addresses file read (characters). A line holds two keys
 * (44 + 172 base64 characters) and one address per Sync and SyncSetup service, each a host of at
 * most 254 characters (Go's isDomainName) and a port: 16 KiB is some 60 such addresses. A longer
 * line is no committee's; it is refused by its length before it is split or quoted (a 20 MB
 * address was echoed whole: hostile pass B2).
 */
export const MAX_LINE_CHARS = 16 * 1024;

function refuseLongLine(line: string, file: string, where: string, fix: string): void {
  if (line.length > MAX_LINE_CHARS)
    throw new InputError(
      file,
      where,
      `the line is ${line.length} characters long; no line of it can be longer than ${MAX_LINE_CHARS} (two keys and a few host:port addresses)`,
      fix,
    );
}

const BOM = '\ufeff';
/** gomel's base64 decoder refuses a byte-order mark; say so rather than "not valid base64". */
function refuseBom(line: string, file: string, where: string): void {
  if (line.startsWith(BOM))
    throw new InputError(
      file,
      where,
      "starts with a UTF-8 byte-order mark (EF BB BF), which gomel's base64 decoder refuses",
      'remove the BOM (save the file as UTF-8 without BOM)',
    );
}

/**
 * gomel splits an address field on single spaces (strings.Split(field, " ")), so a
 * double, leading or trailing space is an empty address to it: refuse what it would misread.
 */
function splitAddresses(field: string, file: string, where: string): string[] {
  if (field === '') return [];
  const list = field.split(' ');
  if (list.includes(''))
    throw new InputError(
      file,
      where,
      `address field ${quoted(field)} has a double, leading or trailing space; gomel would read an empty address there`,
      'separate addresses with single spaces',
    );
  return list;
}

/** Go's net.SplitHostPort: host and port, or why not. */
function splitHostPort(address: string): { host: string; port: string } | string {
  const i = address.lastIndexOf(':');
  if (i < 0) return 'missing port';
  let host: string;
  let j = 0;
  let k = 0;
  if (address[0] === '[') {
    const end = address.indexOf(']');
    if (end < 0) return 'missing "]"';
    if (end + 1 === address.length) return 'missing port';
    if (end + 1 !== i) return address[end + 1] === ':' ? 'too many colons' : 'missing port';
    host = address.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = address.slice(0, i);
    if (host.includes(':')) return 'too many colons (an IPv6 address goes in brackets: [::1]:9000)';
  }
  if (address.slice(j).includes('[')) return 'unexpected "["';
  if (address.slice(k).includes(']')) return 'unexpected "]"';
  return { host, port: address.slice(i + 1) };
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** An IPv6 literal as Go's net.ParseIP reads it (an IPv4 tail allowed), with an optional %zone. */
function isIPv6(text: string): boolean {
  const zone = text.indexOf('%');
  const ip = zone >= 0 ? text.slice(0, zone) : text;
  if (zone >= 0 && zone === text.length - 1) return false;
  const halves = ip.split('::');
  if (halves.length > 2) return false;
  const groups = halves.map((h) => (h === '' ? [] : h.split(':')));
  const all = groups.flat();
  const tail = all[all.length - 1];
  const v4 = tail !== undefined && IPV4.test(tail);
  const width = all.length + (v4 ? 1 : 0);
  if (!all.every((g, n) => /^[0-9a-fA-F]{1,4}$/.test(g) || (v4 && n === all.length - 1))) return false;
  return halves.length === 2 ? width <= 7 : width === 8;
}

/** Go's isDomainName (net/dnsclient.go): what its resolver will look up at all. */
function isGoDomainName(s: string): boolean {
  if (s === '.') return true;
  const l = s.length;
  if (l === 0 || l > 254 || (l === 254 && s[l - 1] !== '.')) return false;
  let last = '.';
  let nonNumeric = false;
  let partlen = 0;
  for (const c of s) {
    if (/[a-zA-Z_]/.test(c)) {
      nonNumeric = true;
      partlen++;
    } else if (/[0-9]/.test(c)) partlen++;
    else if (c === '-') {
      if (last === '.') return false;
      partlen++;
      nonNumeric = true;
    } else if (c === '.') {
      if (last === '.' || last === '-' || partlen > 63 || partlen === 0) return false;
      partlen = 0;
    } else return false;
    last = c;
  }
  return last !== '-' && partlen <= 63 && nonNumeric;
}

/**
 * Each node resolves its own addresses with Go's net.ResolveTCPAddr at start-up: host:port
 * (IPv6 in brackets), a port 0..65535 and a host that is an IP address or a name Go's
 * resolver looks up. Port 0 and an empty host, which Go takes (any port, every interface),
 * are refused: no other node could dial them.
 */
function checkAddresses(list: string[], file: string, where: string): void {
  for (const address of list) {
    const shown = quoted(address);
    const split = splitHostPort(address);
    if (typeof split === 'string')
      throw new InputError(
        file,
        where,
        `address ${shown} is not host:port (${split})`,
        'write host:port, e.g. node1:9000 or [fd00::1]:9000',
      );
    const { host, port } = split;
    if (!/^\+?\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535)
      throw new InputError(file, where, `address ${shown} has no port in 1..65535`, 'use a port such as 9000');
    if (host === '')
      throw new InputError(
        file,
        where,
        `address ${shown} has no host; gomel would listen on every interface and the other nodes would dial their own machine`,
        'add the host, e.g. node1:9000',
      );
    if (!(IPV4.test(host) || isIPv6(host) || isGoDomainName(host))) {
      throw new InputError(
        file,
        where,
        `address ${shown}: host ${quoted(host)} is neither an IP address nor a name Go's resolver looks up (ASCII letters, digits, "-", "_", "."); gomel fails at start-up ("no such host")`,
        'use an ASCII host name such as node1, or an IP address',
      );
    }
  }
}

/** Parses committee.ka. Checks shape and encodings; key consistency is verify.ts's job. */
export function parseCommittee(text: string, file = 'committee.ka'): Member[] {
  const members = lines(text).map((line, i): Member => {
    const where = `${i + 1}`;
    refuseLongLine(line, file, where, 'restore the file or regenerate it with `gomelctl keys gen`');
    refuseBom(line, file, where);
    const fields = line.split('|');
    if (fields.length !== 4) {
      throw new InputError(
        file,
        where,
        `expected 4 fields separated by "|", found ${fields.length}`,
        'each line is <public key>|<verification key>|<setup addresses>|<addresses>',
      );
    }
    const [pk, vk, setup, addrs] = fields as [string, string, string, string];
    if (pk === '' || vk === '')
      throw new InputError(file, where, 'empty public or verification key', 'regenerate with `gomelctl keys gen`');
    const publicKey = decodeBase64(pk, file, where, 'signing public key');
    if (publicKey.length !== 32)
      throw new InputError(
        file,
        where,
        `signing public key has ${publicKey.length} bytes, expected 32`,
        'regenerate with `gomelctl keys gen`',
      );
    const verificationKey = decodeBase64(vk, file, where, 'RMC verification key');
    if (verificationKey.length !== G2_ENCODED_LENGTH) {
      throw new InputError(
        file,
        where,
        `RMC verification key has ${verificationKey.length} bytes, expected ${G2_ENCODED_LENGTH}`,
        'regenerate with `gomelctl keys gen`',
      );
    }
    const setupAddresses = splitAddresses(setup, file, where);
    const addresses = splitAddresses(addrs, file, where);
    if (addresses.length === 0)
      throw new InputError(file, where, 'no addresses', 'gomel needs at least one address column');
    checkAddresses([...setupAddresses, ...addresses], file, where);
    return { publicKey, verificationKey, setupAddresses, addresses };
  });
  if (members.length < MIN_COMMITTEE) {
    throw new InputError(
      file,
      undefined,
      `committee has ${members.length} members, gomel needs at least ${MIN_COMMITTEE} (N = 3f+1)`,
      'generate a larger one with `gomelctl keys gen --n 4`',
    );
  }
  if (members.length > MAX_COMMITTEE)
    throw new InputError(
      file,
      undefined,
      `committee has ${members.length} members, gomel's pids are 16-bit (at most ${MAX_COMMITTEE})`,
    );
  return members;
}

/** The host of a node's first address: its service name in a deployment (node<k>). */
export function memberHost(member: Pick<Member, 'addresses'>): string {
  const first = member.addresses[0]!;
  return first.slice(0, first.lastIndexOf(':'));
}

/** The prefix of a committee named <prefix>1…<prefix>N, if it is one. */
export function currentPrefix(members: readonly Pick<Member, 'addresses'>[]): string | undefined {
  const hosts = members.map(memberHost);
  const prefix = /^(.*?)1$/.exec(hosts[0] ?? '')?.[1];
  return prefix && hosts.every((h, pid) => h === `${prefix}${pid + 1}`) ? prefix : undefined;
}

/**
 * The hosts of the committee `keys gen --n n` (no other flag) leaves: the current one when its size
 * stays, else <prefix>1…<prefix>n with the current prefix (node by default). Undefined when neither
 * a committee nor n says the size. What `up` plans its run on before keys gen runs.
 */
export function hostsAfterKeysGen(
  current: readonly Pick<Member, 'addresses'>[] | undefined,
  n: number | undefined,
): string[] | undefined {
  if (current && (n === undefined || n === current.length)) return current.map(memberHost);
  if (n === undefined) return undefined;
  const prefix = (current && currentPrefix(current)) ?? 'node';
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
}

export function formatCommittee(members: readonly Member[]): string {
  return members
    .map(
      (m) =>
        `${encodeBase64(m.publicKey)}|${encodeBase64(m.verificationKey)}|${m.setupAddresses.join(' ')}|${m.addresses.join(' ')}\n`,
    )
    .join('');
}

/** Parses a member file. Never puts key material into an error message. */
export function parsePrivateKey(text: string, file: string): PrivateKey {
  refuseBom(text, file, '1');
  // gomel reads words as bufio.ScanWords does: split on Go's unicode.IsSpace (U+0085 yes, U+FEFF no).
  const words = text
    .split(/[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/)
    .filter((w) => w !== '');
  if (words.length !== 3)
    throw new InputError(
      file,
      '1',
      `expected 3 fields "<signing key> <RMC secret key> <pid>", found ${words.length}`,
      'restore the file or regenerate with `gomelctl keys gen --regenerate`',
    );
  const [sk, rmc, pidText] = words as [string, string, string];
  const signingKey = decodeBase64(sk, file, '1', 'signing private key (field 1)');
  if (signingKey.length !== 64)
    throw new InputError(
      file,
      '1',
      `signing private key has ${signingKey.length} bytes, gomel needs 64`,
      'restore the file',
    );
  const rmcBytes = decodeBase64(rmc, file, '1', 'RMC secret key (field 2)');
  // The field is not echoed: a file with its fields shifted may hold key material there.
  // gomel reads it with strconv.Atoi, so a sign is allowed ("+0", "-0"); it keeps 16 bits of any other value, which is refused.
  if (!/^[+-]?\d+$/.test(pidText))
    throw new InputError(
      file,
      '1',
      'field 3 (the pid) is not a decimal number',
      'the third field is the 0-based pid; restore the file',
    );
  // Nor is a huge number: a secret written in decimal there must not reach any later message (issue 25, N27).
  const digits = pidText.replace(/^[+-]/, '');
  if (
    !/^0*\d{1,5}$/.test(digits) ||
    Number(digits) >= MAX_COMMITTEE ||
    (pidText.startsWith('-') && Number(digits) !== 0)
  )
    throw new InputError(
      file,
      '1',
      `field 3 (the pid) is not a pid in 0..${MAX_COMMITTEE - 1}`,
      'the third field is the 0-based pid; restore the file',
    );
  return { signingKey, rmcSecret: scalarFromBytes(rmcBytes), pid: Number(digits) };
}

export function formatPrivateKey(key: PrivateKey): string {
  return `${encodeBase64(key.signingKey)} ${encodeBase64(scalarToBytes(key.rmcSecret))} ${key.pid}\n`;
}

/** Parses gomel's key-generator input: one `<setup addresses>|<addresses>` line per node. */
export function parseAddressLines(text: string, file: string): AddressLine[] {
  return lines(text).map((line, i) => {
    const where = `${i + 1}`;
    refuseLongLine(line, file, where, 'one line per node: <setup addresses>|<addresses>');
    const fields = line.split('|');
    if (fields.length !== 2)
      throw new InputError(
        file,
        where,
        `expected "<setup addresses>|<addresses>", found ${fields.length} fields`,
        'one line per node, setup addresses may be empty',
      );
    const setupAddresses = splitAddresses(fields[0]!, file, where);
    const addresses = splitAddresses(fields[1]!, file, where);
    if (addresses.length === 0)
      throw new InputError(file, where, 'no addresses after "|"', 'gomel needs at least one address column');
    checkAddresses([...setupAddresses, ...addresses], file, where);
    return { setupAddresses, addresses };
  });
}

/** Hex fingerprint (first 8 bytes) for tables; public material only. */
export function shortFingerprint(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 8)).toString('hex');
}
