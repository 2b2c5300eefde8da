// A real run with a node that lied (issue 34): 8 gomel nodes on one host with node3 run as two
// instances with its one key (twin:3), vendored in test/vectors/real-runs/twin8 (README.md there).
// The verdict on it is what `up` printed when it ran; the twin's figures are checked against a count
// written here from the raw lines (gunzip, JSON.parse, counting), and the report's Byzantine section
// renders from it. A variant forged in a copy shows a fork between the twin's two halves.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { cli, copyLogs, readLines, REPO, writeLines } from './helpers.js';
import { isSecretName, secretShape } from '../src/core/keys/secrets.js';
import type { Verdict } from '../src/core/logs/verdict.js';
import type { ByzantineReport } from '../src/core/report/byzantine.js';

const REAL_RUNS = path.join(REPO, 'test/vectors/real-runs');
const TWIN8 = path.join(REAL_RUNS, 'twin8');
const CORRECT = ['node1', 'node2', 'node4', 'node5', 'node6', 'node7', 'node8'];

/** The verdict `up` printed for this run (its "== verdict" section), gomelctl 2923c13. */
const VERDICT_THEN = `node1: consensus — level 50/50, 48 rounds, 309 ordered, order agrees; shutdown: clean (exit 0, services stopped); on vm
node2: consensus — level 50/50, 48 rounds, 309 ordered, order agrees; shutdown: clean (exit 0, services stopped); on vm
node3: BYZANTINE — level 3/50, 48 rounds, 309 ordered, order not judged (it lied); Byzantine: equivocated as node3 and node3-twin, one key; shutdown: running (still running when the logs were collected); on vm
node4: consensus — level 50/50, 48 rounds, 309 ordered, order agrees; shutdown: clean (exit 0, services stopped); on vm
node5: consensus — level 50/50, 48 rounds, 309 ordered, order agrees; shutdown: clean (exit 0, services stopped); on vm
node6: consensus — level 50/50, 48 rounds, 309 ordered, order agrees; shutdown: clean (exit 0, services stopped); on vm
node7: consensus — level 50/50, 48 rounds, 309 ordered, order agrees; shutdown: clean (exit 0, services stopped); on vm
node8: consensus — level 50/50, 48 rounds, 309 ordered, order agrees; shutdown: clean (exit 0, services stopped); on vm
node3-twin: the twin of node3 — level 12/50, created 12 units, ordered 309
byzantine: node1: no sign of node3's fork in its log
byzantine: node2: no sign of node3's fork in its log
byzantine: node4: no sign of node3's fork in its log
byzantine: node5: no sign of node3's fork in its log
byzantine: node6: no sign of node3's fork in its log
byzantine: node7: no sign of node3's fork in its log
byzantine: node8: no sign of node3's fork in its log
byzantine: node3 lied: it equivocated — two instances with its one key (node3 reached by node1, node2, node4, node5; node3-twin by node6, node7, node8), and both created units as pid 2 (3 and 12)
byzantine: no correct node ordered two versions of a node3 unit, and none logged an error about a fork: the correct nodes' logs show no sign that node3 forked
start: the nodes started gomel within 0.00 s of each other
safety held: no two nodes that did not lie ordered different units (by creator:height); liveness: consensus reached by all 7 correct nodes (309 units in the same order); node3 Byzantine (equivocated as node3 and node3-twin, one key); f = 2 tolerated
shutdown: clean on 7 of 8; 1 is still running (node3)`;

type Rec = Record<string, unknown>;

/** An instance's gomel log, read by hand: the folder holds one <pid>.config.log.gz. */
function rawLog(label: string): Rec[] {
  const folder = path.join(TWIN8, label);
  const logs = readdirSync(folder).filter((f) => /^\d+\.config\.log\.gz$/.test(f));
  assert.equal(logs.length, 1, `${label}: one gomel log`);
  return gunzipSync(readFileSync(path.join(folder, logs[0]!)))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Rec);
}

/** What a log shows, counted from its lines: units created (C, D), the highest prime level, the order. */
function count(lines: readonly Rec[]) {
  const created = lines.filter((r) => r.E === 'C' || r.E === 'D');
  const order = lines.filter((r) => r.E === 'Z').map((r) => `${r.C as number}:${r.H as number}`);
  return {
    created: created.length,
    maxLevel: Math.max(...lines.filter((r) => r.E === 'D').map((r) => r.Q as number)),
    order,
    /** Heights of pid 2 (node3) in the order, as ordered. */
    pid2Heights: order.filter((u) => u.startsWith('2:')).map((u) => Number(u.slice(2))),
    forkErrors: lines.filter((r) => r.L === '3' && /fork/i.test(String(r.E))).length,
  };
}

