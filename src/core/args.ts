// Parsing of command-line values; each failure is a UsageError (exit 2) naming the option.
import { MAX_COMMITTEE, MIN_COMMITTEE } from './keys/committee.js';
import { UsageError } from './errors.js';

export function parseCommitteeSize(text: string, option = '--n'): number {
  if (!/^\d+$/.test(text))
    throw new UsageError(
      `${option} ${text}: expected a whole number of nodes between ${MIN_COMMITTEE} and ${MAX_COMMITTEE}`,
    );
  const n = Number(text);
  if (n < MIN_COMMITTEE)
    throw new UsageError(
      `${option} ${text}: gomel needs at least ${MIN_COMMITTEE} nodes (N = 3f+1 tolerates f faults)`,
    );
  if (n > MAX_COMMITTEE)
    throw new UsageError(`${option} ${text}: gomel's pids are 16-bit, at most ${MAX_COMMITTEE} nodes`);
  return n;
}

export function parsePorts(text: string, option: string, allowEmpty: boolean): number[] {
  if (text.trim() === '') {
    if (allowEmpty) return [];
    throw new UsageError(`${option}: give at least one port, e.g. 9000,10000,11000`);
  }
  const ports = text.split(',').map((p) => p.trim());
  for (const p of ports) {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535)
      throw new UsageError(`${option} ${text}: "${p}" is not a port in 1..65535`);
  }
  const numbers = ports.map(Number);
  if (new Set(numbers).size !== numbers.length) throw new UsageError(`${option} ${text}: a port is listed twice`);
  return numbers;
}

// A node's host is `<prefix><k>` and must be a DNS label (RFC 1123): it is also the Swarm service name.
export function parseHostPrefix(text: string): string {
  if (!/^[a-z][a-z0-9-]{0,51}$/i.test(text)) {
    throw new UsageError(
      `--host-prefix ${JSON.stringify(text)}: must start with a letter and hold only letters, digits and "-" (a DNS label, at most 52 characters)`,
    );
  }
  return text;
}

export function parseSeedHex(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(text))
    throw new UsageError('--seed: expected 64 hex digits (a 32-byte committee seed)');
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function parsePositiveInt(text: string, option: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max)
    throw new UsageError(`${option} ${text}: expected a whole number from 1 to ${max}`);
  return Number(text);
}

/** Docker's rule for network names; the name also labels the deployment. */
export function parseNetworkName(text: string, option = '--network'): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(text))
    throw new UsageError(
      `${option} ${JSON.stringify(text)}: expected letters, digits, "_", "." and "-", starting with a letter or digit (e.g. aleph_net)`,
    );
  return text;
}

/** Linux capabilities (capabilities(7), up to Linux 6.x), as Docker takes them with or without CAP_. */
const CAPABILITIES = new Set(
  (
    'CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE ' +
    'NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT ' +
    'SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE ' +
    'AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ ' +
    'PERFMON BPF CHECKPOINT_RESTORE'
  ).split(' '),
);

/** `--cap-add`: a Linux capability, checked before anything changes (Swarm would fail the task); upper case, as given with or without CAP_. */
export function parseCapability(text: string, option = '--cap-add'): string {
  const upper = text.trim().toUpperCase();
  if (!CAPABILITIES.has(upper.replace(/^CAP_/, '')))
    throw new UsageError(
      `${option} ${JSON.stringify(text)}: not a Linux capability — e.g. NET_ADMIN (see capabilities(7); CAP_ may be left out)`,
    );
  return upper;
}
