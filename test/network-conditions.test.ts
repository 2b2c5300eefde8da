// Network conditions: the tc/iptables script each node runs, for --net and for a
// zones file, and the one-line errors for bad values (exit 2 for --net).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, REPO, tempDir } from './helpers.js';
import {
  ingressRules,
  parseConditions,
  parseDelayImpl,
  planConditions,
  planZones,
  shapingScript,
} from '../src/core/deploy/network-conditions.js';

const hosts = ['node1', 'node2', 'node3', 'node4'];
const fail = (p: string) => new Error(p);

test('--net: every node shapes its egress to every peer and delays what it receives; the script is exact', () => {
  const rules = planConditions('delay=80ms,jitter=10ms,loss=0.5%,rate=20mbit', undefined, hosts)!;
  assert.deepEqual(
    rules[0]!.map((r) => [r.name, r.to]),
    [['all peers', ['node2', 'node3', 'node4']]],
  );
  const ingress = ingressRules(hosts, rules, 0);
  assert.deepEqual(ingress, [{ from: ['node2', 'node3', 'node4'], delayMs: 80, jitterMs: 10, name: 'all peers' }]);
  assert.equal(
    shapingScript('node1', rules[0]!, { impl: 'auto', ingress }),
    [
      '# gomelctl network conditions of node1',
      'set -e',
      "# iproute2's tc by path: busybox sh would run its own tc applet, which cannot build these qdiscs",
      'TC=/usr/sbin/tc',
      "# A peer's address: the one node-lib.sh kept, else looked up until its name resolves (across hosts a",
      "# name record arrives seconds late; an unknown name must not give the resolver's own address).",
      `peer_ip() { [ -s "/tmp/start-ip-$1" ] && { cat "/tmp/start-ip-$1"; return 0; }; for _ in $(seq 1 30); do a=$(timeout 3 nslookup "$1" 2>/dev/null | awk '/^Name:/ { named = 1 } named && /^Address/ && $NF ~ /^[0-9.]+$/ { print $NF; exit }'); [ -n "$a" ] && { echo "$a" | tee "/tmp/start-ip-$1"; return 0; }; sleep 1; done; echo "no address for $1 after 30 tries" >&2; return 1; }`,
      'impl=auto',
      '# netem where this kernel has it (a trial qdisc on lo), else the userspace delayer',
      'if $TC qdisc add dev lo root handle 9: netem delay 1ms 2>/dev/null; then $TC qdisc del dev lo root; impl=netem; else impl=userspace; fi',
      `dev=$(ip route get "$(peer_ip node2)" | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')`,
      '$TC qdisc add dev "$dev" root handle 1: htb default 1',
      '$TC class add dev "$dev" parent 1: classid 1:1 htb rate 10gbit',
      '# all peers: delay=80ms,jitter=10ms,loss=0.5%,rate=20000kbit',
      '$TC class add dev "$dev" parent 1: classid 1:10 htb rate 20000kbit',
      'if [ "$impl" = netem ]; then $TC qdisc add dev "$dev" parent 1:10 handle 10: netem delay 80ms 10ms; fi',
      ...['node2', 'node3', 'node4'].flatMap((h) => [
        `ip=$(peer_ip ${h})`,
        '$TC filter add dev "$dev" parent 1: protocol ip prio 1 u32 match ip dst "$ip"/32 flowid 1:10',
        'iptables -A OUTPUT -d "$ip" -m statistic --mode random --probability 0.005000 -j DROP',
      ]),
      'echo "node1 -> all peers (node2 node3 node4): delay=80ms,jitter=10ms,loss=0.5%,rate=20000kbit"',
      'if [ "$impl" = userspace ]; then',
      '  # The delayer binds its queues first (its stats file appears then); --queue-bypass lets',
      '  # traffic through undelayed rather than dropped should it ever be gone.',
      '  gomel-delayer --queue 0:delay=80ms,jitter=10ms --stats "${1:-.}"/delayer.txt >>"${1:-.}"/delayer.log 2>&1 &',
      '  for _ in $(seq 1 50); do [ -s "${1:-.}"/delayer.txt ] && break; sleep 0.1; done',
      '  [ -s "${1:-.}"/delayer.txt ] || { echo "the userspace delayer did not start: $(tail -n 1 "${1:-.}"/delayer.log)" >&2; exit 1; }',
      ...['node2', 'node3', 'node4'].flatMap((h) => [
        `  ip=$(peer_ip ${h})`,
        '  iptables -A INPUT -s "$ip" -j NFQUEUE --queue-num 0 --queue-bypass',
      ]),
      '  echo "node1 <- all peers (node2 node3 node4): delay=80ms,jitter=10ms on arrival"',
      'fi',
      '[ "$impl" = userspace ] && echo "delay: userspace (nfqueue)" || echo "delay: netem"',
      '',
    ].join('\n'),
  );
});