let scratch: string;
before(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'gomelctl-test-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

test('twin8 (real gomel, twin:3 of 8): the folder holds both instances of node3, the run record naming the twin, and no private key', async () => {
  const entries = readdirSync(TWIN8).sort();
  assert.ok(entries.includes('node3') && entries.includes('node3-twin') && entries.includes('run.json'));
  const record = JSON.parse(readFileSync(path.join(TWIN8, 'run.json'), 'utf8')) as {
    faults: { events: { kind: string; nodes: number[]; groups: number[][] }[] };
  };
  assert.deepEqual(record.faults.events, [
    {
      kind: 'twin',
      nodes: [3],
      groups: [
        [1, 2, 4, 5],
        [6, 7, 8],
      ],
      atMs: 0,
      source: 'twin:3',
    },
  ]);
  // Every file, gunzipped where gzipped: none named as a key file or a seed, no line shaped as one.
  const walk = async (dir: string): Promise<string[]> =>
    (
      await Promise.all(
        (await fs.readdir(dir, { withFileTypes: true })).map((e) =>
          e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
        ),
      )
    ).flat();
  const files = await walk(TWIN8);
  assert.ok(files.length > 70, `${files.length} files`);
  for (const file of files) {
    assert.ok(!isSecretName(path.basename(file)) && !file.endsWith('.pk'), `${file}: a key file's name`);
    const bytes = await fs.readFile(file);
    const text = (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
    const shaped = text.split('\n').filter((line) => secretShape(line) !== undefined);
    assert.equal(
      shaped.length,
      0,
      `${path.relative(TWIN8, file)}: ${shaped.length} line(s) shaped as a key file or seed`,
    );
  }
});

test('twin8: the verdict is what up printed — exit 0, safety held, the 7 correct nodes at consensus, node3 Byzantine with its two instances (3 and 12 units)', async () => {
  const r = await cli(['verdict', '--trust-logs', '--logs', TWIN8]);
  assert.equal(r.code, 0, `${r.out}\n${r.err}`);
  // Now first the config it judged by (the folder's conf.json), then what up printed then.
  const [source, ...rest] = r.out.split('\n');
  assert.equal(source, `config: LevelLimit 50, from ${path.join(TWIN8, 'conf.json')}`);
  assert.equal(rest.join('\n'), VERDICT_THEN);

  // The twin's figures against the raw lines.
  const own = count(rawLog('node3'));
  const twin = count(rawLog('node3-twin'));
  assert.deepEqual([own.created, own.maxLevel, twin.created, twin.maxLevel], [3, 3, 12, 12]);
  const correct = CORRECT.map((label) => count(rawLog(label)));
  for (const [i, c] of correct.entries()) {
    assert.deepEqual(c.order, correct[0]!.order, `${CORRECT[i]}: the committee's order`);
    assert.deepEqual(c.pid2Heights, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], `${CORRECT[i]}: each height of pid 2 once`);
    assert.equal(c.forkErrors, 0, `${CORRECT[i]}: no error about a fork`);
  }
  assert.equal(correct[0]!.order.length, 309);
  // The liar's instances refused each other's units: the fork was seen, by the liar only.
  assert.ok(own.forkErrors > 100 && twin.forkErrors > 100, `${own.forkErrors} and ${twin.forkErrors}`);

  const json = await cli(['verdict', '--trust-logs', '--logs', TWIN8, '--json']);
  const v = JSON.parse(json.out) as Verdict;
  assert.equal(v.outcome, 'tolerated');
  assert.deepEqual(v.reachedBy, CORRECT);
  assert.equal(v.agreedUnits, correct[0]!.order.length);
  assert.deepEqual(v.divergences, []);
  const [liar, ...others] = v.byzantine!.liars;
  assert.deepEqual(others, []);
  assert.deepEqual(
    [liar!.label, liar!.twinLabel, liar!.pid, liar!.created, liar!.groups, liar!.equivocated],
    [
      'node3',
      'node3-twin',
      2,
      [own.created, twin.created],
      [
        [1, 2, 4, 5],
        [6, 7, 8],
      ],
      [],
    ],
  );
  assert.deepEqual(
    liar!.seenBy.map((x) => [x.label, x.twiceHeights, x.forkErrors, x.detectedMs]),
    CORRECT.map((label) => [label, [], 0, undefined]),
  );
  const node3 = v.nodes.find((x) => x.label === 'node3')!;
  assert.deepEqual(
    [node3.maxLevel, node3.reached, node3.byzantine],
    [own.maxLevel, false, 'Byzantine: equivocated as node3 and node3-twin, one key'],
  );
});

test("twin8: the report's Byzantine section renders from it — both instances' units, no height in two versions, each correct node's row", async () => {
  const html = path.join(scratch, 'report.html');
  const r = await cli(['report', '--trust-logs', '--logs', TWIN8, '--out', html]);
  assert.equal(r.code, 0, r.err);
  // The figures up's report printed for this run (its folder was named logs): lossless compression kept them.
  assert.match(
    r.out,
    /^report: twin8: 309 units in 9\.7 s, 32 units\/s, 31\.8 tx\/s \(3\.18 KB\/s payload\), latency p50 0\.62 s, start skew 0\.00 s$/m,
  );
  const page = await fs.readFile(html, 'utf8');
  const section = page.slice(
    page.indexOf('<h2>Byzantine</h2>'),
    page.indexOf('<h2>', page.indexOf('<h2>Byzantine</h2>') + 1),
  );
  assert.ok(section.startsWith('<h2>Byzantine</h2>'), 'a Byzantine section');
  assert.match(section, /<h3>node3 and node3-twin<\/h3>/);
  assert.match(section, /Units created: 3 by node3, 12 by node3-twin\. Heights ordered in both versions: none\./);
  assert.match(
    section,
    /<li>byzantine: node3 lied: it equivocated — two instances with its one key \(node3 reached by node1, node2, node4, node5; node3-twin by node6, node7, node8\), and both created units as pid 2 \(3 and 12\)<\/li>/,
  );
  for (const node of CORRECT)
    assert.match(
      section,
      new RegExp(`<tr class="marked"><td>${node}</td><td>–</td><td>–</td><td>0</td><td>0</td><td>0</td></tr>`),
    );
  assert.match(section, /Before the first correct node saw the fork: –\. After: –\./);

  const json = await cli(['report', '--trust-logs', '--logs', TWIN8, '--json', '--out', path.join(scratch, 'r2.html')]);
  assert.equal(json.code, 0, json.err);
  const [run] = JSON.parse(json.out) as [{ byzantine: ByzantineReport; figures: { agreedUnits: number } }];
  assert.equal(run.figures.agreedUnits, 309);
  const [liar] = run.byzantine.liars;
  assert.deepEqual(
    [liar!.label, liar!.twinLabel, liar!.created, liar!.equivocated, liar!.equivocatedCount, liar!.before, liar!.after],
    ['node3', 'node3-twin', [3, 12], '', 0, undefined, undefined],
  );
  assert.deepEqual(
    liar!.seenBy.map((x) => [x.node, x.detectedSeconds, x.heightsOrderedTwice, x.forkErrors]),
    CORRECT.map((node) => [node, undefined, 0, 0]),
  );
  assert.deepEqual(
    run.byzantine.lines,
    VERDICT_THEN.split('\n').filter((l) => /^byzantine: (node3 lied|no correct)/.test(l)),
  );
});

test("twin8 forged: the twin's half ordered node3's unit 2:2 one place later than node3's half — a fork between the halves, exit 4, naming both groups and the position", async (t) => {
  const dir = await copyLogs(t, 'twin8', REAL_RUNS);
  // gomel logs no unit hash: two versions of 2:2 ordered at one position look alike. What these logs can
  // show is a version ordered elsewhere: node3's 2:2 is of level 3, the twin's of level 2, so one half
  // ordering its version a place later (after 7:2) is what a fork over node3's unit would look like.
  for (const [node, pid] of [
    ['node6', 5],
    ['node7', 6],
    ['node8', 7],
  ] as const) {
    const file = path.join(dir, node, `${pid}.config.log.gz`);
    const lines = await readLines(file);
    const at = lines.findIndex((l) => l.includes('"E":"Z"') && l.includes('"C":2,"H":2,'));
    const next = lines.findIndex((l, i) => i > at && l.includes('"E":"Z"'));
    assert.match(lines[next]!, /"C":7,"H":2,/, `${node}: 7:2 follows 2:2 in the real order`);
    [lines[at], lines[next]] = [lines[next]!, lines[at]!];
    await writeLines(file, lines);
  }
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 4, `${r.out}\n${r.err}`);
  assert.match(
    r.err,
    /^gomelctl: verdict: FORK: safety is broken — node1, node2, node4, node5 ordered 2:2 and node6, node7, node8 ordered 7:2 at position #21, the first where they differ \(node3 Byzantine \(equivocated as node3 and node3-twin, one key\)\)$/m,
  );
  const json = await cli(['verdict', '--trust-logs', '--logs', dir, '--json']);
  const v = JSON.parse(json.out) as Verdict;
  assert.equal(v.outcome, 'fork');
  assert.deepEqual(v.divergences, [
    {
      position: 21,
      majority: { nodes: ['node1', 'node2', 'node4', 'node5'], unit: '2:2' },
      minority: { nodes: ['node6', 'node7', 'node8'], unit: '7:2' },
    },
  ]);
});

