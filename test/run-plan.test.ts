// A run is one plan (issue 32): every flag that shapes it is parsed once, by planRun and the
// edge that reads its files; what the nodes run of it is one record, read back by one parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  conditionsOf,
  deployedRun,
  parseRunRecord,
  planRun,
  runRecord,
  type RunInputs,
} from '../src/core/deploy/run-plan.js';
import { chooseImage } from '../src/core/image/payload.js';
import { hostsAfterKeysGen } from '../src/core/keys/committee.js';
import { LABELS } from '../src/core/labels.js';
import { parseFaultPlan } from '../src/core/faults/plan.js';
import { sourceMatches } from './helpers.js';

const HOSTS = ['node1', 'node2', 'node3', 'node4'];
const inputs = (more: Partial<RunInputs> = {}): RunInputs => ({
  network: 'net',
  config: 'config',
  image: chooseImage(undefined, '127.0.0.1:5000', '--tag'),
  constraints: [],
  spread: false,
  capAdd: [],
  net: undefined,
  netImpl: 'auto',
  zones: undefined,
  faults: undefined,
  seed: undefined,
  settleS: undefined,
  ...more,
});

test('planRun: hosts, image, each node its conditions and its part of the fault plan, NET_ADMIN where tc or iptables run, the margins', () => {
  const bare = planRun(inputs({ capAdd: ['SYS_PTRACE'] }), HOSTS);
  assert.deepEqual(bare.hosts, HOSTS);
  assert.equal(bare.image.ref, '127.0.0.1:5000/aleph:test');
  assert.deepEqual(bare.capAdd, ['CAP_SYS_PTRACE'], 'nothing shaped or cut: no NET_ADMIN');
  assert.deepEqual(
    bare.nodes.map((n) => Object.keys(n)),
    HOSTS.map(() => ['host']),
  );
  assert.equal(bare.startMarginS, 3);
  assert.equal(bare.settleS, 9, 'the start margin + 6 s');

  const plan = planRun(
    inputs({
      net: 'delay=20ms',
      faults: { spec: 'partition:1-2|3-4@1s-2s;crash:4@3s', fileText: undefined },
      settleS: 0,
    }),
    HOSTS,
  );
  assert.deepEqual(plan.capAdd, ['CAP_NET_ADMIN']);
  assert.equal(plan.settleS, 0);
  for (const node of plan.nodes) {
    assert.match(node.conditions!.summary, /delay=20ms.*\(delay: auto\)$/);
    assert.match(node.conditions!.script, new RegExp(`^# gomelctl network conditions of ${node.host}$`, 'm'));
  }
  assert.match(plan.nodes[3]!.faults ?? '', /kill/, 'node4 carries its crash');
  assert.equal(plan.faults?.events.length, 2);
  // One line naming the flag: exit 2, nothing changed.
  assert.throws(
    () => planRun(inputs({ faults: { spec: 'crash:9@1s', fileText: undefined } }), HOSTS),
    /^UsageError: --faults "crash:9@1s"/,
  );
  assert.throws(() => planRun(inputs({ net: 'delay=fast' }), HOSTS), /^UsageError: --net delay=fast/);
  assert.throws(
    () =>
      planRun(
        inputs({ faults: { spec: 'plan.json', fileText: '[{"kind": "crash", "nodes": "9", "at": "1s"}]' } }),
        HOSTS,
      ),
    /^UsageError: --faults plan\.json/,
  );
});

test('up plans on the committee keys gen will leave: the current one when its size stays, else <prefix>1..N', () => {
  const abc = ['vm1', 'vm2', 'vm3'];
  assert.deepEqual(hostsAfterKeysGen(undefined, 4), HOSTS);
  assert.equal(hostsAfterKeysGen(undefined, undefined), undefined);
  const members = abc.map((h) => ({ addresses: [`${h}:9000`] }));
  assert.deepEqual(hostsAfterKeysGen(members, undefined), abc);
  assert.deepEqual(hostsAfterKeysGen(members, 3), abc);
  assert.deepEqual(hostsAfterKeysGen(members, 4), [...abc, 'vm4'], 'a resize keeps the prefix');
});

test('the run record: written from the plan, read back by one parser; conditions by node; a deployment of an older gomelctl reads from its fault label', () => {
  const plan = planRun(inputs({ net: 'loss=1%', faults: { spec: 'crash:2@3s', fileText: undefined } }), HOSTS);
  const record = runRecord(plan, 'r:5000/aleph@sha256:ab', 'f'.repeat(16));
  const text = JSON.stringify(record);
  assert.ok(!text.includes('iptables'), 'the scripts are not recorded: they follow from the rest');
  assert.deepEqual(parseRunRecord(text), record);
  assert.equal(record.version, 1);
  assert.equal(conditionsOf(record, 3), 'all peers: loss=1%');
  assert.equal(conditionsOf(record, undefined), undefined);
  assert.equal(parseRunRecord(JSON.stringify({ ...record, version: 2 })), undefined, 'another version is not this one');

  const service = (run?: string, legacyFaults?: string) => ({ run, legacyFaults, committeeHosts: HOSTS });
  assert.deepEqual(deployedRun([service(), service(text)], 'net'), record, 'from any service that carries it');
  assert.equal(deployedRun([service()], 'net'), undefined);
  assert.deepEqual(deployedRun([service('{"x":1}')], 'net'), { unreadable: LABELS.run });
  const faults = parseFaultPlan('crash:2@3s', HOSTS);
  assert.deepEqual(deployedRun([service(undefined, JSON.stringify(faults))], 'net'), {
    version: 1,
    network: 'net',
    hosts: HOSTS,
    faults,
  });
  assert.deepEqual(deployedRun([service(undefined, 'nope')], 'net'), { unreadable: LABELS.legacyFaults });
});

test('--faults, --net, --zones and --tag/--image are parsed in one place: planRun and the edge that reads their files', async () => {
  const parsers =
    /\b(planConditions|parseConditions|planZones|parseFaultPlan|parseFaultPlanJson|parseFaultsFlag|faultsFlagFile|chooseImage|checkImageRef)\(/;
  const found = (await sourceMatches(parsers, [])).filter((line) => !/^\S+:\d+: (export )?function /.test(line));
  const where = [...new Set(found.map((line) => line.split(':')[0]))].sort();
  assert.deepEqual(where, [
    // image rebuild's own --tag (up hands it the image it chose)
    'src/commands/image.ts',
    // the definitions, calling each other
    'src/core/deploy/network-conditions.ts',
    'src/core/deploy/run-plan.ts',
    // an experiment file's tag:, checked at its field before any run (its net: and faults: go through planNodes)
    'src/core/experiment/grid.ts',
    'src/core/faults/plan.ts',
    'src/core/image/payload.ts',
    'src/fs/run-inputs.ts',
  ]);
});
