// Network conditions: the tc/iptables script each node runs, for --net and for a
// zones file, and the one-line errors for bad values (exit 2 for --net).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, REPO, tempDir } from './helpers.js';
import { parseConditions, planConditions, planZones, shapingScript } from '../src/core/network-conditions.js';

const hosts = ['node1', 'node2', 'node3', 'node4'];
const fail = (p: string) => new Error(p);

test('--net: every node shapes its egress to every peer; the script is exact', () => {
  const rules = planConditions('delay=80ms,jitter=10ms,loss=0.5%,rate=20mbit', undefined, hosts)!;
  assert.deepEqual(rules[0]!.map((r) => [r.name, r.to]), [['all peers', ['node2', 'node3', 'node4']]]);
  assert.equal(
    shapingScript('node1', rules[0]!),
    [
      '# gomelctl network conditions of node1',
      'set -e',
      "# iproute2's tc by path: busybox sh would run its own tc applet, which cannot build these qdiscs",
      'TC=/usr/sbin/tc',
      `peer_ip() { nslookup "$1" 2>/dev/null | awk '/^Address/ { a = $NF } END { print a }'; }`,
      `dev=$(ip route get "$(peer_ip node2)" | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')`,
      '$TC qdisc add dev "$dev" root handle 1: htb default 1',
      '$TC class add dev "$dev" parent 1: classid 1:1 htb rate 10gbit',
      '# all peers: delay=80ms,jitter=10ms,loss=0.5%,rate=20000kbit',
      '$TC class add dev "$dev" parent 1: classid 1:10 htb rate 20000kbit',
      '$TC qdisc add dev "$dev" parent 1:10 handle 10: netem delay 80ms 10ms',
      ...['node2', 'node3', 'node4'].flatMap((h) => [
        `ip=$(peer_ip ${h})`,
        '$TC filter add dev "$dev" parent 1: protocol ip prio 1 u32 match ip dst "$ip"/32 flowid 1:10',
        'iptables -A OUTPUT -d "$ip" -m statistic --mode random --probability 0.005000 -j DROP',
      ]),
      'echo "node1 -> all peers (node2 node3 node4): delay=80ms,jitter=10ms,loss=0.5%,rate=20000kbit"',
      '',
    ].join('\n'),
  );
});

test('zones: per-destination classes from a one-way matrix, asymmetric entries kept apart', () => {
  const zones = JSON.stringify({ zones: { eu: '1-2', us: [3, '4'] }, links: { 'eu>us': 'delay=80ms', 'us>eu': 'rate=5mbit,loss=1%', 'eu>eu': 'rate=100mbit' } });
  const rules = planZones(zones, 'zones.json', hosts);
  assert.deepEqual(rules.map((r) => r.map((x) => `${x.name}:${x.to.join('+')}`)), [['eu->eu:node2', 'eu->us:node3+node4'], ['eu->eu:node1', 'eu->us:node3+node4'], ['us->eu:node1+node2'], ['us->eu:node1+node2']]);
  const node3 = shapingScript('node3', rules[2]!);
  assert.match(node3, /# us->eu: loss=1%,rate=5000kbit\n\$TC class add dev "\$dev" parent 1: classid 1:10 htb rate 5000kbit\nip=\$\(peer_ip node1\)\n/);
  assert.doesNotMatch(node3, /netem/, 'the us->eu direction has no delay');
  const node1 = shapingScript('node1', rules[0]!);
  assert.match(node1, /classid 1:11 htb rate 10gbit\n\$TC qdisc add dev "\$dev" parent 1:11 handle 11: netem delay 80ms\n/);
  assert.doesNotMatch(node1, /iptables/);
});

test('bad conditions and zones files are one-line errors naming the field', () => {
  const bad: [string, RegExp][] = [
    ['delay=-5ms', /delay=-5ms: must be a number ≥ 0/],
    ['loss=120%', /loss=120%: give a percentage from 0% to 100%/],
    ['rate=20', /rate=20: give a rate above 0 in kbit, mbit or gbit/],
    ['jitter=5ms', /jitter needs a delay/],
    ['speed=fast', /"speed=fast" is not one of/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseConditions(text, fail), message);
  const zones = (doc: unknown) => () => planZones(JSON.stringify(doc), 'z.json', hosts);
  assert.throws(zones({ zones: { a: '1-5' }, links: {} }), /z\.json:zones\.a: node 5 is not in the 4-node committee/);
  assert.throws(zones({ zones: { a: '1-2', b: '3' }, links: { 'a>b': 'delay=1ms', 'b>a': 'delay=1ms' } }), /z\.json:zones: node 4 is in no zone/);
  assert.throws(zones({ zones: { a: '1-2', b: '3-4' }, links: { 'a>b': 'delay=1ms' } }), /z\.json:links: no entry "b>a"/);
  assert.throws(zones({ zones: { a: '1-2', b: '2-4' }, links: {} }), /node 2 is also in zone a/);
  assert.throws(zones({ zones: { a: '1-2', b: '3-4' }, links: { 'a>b': 'delay=-1ms', 'b>a': 'delay=1ms' } }), /z\.json:links\.a>b: delay=-1ms: must be a number ≥ 0/);
  assert.throws(zones({ zones: { a: '1-4' }, links: { 'a>c': 'delay=1ms' } }), /links\.a>c: not "<zone>><zone>"/);
  assert.throws(() => planConditions('delay=1ms', { text: '{}', file: 'z.json' }, hosts), /--net and --zones: give one/);
});

test('deploy spawn refuses bad --net with exit 2 and a bad zones file with exit 1, before touching the engine', async (t) => {
  const root = await tempDir(t);
  const keys = path.join(root, 'keys');
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs);
  await fs.writeFile(path.join(configs, 'config.json'), await fs.readFile(path.join(REPO, 'configs/config.json')));
  assert.equal((await cli(['keys', 'gen', '--n', '4', '--keys', keys, '--configs', configs])).code, 0);
  const net = await cli(['deploy', 'spawn', '--keys', keys, '--configs', configs, '--net', 'delay=-5ms']);
  assert.equal(net.code, 2);
  assert.match(net.err, /^gomelctl: --net delay=-5ms: delay=-5ms: must be a number ≥ 0$/);
  const fresh = path.join(root, 'fresh-keys');
  const up = await cli(['up', '--keys', fresh, '--configs', configs, '--net', 'loss=150%']);
  assert.equal(up.code, 2);
  await assert.rejects(fs.access(fresh), 'up changed nothing before refusing');
  const file = path.join(root, 'zones.json');
  await fs.writeFile(file, JSON.stringify({ zones: { a: '1-2', b: '3-9' }, links: {} }));
  const zones = await cli(['deploy', 'spawn', '--keys', keys, '--configs', configs, '--zones', file]);
  assert.equal(zones.code, 1);
  assert.match(zones.err, /zones\.json:zones\.b: node 9 is not in the 4-node committee/);
});
