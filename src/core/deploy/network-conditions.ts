// Network conditions for a committee: `--net` for every node's egress, or a zones
// file with a one-way matrix between zones. Each node gets a shell script, run
// inside its container before gomel starts (templates/node-lib.sh, apply_network):
// HTB classes with u32 filters per destination (rate), iptables' statistic match
// (loss), and delay and jitter by one of two mechanisms:
// - netem: a netem qdisc under the sender's class, where the kernel has sch_netem;
// - userspace: gomel-delayer (delayer/, built into the base image by docker/setup.sh)
//   holds each packet on NFQUEUE in a timed queue. It delays on the *receiving* side
//   (iptables INPUT, per source): a packet held on the sender's OUTPUT still counts
//   against its socket, and TCP's small-queue limit then sends about one packet per
//   round trip (measured: 0.14 MB/s against 25.4 MB/s held on INPUT, at 80 ms RTT).
// `auto` (the default) tries netem in the node and falls back to userspace; the
// choice is recorded in network.txt. Pure: the same input gives the same script.
import { z } from 'zod';
import { InputError, UsageError } from '../errors.js';
import { parseJsonWith } from '../json-input.js';
import { NODES_JSON } from '../faults/plan.js';

export interface LinkConditions {
  delayMs?: number;
  jitterMs?: number;
  lossPct?: number;
  rateKbit?: number;
}

const UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };
const UNITS_KBIT: Record<string, number> = { kbit: 1, mbit: 1000, gbit: 1_000_000 };
const KEYS = ['delay', 'jitter', 'loss', 'rate'] as const;
type Key = (typeof KEYS)[number];
// Bounds: a minute of delay is already no network a consensus run can use, and the
// root class of the script is 10gbit; past them tc fails inside the containers.
const MAX_MS = 60_000;
const RATE_KBIT = { min: 1, max: 10_000_000 };
// Values are kept at the resolution tc and iptables use (ns, bit, the probability's 6 digits),
// so that describeConditions prints what parseConditions reads back, never 1e-7.
const roundTo = (x: number, digits: number) => Number(x.toFixed(digits));

/** Parses "delay=80ms,jitter=10ms,loss=0.5%,rate=20mbit"; `fail` makes the one-line error. Keys are lower-case, each at most once. */
export function parseConditions(text: string, fail: (problem: string) => Error): LinkConditions {
  const c: LinkConditions = {};
  if (text.trim() === '') throw fail('empty; give e.g. delay=80ms,jitter=10ms,loss=0.5%,rate=20mbit');
  const seen = new Set<Key>();
  for (const part of text.split(',')) {
    const m = /^\s*([^=]*?)\s*=\s*(-?[\d.]+)\s*([a-zA-Z%]*)\s*$/.exec(part);
    if (!m) throw fail(`"${part.trim()}" is not one of delay=…ms, jitter=…ms, loss=…%, rate=…mbit`);
    const [, keyText, numText, unitText] = m as unknown as [string, string, string, string];
    // Case-sensitive: "DELAY" is not delay (it was once read as jitter, N79).
    const key = KEYS.find((k) => k === keyText);
    if (!key) throw fail(`unknown key "${keyText}"; the keys are ${KEYS.join(', ')}, in lower case`);
    if (seen.has(key)) throw fail(`${key} is given twice; give it once`);
    seen.add(key);
    const value = /^\d+(\.\d+)?$|^\.\d+$/.test(numText) ? Number(numText) : NaN;
    const unit = unitText.toLowerCase();
    const given = `${key}=${numText}${unitText}`;
    if (!Number.isFinite(value)) throw fail(`${given}: must be a number ≥ 0`);
    if (key === 'loss') {
      if (unit !== '%' || value > 100) throw fail(`${given}: give a percentage from 0% to 100%`);
      c.lossPct = roundTo(value, 4);
    } else if (key === 'rate') {
      const kbit = UNITS_KBIT[unit] === undefined ? NaN : roundTo(value * UNITS_KBIT[unit]!, 3);
      if (!(kbit >= RATE_KBIT.min && kbit <= RATE_KBIT.max))
        throw fail(`${given}: give a rate from 1kbit to 10gbit (per second)`);
      c.rateKbit = kbit;
    } else {
      if (UNITS_MS[unit] === undefined) throw fail(`${given}: give a duration in us, ms or s`);
      const ms = roundTo(value * UNITS_MS[unit]!, 6);
      if (ms > MAX_MS) throw fail(`${given}: at most ${MAX_MS / 1000}s`);
      if (key === 'delay') c.delayMs = ms;
      else c.jitterMs = ms;
    }
  }
  if (c.jitterMs !== undefined && c.delayMs === undefined) throw fail('jitter needs a delay to vary around');
  return c;
}