test('--net-impl: forced netem has no trial and no delayer branch taken; forced userspace adds no netem qdisc; no delay, no choice', () => {
  const rules = planConditions('delay=20ms', undefined, hosts)!;
  const netem = shapingScript('node1', rules[0]!, { impl: 'netem', ingress: ingressRules(hosts, rules, 0) });
  assert.match(netem, /^impl=netem$/m);
  assert.doesNotMatch(netem, /trial qdisc/);
  const userspace = shapingScript('node1', rules[0]!, { impl: 'userspace', ingress: ingressRules(hosts, rules, 0) });
  assert.match(userspace, /^impl=userspace$/m);
  assert.match(userspace, /gomel-delayer --queue 0:delay=20ms --stats/);
  const plain = shapingScript('node1', planConditions('rate=5mbit,loss=1%', undefined, hosts)![0]!, {
    impl: 'userspace',
    ingress: [],
  });
  assert.doesNotMatch(plain, /impl=|gomel-delayer|delay:/, 'rate and loss need no delay mechanism');
  assert.equal(parseDelayImpl('userspace'), 'userspace');
  assert.throws(
    () => parseDelayImpl('tc'),
    (e: Error) => e.name === 'UsageError' && /^--net-impl tc: expected auto, netem, userspace/.test(e.message),
  );
});

test('ingress: each node delays what it receives by the sender’s one-way link, asymmetric links kept apart', () => {
  const zones = JSON.stringify({
    zones: { a: '1', b: '2', c: '3-4' },
    links: {
      'a>b': 'delay=10ms',
      'b>a': 'delay=30ms,jitter=2ms',
      'a>c': 'delay=60ms',
      'c>a': 'delay=20ms',
      'b>c': 'rate=1mbit',
      'c>b': 'loss=1%',
    },
  });
  const rules = planZones(zones, 'z.json', hosts);
  assert.deepEqual(ingressRules(hosts, rules, 0), [
    { from: ['node2'], delayMs: 30, jitterMs: 2, name: 'b->a' },
    { from: ['node3', 'node4'], delayMs: 20, jitterMs: undefined, name: 'c->a' },
  ]);
  assert.deepEqual(ingressRules(hosts, rules, 1), [
    { from: ['node1'], delayMs: 10, jitterMs: undefined, name: 'a->b' },
  ]);
  assert.deepEqual(
    ingressRules(hosts, rules, 2),
    [{ from: ['node1'], delayMs: 60, jitterMs: undefined, name: 'a->c' }],
    'c->c has no delay, b->c only a rate',
  );
  const node1 = shapingScript('node1', rules[0]!, { impl: 'auto', ingress: ingressRules(hosts, rules, 0) });
  assert.match(node1, /gomel-delayer --queue 0:delay=30ms,jitter=2ms --queue 1:delay=20ms --stats/);
  assert.match(node1, /ip=\$\(peer_ip node3\)\n  iptables -A INPUT -s "\$ip" -j NFQUEUE --queue-num 1 --queue-bypass/);
});