test("twin8 forged: an instance's folder holding another node's log, or the other instance's, is refused in one line (hostile re-pass N1: node3 was called a liar, exit 0)", async (t) => {
  const instance = (dir: string, label: string) => path.join(dir, label, '2.config.log.gz');
  const cases: [string, (dir: string) => Promise<void>, RegExp][] = [
    [
      "node2's log in node3-twin/",
      (dir) => fs.copyFile(path.join(dir, 'node2/1.config.log.gz'), instance(dir, 'node3-twin')),
      /node3-twin\/2\.config\.log\.gz: names pid 2 as a peer, and a gomel log names every pid but its own: it is another node's log, not node3-twin's/,
    ],
    [
      "node2's log in node3-twin/, its lines naming pid 2 cut out",
      async (dir) => {
        const lines = await readLines(path.join(dir, 'node2/1.config.log.gz'));
        await writeLines(
          instance(dir, 'node3-twin'),
          lines.filter((l) => !/"P":2[,}]/.test(l)),
        );
      },
      /node3-twin\/2\.config\.log\.gz: names pid 0 as a peer, but only node6, node7, node8 reach node3-twin \(the twin's halves in the run's record, cut apart before gomel started\): it is not node3-twin's log — put node3-twin's own log in its place/,
    ],
    [
      "node3's own log, byte for byte, in node3-twin/",
      (dir) => fs.copyFile(instance(dir, 'node3'), instance(dir, 'node3-twin')),
      /node3-twin\/2\.config\.log\.gz: names pid 0 as a peer, but only node6, node7, node8 reach node3-twin/,
    ],
    [
      "node3's own log, a line added, in node3-twin/",
      async (dir) => {
        const lines = await readLines(instance(dir, 'node3'));
        await writeLines(instance(dir, 'node3-twin'), [...lines, lines.at(-1)!]);
      },
      /node3-twin\/2\.config\.log\.gz: names pid 0 as a peer, but only node6, node7, node8 reach node3-twin/,
    ],
    [
      "node3-twin's log in node3/ too",
      (dir) => fs.copyFile(instance(dir, 'node3-twin'), instance(dir, 'node3')),
      /node3\/2\.config\.log\.gz: names pid 5 as a peer, but only node1, node2, node4 and 1 more reach node3 /,
    ],
  ];
  for (const [what, forge, line] of cases) {
    const dir = await copyLogs(t, 'twin8', REAL_RUNS);
    await forge(dir);
    const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
    assert.equal(r.code, 1, `${what}: ${r.out}`);
    assert.equal(r.out, '', what);
    assert.equal(r.err.split('\n').length, 1, `${what}: ${r.err}`);
    assert.match(r.err, line, what);
  }
});