export const describeConditions = (c: LinkConditions) =>
  [
    c.delayMs !== undefined && `delay=${c.delayMs}ms`,
    c.jitterMs !== undefined && `jitter=${c.jitterMs}ms`,
    c.lossPct !== undefined && `loss=${c.lossPct}%`,
    c.rateKbit !== undefined && `rate=${c.rateKbit}kbit`,
  ]
    .filter(Boolean)
    .join(',');

/** Delay or jitter: what netem or the userspace delayer applies (rate and loss need neither). */
export const needsNetem = (c: LinkConditions) => c.delayMs !== undefined || c.jitterMs !== undefined;

/** How delay and jitter are applied: `auto` is netem where the kernel has it, else userspace. */
export const DELAY_IMPLS = ['auto', 'netem', 'userspace'] as const;
export type DelayImpl = (typeof DELAY_IMPLS)[number];

export function parseDelayImpl(text: string): DelayImpl {
  const impl = DELAY_IMPLS.find((i) => i === text);
  if (!impl)
    throw new UsageError(
      `--net-impl ${text}: expected ${DELAY_IMPLS.join(', ')} (auto: netem where the kernel has it, else the userspace delayer)`,
    );
  return impl;
}

/** What a node delays on arrival from a group of senders (the userspace mechanism delays on INPUT). */
interface IngressRule {
  from: string[];
  delayMs: number;
  jitterMs: number | undefined;
  /** The senders' rule: "all peers", "eu->us". */
  name: string;
}

/**
 * The delays node `self` applies to what it receives: every sender's rule that names
 * it, grouped by rule and delay. Zones give asymmetric links: eu->us is delayed by
 * the nodes of us, us->eu by the nodes of eu.
 */
export function ingressRules(
  hosts: readonly string[],
  rules: readonly (readonly NodeRule[])[],
  self: number,
): IngressRule[] {
  const groups = new Map<string, IngressRule>();
  hosts.forEach((sender, j) => {
    if (j === self) return;
    for (const rule of rules[j] ?? []) {
      const c = rule.conditions;
      if (!needsNetem(c) || !rule.to.includes(hosts[self]!)) continue;
      const key = `${rule.name}|${c.delayMs}|${c.jitterMs}`;
      const group = groups.get(key) ?? { from: [], delayMs: c.delayMs ?? 0, jitterMs: c.jitterMs, name: rule.name };
      group.from.push(sender);
      groups.set(key, group);
    }
  });
  return [...groups.values()];
}

interface NodeRule {
  /** Hosts (service names) whose traffic from this node gets these conditions. */
  to: string[];
  conditions: LinkConditions;
  /** "all peers" or "eu->us": what the record says. */
  name: string;
}

/** Every node's rules from `--net`: all of its egress to every peer. */
function planUniform(hosts: readonly string[], conditions: LinkConditions): NodeRule[][] {
  return hosts.map((self) => [{ to: hosts.filter((h) => h !== self), conditions, name: 'all peers' }]);
}

const ZONES_MISSING = 'missing: name each zone and its nodes, e.g. {"eu": "1-4", "us": "5-8"}';

