// Overlay subnets: a new deployment's network must not overlap one that exists,
// or the swarm leaves it half-made (no driver) and every later run fails.
import { UsageError } from '../errors.js';

interface Cidr {
  start: number; // first address, as an unsigned 32-bit number
  end: number; // last address
}

export function parseCidr(text: string, option = '--subnet'): Cidr {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d|[12]\d|3[0-2])$/.exec(text);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  if (!m || octets.some((o) => o > 255))
    throw new UsageError(`${option} ${text}: expected an IPv4 CIDR such as 10.77.0.0/16`);
  const bits = Number(m[5]);
  const address = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - bits);
  const start = address - (address % size);
  return { start, end: start + size - 1 };
}

export const overlaps = (a: Cidr, b: Cidr) => a.start <= b.end && b.start <= a.end;

/**
 * The IPv4 subnets among those the engine's networks hold. Others are skipped:
 * an IPv6 subnet (a dual-stack network's second range, N94) cannot overlap an IPv4 one.
 */
export function ipv4Subnets(used: readonly string[]): { text: string; cidr: Cidr }[] {
  return used.flatMap((text) => {
    try {
      return [{ text, cidr: parseCidr(text) }];
    } catch {
      return [];
    }
  });
}

/** The first 10.N.0.0/16, N from 77 on, that overlaps none of `used` (IPv6 and unparseable entries are ignored). */
export function pickFreeSubnet(used: readonly string[]): string {
  const taken = ipv4Subnets(used).map((u) => u.cidr);
  for (let n = 77; n < 256; n++) {
    const candidate = `10.${n}.0.0/16`;
    if (!taken.some((t) => overlaps(t, parseCidr(candidate)))) return candidate;
  }
  throw new UsageError('no free 10.N.0.0/16 subnet is left for a new overlay network; pass --subnet');
}