/** Edits the fault events of a run's record (run.json) in place. */
async function editEvents(dir: string, edit: (events: Record<string, unknown>[]) => unknown): Promise<void> {
  const file = path.join(dir, 'run.json');
  const record = JSON.parse(await fs.readFile(file, 'utf8')) as { faults: { events: Record<string, unknown>[] } };
  edit(record.faults.events);
  await fs.writeFile(file, JSON.stringify(record));
}

test("run.json's twin halves must be deploy's: two, of every other node once, without the twin itself (hostile pass 10: empty halves let a copy of a crashed node's folder make it a liar, exit 0)", async (t) => {
  const cases: [unknown, RegExp][] = [
    [[], /groups: a twin splits the other nodes in two groups, not 0/],
    [[[1, 2, 4, 5, 6, 7, 8]], /groups: a twin splits the other nodes in two groups, not 1/],
    [
      [
        [1, 2],
        [4, 5],
        [6, 7, 8],
      ],
      /groups: a twin splits the other nodes in two groups, not 3/,
    ],
    [
      [
        [1, 2, 4, 5, 6],
        [5, 6, 7, 8],
      ],
      /groups: node 5, 6 are in both groups; every other node reaches one twin/,
    ],
    [
      [
        [1, 2, 4],
        [6, 7, 8],
      ],
      /groups: node 5 is in neither group/,
    ],
    [
      [
        [1, 2, 3, 4, 5],
        [6, 7, 8],
      ],
      /groups: a twin's half names node 3 itself/,
    ],
  ];
  for (const [groups, refusal] of cases) {
    const dir = await copyLogs(t, 'twin8', REAL_RUNS);
    await editEvents(dir, (events) => (events[0]!.groups = groups));
    const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
    assert.equal(r.code, 1, JSON.stringify(groups));
    assert.match(r.err, new RegExp(`run\\.json:faults\\.events\\[0\\]\\.${refusal.source}`), JSON.stringify(groups));
  }
});