/**
 * A zones file's shape: each zone's nodes as in --faults ("1-4", 5, [5, "6-8"]), each
 * link's conditions as in --net; the names and values are checked in planZones.
 */
const ZONES_JSON = z.strictObject(
  {
    zones: z.record(z.string(), NODES_JSON, {
      error: (issue) => (issue.input === undefined ? ZONES_MISSING : undefined),
    }),
    links: z.record(z.string(), z.string({ error: 'expected a string such as "delay=80ms,loss=1%"' }), {
      error: (issue) =>
        issue.input === undefined
          ? 'missing: give the conditions from each zone to each other, e.g. {"eu>us": "delay=80ms"}'
          : undefined,
    }),
  },
  {
    error: (issue) =>
      issue.code === 'invalid_type'
        ? 'expected a JSON object with zones and links'
        : issue.code === 'unrecognized_keys'
          ? 'unknown field; a zones file has "zones" and "links"'
          : undefined,
  },
);

/** "1-4", [5, 6, "7-8"]: node numbers (1-based, as node<k>). */
function parseNodes(value: z.infer<typeof NODES_JSON>, n: number, fail: (p: string) => Error): number[] {
  const items = Array.isArray(value) ? value : [value];
  const out: number[] = [];
  for (const item of items) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(String(item).trim());
    if (!m) throw fail(`"${String(item)}" is not a node number or range like 1-4`);
    const from = Number(m[1]);
    const to = Number(m[2] ?? m[1]);
    if (from < 1 || to < from) throw fail(`"${String(item)}" is not a range of node numbers from 1`);
    if (to > n) throw fail(`node ${to} is not in the ${n}-node committee`);
    for (let k = from; k <= to; k++) out.push(k);
  }
  return out;
}

/**
 * A zones file (JSON): { "zones": { "eu": "1-4", "us": [5, "6-8"] },
 * "links": { "eu>us": "delay=80ms", "us>eu": "delay=70ms,loss=1%", "eu>eu": "rate=100mbit" } }.
 * Every node in exactly one zone; every ordered pair of different zones has a link (one-way, so the
 * matrix may be asymmetric); links within a zone are optional.
 */
export function planZones(text: string, file: string, hosts: readonly string[]): NodeRule[][] {
  const fix = 'see docs/network-conditions.md';
  const at = (where: string) => (problem: string) => new InputError(file, where, problem, fix);
  const { zones, links } = parseJsonWith(text, ZONES_JSON, (where, problem) =>
    where === undefined
      ? new InputError(
          file,
          undefined,
          problem,
          'write {"zones": {"eu": "1-4", …}, "links": {"eu>us": "delay=80ms", …}}',
        )
      : new InputError(file, where, problem, fix),
  );
  if (Object.keys(zones).length === 0) throw at('zones')(ZONES_MISSING);
  // Zone names end up in the node's shell script: plain names only.
  for (const zone of Object.keys(zones))
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(zone))
      throw at(`zones.${zone}`)('a zone name is 1 to 64 letters, digits, "_", "." or "-"');
  const names = Object.keys(zones);
  const zoneOf = new Map<number, string>();
  for (const [zone, members] of Object.entries(zones)) {
    for (const k of parseNodes(members, hosts.length, at(`zones.${zone}`))) {
      if (zoneOf.has(k)) throw at(`zones.${zone}`)(`node ${k} is also in zone ${zoneOf.get(k)}`);
      zoneOf.set(k, zone);
    }
  }
  const outside = hosts.map((_, i) => i + 1).filter((k) => !zoneOf.has(k));
  if (outside.length)
    throw at('zones')(
      `node${outside.length > 1 ? 's' : ''} ${outside.join(', ')} ${outside.length > 1 ? 'are' : 'is'} in no zone`,
    );
  // A Set, not `in`: "constructor" or "hasOwnProperty" is no zone (N83).
  const known = new Set(names);
  const matrix = new Map<string, LinkConditions>();
  for (const [key, value] of Object.entries(links)) {
    const m = /^([^>\s]+)\s*>\s*([^>\s]+)$/.exec(key);
    if (!m || !known.has(m[1]!) || !known.has(m[2]!))
      throw at(`links.${key}`)('not "<zone>><zone>" with two zones of "zones"');
    const link = `${m[1]}>${m[2]}`;
    if (matrix.has(link)) throw at(`links.${key}`)(`${link} is given twice; give it once`);
    matrix.set(link, parseConditions(value, at(`links.${key}`)));
  }
  for (const a of names)
    for (const b of names)
      if (a !== b && !matrix.has(`${a}>${b}`))
        throw at('links')(`no entry "${a}>${b}": every zone needs conditions to every other (one way each)`);
  return hosts.map((self, i) => {
    const from = zoneOf.get(i + 1)!;
    return names
      .filter((to) => matrix.has(`${from}>${to}`))
      .map((to) => ({
        to: hosts.filter((h, j) => h !== self && zoneOf.get(j + 1) === to),
        conditions: matrix.get(`${from}>${to}`)!,
        name: `${from}->${to}`,
      }))
      .filter((r) => r.to.length > 0);
  });
}

