// `experiment run` on the real engine (issue 33): a small grid through up with the stand-in
// of gomel (test/fixtures/fake-gomel.sh), its results, and a second run that keeps them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers.js';
import { REGISTRY, sandbox } from './helpers.js';

const FAKE = path.join(REPO, 'test/fixtures/fake-gomel.sh');

test('experiment run: a 2-point grid (Txpu 1 and 10 at N 4) runs through up on the engine, writes its results and page; run again, it keeps both runs', async (t) => {
  const s = await sandbox(t);
  const out = path.join(s.root, 'exp');
  await fs.mkdir(out);
  // The committee in the experiment's folder, named as this test's (service names are the swarm's, shared).
  await s.run([
    'keys',
    'gen',
    '--n',
    '4',
    '--dir',
    path.join(out, 'keys'),
    '--configs',
    s.configs,
    '--host-prefix',
    s.prefix,
  ]);
  const file = path.join(s.root, 'grid.json');
  await fs.writeFile(
    file,
    JSON.stringify({
      binary: FAKE,
      configs: s.configs,
      registry: REGISTRY,
      network: s.network,
      tag: s.tag,
      timeout: 180,
      n: [4],
      config: { Txpu: [1, 10] },
    }),
  );
  const first = await s.run(['experiment', 'run', file, '--out', out]);
  assert.match(first.err + first.out, /2 runs: 0 done \(kept\), 2 to run/);
  assert.match(first.out, /\[2\/2\] n4_Txpu10_\w+ #1: consensus \(exit 0\)/);
  const rows = (await fs.readFile(path.join(out, 'results.csv'), 'utf8')).trim().split('\n');
  assert.equal(rows.length, 3, 'a header and one row a run');
  const header = rows[0]!.split(',');
  const txpu = header.indexOf('txpu');
  const verdict = header.indexOf('verdict');
  assert.deepEqual(
    rows.slice(1).map((r) => [r.split(',')[txpu], r.split(',')[verdict]]),
    [
      ['1', 'consensus'],
      ['10', 'consensus'],
    ],
  );
  assert.match(await fs.readFile(path.join(out, 'report.html'), 'utf8'), /2 run\(s\) finished/);
  const again = await s.run(['experiment', 'run', file, '--out', out]);
  assert.match(again.err + again.out, /2 runs: 2 done \(kept\), 0 to run/);
  assert.doesNotMatch(again.out, /\[1\/\d\]/, 'nothing ran again');
});