/** twin8 with node `k` failed on its own early: its log cut to its first `keep` lines, exit_status 2. */
async function failedEarly(t: Parameters<typeof copyLogs>[0], k: number, keep: number): Promise<string> {
  const dir = await copyLogs(t, 'twin8', REAL_RUNS);
  const folder = path.join(dir, `node${k}`);
  const log = path.join(
    folder,
    (await fs.readdir(folder)).find((f) => f.endsWith('.log.gz'))!,
  );
  await writeLines(log, (await readLines(log)).slice(0, keep));
  await fs.writeFile(path.join(folder, 'exit_status'), '2\n');
  return dir;
}

const addEvent = (dir: string, event: Record<string, unknown>) => editEvents(dir, (events) => events.push(event));

test("hostile pass 11: a copy of a crashed node's folder as its twin's is no twin: each instance's drop rules must be in its own faults.log", async (t) => {
  const dir = await failedEarly(t, 1, 17);
  assert.equal((await cli(['verdict', '--trust-logs', '--logs', dir])).code, 1, 'node1 crashed on its own');
  await addEvent(dir, {
    kind: 'twin',
    nodes: [1],
    groups: [
      [2, 3, 4, 5],
      [6, 7, 8],
    ],
    atMs: 0,
    source: 'twin:1',
  });
  await fs.cp(path.join(dir, 'node1'), path.join(dir, 'node1-twin'), { recursive: true });
  // Its log one line short of node1's: the drop rules, not the bytes, tell it is no twin.
  const twinLog = path.join(dir, 'node1-twin/0.config.log.gz');
  await writeLines(twinLog, (await readLines(twinLog)).slice(0, -1));
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /twin planned, but node1's faults\.log has no "twin drop node6 node7 node8"/);
  assert.doesNotMatch(r.out, /node1: BYZANTINE/);
});

test('hostile passes 11 and 12: a kill line of a node whose gomel ended otherwise than killed (exit 2, 0, 143) excuses nothing', async (t) => {
  const dir = await failedEarly(t, 5, 60);
  await fs.copyFile(path.join(REAL_RUNS, 'lab16/node7/stderr.txt'), path.join(dir, 'node5/stderr.txt'));
  await addEvent(dir, { kind: 'crash', nodes: [5], atMs: 8000, source: 'crash:5@8s' });
  const started = Number((await fs.readFile(path.join(dir, 'node5/started_at'), 'utf8')).trim());
  await fs.appendFile(path.join(dir, 'node5/faults.log'), `${(started + 8).toFixed(6)} 8000 kill ok\n`);
  const r = await cli(['verdict', '--trust-logs', '--logs', dir]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /line 2: kill at 8 s, but its gomel exited 2, not as a killed process does \(137\)/);
  assert.doesNotMatch(r.out, /node5 crashed at 8 s as planned/);
  // Nor an exit 0 or a term's 143: a killed gomel exits 137.
  for (const status of ['0', '143']) {
    await fs.writeFile(path.join(dir, 'node5/exit_status'), `${status}\n`);
    const again = await cli(['verdict', '--trust-logs', '--logs', dir]);
    assert.equal(again.code, 1, status);
    assert.match(
      again.out,
      new RegExp(`line 2: kill at 8 s, but its gomel exited ${status}, not as a killed process does`),
    );
  }
});