/** Checks `--net` and `--zones` at the edge: one of them, each valid. */
export function planConditions(
  net: string | undefined,
  zones: { text: string; file: string } | undefined,
  hosts: readonly string[],
): NodeRule[][] | undefined {
  if (net !== undefined && zones)
    throw new UsageError('--net and --zones: give one (a zones file can say the same for every link)');
  if (net !== undefined)
    return planUniform(
      hosts,
      parseConditions(net, (p) => new UsageError(`--net ${net}: ${p}`)),
    );
  return zones ? planZones(zones.text, zones.file, hosts) : undefined;
}

const classId = (k: number) => `1:${(0x10 + k).toString(16)}`;

/** Where the node's records go: the script's first argument (node-lib.sh apply_network passes /extract). */
const RECORDS = '"${1:-.}"';
/** The userspace delayer's figures (delayer/stats.go, key=value lines) and its output, beside network.txt. */
const DELAYER_FILES = { stats: 'delayer.txt', log: 'delayer.log' } as const;

/**
 * The script one node runs (as root with NET_ADMIN, busybox sh, tc from iproute2,
 * iptables, gomel-delayer): it resolves each peer (its name answers by now: run.sh
 * applies it after start_together), shapes egress per destination, delays by netem
 * on egress or by the userspace delayer on ingress (`ingress`), and records what it applied.
 */