test('zones: per-destination classes from a one-way matrix, asymmetric entries kept apart', () => {
  const zones = JSON.stringify({
    zones: { eu: '1-2', us: [3, '4'] },
    links: { 'eu>us': 'delay=80ms', 'us>eu': 'rate=5mbit,loss=1%', 'eu>eu': 'rate=100mbit' },
  });
  const rules = planZones(zones, 'zones.json', hosts);
  assert.deepEqual(
    rules.map((r) => r.map((x) => `${x.name}:${x.to.join('+')}`)),
    [
      ['eu->eu:node2', 'eu->us:node3+node4'],
      ['eu->eu:node1', 'eu->us:node3+node4'],
      ['us->eu:node1+node2'],
      ['us->eu:node1+node2'],
    ],
  );
  const node3 = shapingScript('node3', rules[2]!);
  assert.match(
    node3,
    /# us->eu: loss=1%,rate=5000kbit\n\$TC class add dev "\$dev" parent 1: classid 1:10 htb rate 5000kbit\nip=\$\(peer_ip node1\)\n/,
  );
  assert.doesNotMatch(node3, /netem/, 'the us->eu direction has no delay');
  const node1 = shapingScript('node1', rules[0]!);
  assert.match(
    node1,
    /classid 1:11 htb rate 10gbit\nif \[ "\$impl" = netem \]; then \$TC qdisc add dev "\$dev" parent 1:11 handle 11: netem delay 80ms; fi\n/,
  );
  assert.doesNotMatch(node1, /iptables/);
});

