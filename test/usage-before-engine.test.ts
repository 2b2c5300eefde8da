// Issue 30, class 6: usage problems found after the engine was asked, or with the wrong
// exit code. `fault crash` with no node, or a stray --cpu, asked the engine first and
// exited 1; `deploy spawn --image` without a registry pinged the engine first; a bad
// fault plan FILE exited 1 though the README says 2; `--faults ''` was read as a path.
// Every check that needs no engine state now comes before the first engine call: each
// case below is exit 2, one line, and the engine (a stand-in on a socket) got no request.
// The commands run in process through src/cli.ts run(), the entry bin/gomelctl calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cli, copyDir, DOCKER_CONFIGS, DOCKER_KEYS, tempDir } from './helpers.js';
import { fakeEngine } from './support/fake-engine.js';

test('every usage problem that needs no engine state: exit 2, one line, and the engine never asked', async (t) => {
  const dir = await tempDir(t);
  await copyDir(DOCKER_KEYS, path.join(dir, 'keys'));
  await copyDir(DOCKER_CONFIGS, path.join(dir, 'configs'));
  await fs.writeFile(path.join(dir, 'plan.json'), '[{"kind": {"toString": 1}, "nodes": "7", "at": "3s"}]');
  await fs.writeFile(path.join(dir, 'zones.json'), '{"zones": {"eu": [{"toString": 1}]}, "links": {}}');
  await fs.writeFile(path.join(dir, 'late.json'), '[{"kind": "crash", "nodes": "7", "at": "3s", "until": "9s"}]');
  const engine = await fakeEngine(dir, () => ({ json: {} }));
  t.after(() => engine.close());
  // In process, as from the project folder (node --test runs each file in a process of its own).
  const [cwd, host] = [process.cwd(), process.env.DOCKER_HOST];
  process.chdir(dir);
  process.env.DOCKER_HOST = engine.host;
  t.after(() => {
    process.chdir(cwd);
    if (host === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = host;
  });
  const cases: [string[], RegExp][] = [
    [['fault', 'crash'], /^gomelctl: fault crash: no nodes; give e\.g\. fault crash 7,8$/],
    [['fault', 'crash', '1', '--cpu', '0.2'], /--cpu is for slow only/],
    [['fault', 'slow', '3'], /slow needs --cpu/],
    [['fault', 'slow', '3', '--cpu', '2'], /cpu=2: give the fraction/],
    [['fault', 'partition', '1-4'], /a partition needs two groups/],
    [['fault', 'pause', '0'], /"0" is not a node number or range of nodes from 1/],
    [['fault', 'isolate', 'a b'], /"a b" is not a node/],
    [['fault', 'explode', '1'], /unknown action "explode"/],
    // Issue 30: a node outside the committee in --keys, and no control token there, were found after the engine.
    [
      ['fault', 'crash', 'node99'],
      /^gomelctl: fault crash node99: "node99" is not a node; give a number 1\.\.8, a range like 1-4, or a name like node1; the committee is .*keys\/committee\.ka \(--keys\)$/,
    ],
    [
      ['fault', 'pause', '3,9'],
      /^gomelctl: fault pause 3,9: node 9 is not in the 8-node committee \(nodes 1\.\.8\); the committee is/,
    ],
    [
      ['fault', 'crash', 'node8'],
      /^gomelctl: fault: no gomelctl deployment of these keys on network aleph_net \(no control token keys\/\.gomelctl-control\.aleph_net\): check --network, or pass --keys/,
    ],
    [['deploy', 'spawn', '--image', 'aleph:test'], /--image aleph:test: name the registry/],
    [['deploy', 'spawn', '--faults', ''], /^gomelctl: --faults: the plan is empty/],
    [['deploy', 'spawn', '--faults', ' ; '], /--faults: the plan is empty/],
    [
      ['deploy', 'spawn', '--faults', 'plan.json'],
      /^gomelctl: --faults plan\.json:\[0\]\.kind: expected a string, not an object/,
    ],
    [['deploy', 'spawn', '--faults', 'late.json'], /--faults late\.json:\[0\]\.until: crash takes at, nodes/],
    [['deploy', 'spawn', '--faults', 'missing.json'], /--faults missing\.json: no such fault plan/],
    [
      ['deploy', 'spawn', '--faults', '[{"kind": {"toString": 1}, "nodes": "7", "at": "3s"}]'],
      /--faults:\[0\]\.kind: expected a string/,
    ],
    [['up', '--faults', 'plan.json'], /--faults plan\.json:\[0\]\.kind: expected a string/],
    [['up', '--faults', ''], /--faults: the plan is empty/],
    [
      ['up', '--zones', 'zones.json', '--n', '4'],
      /zones\.json:zones\.eu\[0\]: expected a string or a number, not an object/,
    ],
    [['cluster', 'join-token', '--registry', 'a b'], /--registry/],
    [['cluster', 'init', '--subnet', '10.0.0.0/33'], /--subnet/],
    [['image', 'rebuild', '--tag', 'aleph:test'], /--tag aleph:test: name the registry/],
  ];
  const problems: string[] = [];
  for (const [args, message] of cases) {
    const before = engine.requests.length;
    const r = await cli(args);
    const where = `gomelctl ${args.join(' ')}`;
    const expected = args[0] === 'up' && args.includes('--zones') ? 1 : 2; // a zones file is an input file: exit 1 (README)
    const asked = engine.requests.slice(before).map((q) => `${q.method} ${q.path}`);
    if (r.code !== expected) problems.push(`${where}: exit ${r.code}, not ${expected}`);
    if (!message.test(r.err.trim())) problems.push(`${where}: says ${r.err.trim()}`);
    if (r.err.trim().split('\n').length !== 1) problems.push(`${where}: more than one line`);
    if (asked.length) problems.push(`${where}: asked the engine first (${asked[0]})`);
  }
  assert.deepEqual(problems, []);
});