export function shapingScript(
  self: string,
  rules: readonly NodeRule[],
  delay: { impl: DelayImpl; ingress: readonly IngressRule[] } = { impl: 'auto', ingress: [] },
): string {
  const lines = [
    `# gomelctl network conditions of ${self}`,
    'set -e',
    "# iproute2's tc by path: busybox sh would run its own tc applet, which cannot build these qdiscs",
    'TC=/usr/sbin/tc',
    "# A peer's address: the one node-lib.sh kept, else looked up until its name resolves (across hosts a",
    "# name record arrives seconds late; an unknown name must not give the resolver's own address).",
    `peer_ip() { [ -s "/tmp/start-ip-$1" ] && { cat "/tmp/start-ip-$1"; return 0; }; for _ in $(seq 1 30); do a=$(timeout 3 nslookup "$1" 2>/dev/null | awk '/^Name:/ { named = 1 } named && /^Address/ && $NF ~ /^[0-9.]+$/ { print $NF; exit }'); [ -n "$a" ] && { echo "$a" | tee "/tmp/start-ip-$1"; return 0; }; sleep 1; done; echo "no address for $1 after 30 tries" >&2; return 1; }`,
  ];
  const delays = rules.some((r) => r.to.length && needsNetem(r.conditions)) || delay.ingress.length > 0;
  if (delays) {
    lines.push(`impl=${delay.impl}`);
    if (delay.impl === 'auto') {
      lines.push(
        '# netem where this kernel has it (a trial qdisc on lo), else the userspace delayer',
        'if $TC qdisc add dev lo root handle 9: netem delay 1ms 2>/dev/null; then $TC qdisc del dev lo root; impl=netem; else impl=userspace; fi',
      );
    }
  }
  const first = rules.find((r) => r.to.length)?.to[0];
  if (first) {
    lines.push(
      `dev=$(ip route get "$(peer_ip ${first})" | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')`,
      '$TC qdisc add dev "$dev" root handle 1: htb default 1',
      '$TC class add dev "$dev" parent 1: classid 1:1 htb rate 10gbit',
    );
  }
  rules.forEach((rule, k) => {
    if (!rule.to.length) return;
    const c = rule.conditions;
    const id = classId(k);
    lines.push(`# ${rule.name}: ${describeConditions(c)}`);
    lines.push(
      `$TC class add dev "$dev" parent 1: classid ${id} htb rate ${c.rateKbit !== undefined ? `${c.rateKbit}kbit` : '10gbit'}`,
    );
    if (needsNetem(c)) {
      lines.push(
        `if [ "$impl" = netem ]; then $TC qdisc add dev "$dev" parent ${id} handle ${(0x10 + k).toString(16)}: netem delay ${c.delayMs}ms${c.jitterMs !== undefined ? ` ${c.jitterMs}ms` : ''}; fi`,
      );
    }
    for (const host of rule.to) {
      lines.push(`ip=$(peer_ip ${host})`);
      lines.push(`$TC filter add dev "$dev" parent 1: protocol ip prio 1 u32 match ip dst "$ip"/32 flowid ${id}`);
      if (c.lossPct !== undefined && c.lossPct > 0)
        lines.push(
          `iptables -A OUTPUT -d "$ip" -m statistic --mode random --probability ${(c.lossPct / 100).toFixed(6)} -j DROP`,
        );
    }
    lines.push(`echo "${self} -> ${rule.name} (${rule.to.join(' ')}): ${describeConditions(c)}"`);
  });
  if (delay.ingress.length) {
    const queues = delay.ingress
      .map((g, q) => `--queue ${q}:delay=${g.delayMs}ms${g.jitterMs !== undefined ? `,jitter=${g.jitterMs}ms` : ''}`)
      .join(' ');
    lines.push(
      'if [ "$impl" = userspace ]; then',
      '  # The delayer binds its queues first (its stats file appears then); --queue-bypass lets',
      '  # traffic through undelayed rather than dropped should it ever be gone.',
      `  gomel-delayer ${queues} --stats ${RECORDS}/${DELAYER_FILES.stats} >>${RECORDS}/${DELAYER_FILES.log} 2>&1 &`,
      `  for _ in $(seq 1 50); do [ -s ${RECORDS}/${DELAYER_FILES.stats} ] && break; sleep 0.1; done`,
      `  [ -s ${RECORDS}/${DELAYER_FILES.stats} ] || { echo "the userspace delayer did not start: $(tail -n 1 ${RECORDS}/${DELAYER_FILES.log})" >&2; exit 1; }`,
    );
    delay.ingress.forEach((g, q) => {
      for (const host of g.from)
        lines.push(
          `  ip=$(peer_ip ${host})`,
          `  iptables -A INPUT -s "$ip" -j NFQUEUE --queue-num ${q} --queue-bypass`,
        );
      lines.push(
        `  echo "${self} <- ${g.name} (${g.from.join(' ')}): delay=${g.delayMs}ms${g.jitterMs !== undefined ? `,jitter=${g.jitterMs}ms` : ''} on arrival"`,
      );
    });
    lines.push('fi');
  }
  if (delays) lines.push('[ "$impl" = userspace ] && echo "delay: userspace (nfqueue)" || echo "delay: netem"');
  if (!first && !delay.ingress.length) lines.push(`echo "${self}: no conditions (no peer in its links)"`);
  return `${lines.join('\n')}\n`;
}