test('bad conditions and zones files are one-line errors naming the field', () => {
  const bad: [string, RegExp][] = [
    ['delay=-5ms', /delay=-5ms: must be a number ≥ 0/],
    ['loss=120%', /loss=120%: give a percentage from 0% to 100%/],
    ['rate=20', /rate=20: give a rate from 1kbit to 10gbit/],
    ['jitter=5ms', /jitter needs a delay/],
    ['speed=fast', /"speed=fast" is not one of/],
    ['speed=5ms', /unknown key "speed"; the keys are delay, jitter, loss, rate, in lower case/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseConditions(text, fail), message);
  const zones = (doc: unknown) => () => planZones(JSON.stringify(doc), 'z.json', hosts);
  assert.throws(zones({ zones: { a: '1-5' }, links: {} }), /z\.json:zones\.a: node 5 is not in the 4-node committee/);
  assert.throws(
    zones({ zones: { a: '1-2', b: '3' }, links: { 'a>b': 'delay=1ms', 'b>a': 'delay=1ms' } }),
    /z\.json:zones: node 4 is in no zone/,
  );
  assert.throws(
    zones({ zones: { a: '1-2', b: '3-4' }, links: { 'a>b': 'delay=1ms' } }),
    /z\.json:links: no entry "b>a"/,
  );
  assert.throws(zones({ zones: { a: '1-2', b: '2-4' }, links: {} }), /node 2 is also in zone a/);
  assert.throws(
    zones({ zones: { a: '1-2', b: '3-4' }, links: { 'a>b': 'delay=-1ms', 'b>a': 'delay=1ms' } }),
    /z\.json:links\.a>b: delay=-1ms: must be a number ≥ 0/,
  );
  assert.throws(zones({ zones: { a: '1-4' }, links: { 'a>c': 'delay=1ms' } }), /links\.a>c: not "<zone>><zone>"/);
  assert.throws(
    () => planConditions('delay=1ms', { text: '{}', file: 'z.json' }, hosts),
    /--net and --zones: give one/,
  );
});

test('N79: keys are lower-case and given once; DELAY is refused by name, never read as jitter', () => {
  assert.throws(
    () => parseConditions('DELAY=80ms', fail),
    /^Error: unknown key "DELAY"; the keys are delay, jitter, loss, rate, in lower case$/,
  );
  assert.throws(() => parseConditions('delay=80ms,DELAY=5ms', fail), /unknown key "DELAY"/);
  assert.throws(() => parseConditions('delay=80ms,Jitter=5ms', fail), /unknown key "Jitter"/);
  assert.throws(() => parseConditions('delay=80ms,delay=90ms', fail), /^Error: delay is given twice; give it once$/);
  assert.throws(() => parseConditions('loss=1%,rate=1mbit,loss=2%', fail), /loss is given twice/);
  assert.throws(
    () => planConditions('DELAY=80ms', undefined, hosts),
    (e: Error) => e.name === 'UsageError' && /^--net DELAY=80ms: unknown key "DELAY"/.test(e.message),
  );
  assert.deepEqual(
    parseConditions('delay=80MS,rate=20Mbit', fail),
    { delayMs: 80, rateKbit: 20000 },
    'units stay case-insensitive, as tc reads them',
  );
});

test("N80: absurd values are refused with the bounds named; values are kept at tc's resolution", () => {
  const bad: [string, RegExp][] = [
    [
      'rate=99999999999999999999gbit',
      /^Error: rate=99999999999999999999gbit: give a rate from 1kbit to 10gbit \(per second\)$/,
    ],
    ['rate=11gbit', /rate=11gbit: give a rate from 1kbit to 10gbit/],
    ['rate=0.5kbit', /give a rate from 1kbit/],
    ['delay=999999999999s', /^Error: delay=999999999999s: at most 60s$/],
    ['delay=80ms,jitter=61s', /jitter=61s: at most 60s/],
    ['delay=1.2.3ms', /delay=1\.2\.3ms: must be a number ≥ 0/],
    ['delay=.ms', /must be a number ≥ 0/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseConditions(text, fail), message);
  const c = parseConditions('delay=0.0000001ms,jitter=1.1ms,loss=0.00001%,rate=1.1mbit', fail);
  assert.deepEqual(c, { delayMs: 0, jitterMs: 1.1, lossPct: 0, rateKbit: 1100 });
  const script = shapingScript('node1', planConditions('rate=10gbit,delay=60s', undefined, hosts)![0]!);
  assert.match(script, /htb rate 10000000kbit\n/);
  assert.match(script, /netem delay 60000ms; fi\n/);
  assert.doesNotMatch(script, /e[+-]\d/, 'no number in exponent form reaches tc');
});

test('N83, N84: zones files that are no object, and links naming Object.prototype, are refused', () => {
  const plan = (text: string) => () => planZones(text, 'z.json', hosts);
  for (const doc of ['[1,2,3]', '"zones"', 'null', '7'])
    assert.throws(plan(doc), /^InputError: z\.json: expected a JSON object with zones and links — /, doc);
  const zones = { eu: '1-2', us: '3-4' };
  const base = { 'eu>us': 'delay=1ms', 'us>eu': 'delay=1ms' };
  for (const link of ['eu>constructor', 'hasOwnProperty>eu', '__proto__>eu', 'eu>toString']) {
    assert.throws(
      plan(JSON.stringify({ zones, links: { ...base, [link]: 'delay=1ms' } })),
      new RegExp(`z\\.json:links\\.${link.replace(/[$]/g, '\\$&')}: not "<zone>><zone>"`),
      link,
    );
  }
  assert.throws(
    plan(JSON.stringify({ zones, links: { ...base, 'eu > us': 'delay=2ms' } })),
    /links\.eu > us: eu>us is given twice/,
  );
  assert.throws(plan(JSON.stringify({ zones, links: { ...base, 'eu>eu': 5 } })), /links\.eu>eu: expected a string/);
  assert.throws(
    plan(JSON.stringify({ zones: { 'eu"; reboot; "': '1-2', us: '3-4' }, links: {} })),
    /a zone name is 1 to 64 letters/,
    'zone names reach the shell script',
  );
  assert.throws(plan(JSON.stringify({ zones: [1, 2], links: {} })), /z\.json:zones: expected an object, not a list/);
  assert.throws(plan(JSON.stringify({ zones, links: ['eu>us'] })), /z\.json:links: expected an object, not a list/);
  assert.throws(plan(JSON.stringify({ zones })), /z\.json:links: missing/);
  assert.throws(plan('{"zones": '), /^InputError: z\.json: not valid JSON/);
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
