// templates/node-lib.sh's start_together on this host (issue 31): a committee of nodes as local
// shells, each with its own start folder (GOMEL_START_DIR) and its own ready port, as run.sh runs it
// (start_together, then started_at). busybox nc binds no local address, so the nodes cannot share one
// port on several loopback addresses: each node's address is written beforehand into the others'
// folders as 127.0.0.1:<its port> (busybox nc takes host:port, and that port wins over the argument),
// so no name is ever looked up. Under busybox sh (the image's shell) and under dash with busybox's
// nc and adjtimex.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { silentCandidateQuestions } from '../src/core/deploy/node-contract.js';
import { canBind, freeListenPorts, REPO, tempDir, until } from './helpers.js';

const NODE_LIB = path.join(REPO, 'templates/node-lib.sh');
const BUSYBOX = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();

type Shell = { name: string; argv: string[]; applets: boolean };
const SHELLS: Shell[] = [
  { name: 'busybox sh', argv: ['busybox', 'sh'], applets: false },
  // dash runs what PATH finds: busybox's nc (the listener's -ll -e) and adjtimex (wall_clock) are linked in.
  { name: 'dash', argv: ['dash'], applets: true },
];

// ---- a committee of local nodes

interface Committee {
  root: string;
  names: string[];
  ports: number[];
  file: string;
  env: Record<string, string>;
  shell: Shell;
}

interface Outcome {
  code: number | null;
  err: string;
  /** start_plan: the common start and when this node knew it; undefined when it started without one. */
  plan?: [number, number];
  planText?: string;
  /** start_plan's third field: the node that fixed the start. */
  fixedBy?: string;
  /** tmp/start-asked: "<candidate> silent|ready|done", one line a question it asked a candidate. */
  asked: string[];
  unanswered?: string;
  startedAt: number;
  /** The node's "ready <when>" moment (its answer's first field). */
  readyAt: number;
}

interface LocalNode {
  name: string;
  folder: string;
  startDir: string;
  /** Ends the node and its listener, as a container's end does; resolves once its port is free. */
  ended: () => Promise<void>;
  outcome: Promise<Outcome>;
}

/** n nodes' committee file, ports and folders; `env` is every node's (GOMEL_START_MARGIN, GOMEL_START_WAIT). */
async function committee(
  t: Parameters<typeof tempDir>[0],
  shell: Shell,
  n: number,
  env: Record<string, string>,
): Promise<Committee> {
  const root = await tempDir(t);
  const names = Array.from({ length: n }, (_, i) => `node${i + 1}`);
  const file = path.join(root, 'committee.ka');
  // committee.ka: <public key>|<verification key>||<host:port> ... (start_together reads the 4th field).
  await fs.writeFile(file, names.map((h, i) => `pk${i}|vk${i}||${h}:9000 ${h}:10000 ${h}:11000\n`).join(''));
  let PATH = process.env.PATH ?? '/usr/bin:/bin';
  if (shell.applets) {
    const bin = path.join(root, 'bin');
    await fs.mkdir(bin);
    for (const applet of ['nc', 'adjtimex']) await fs.symlink(BUSYBOX, path.join(bin, applet));
    PATH = `${bin}:${PATH}`;
  }
  return { root, names, ports: await freeListenPorts(n), file, env: { PATH, ...env }, shell };
}

let runs = 0;

/**
 * Starts node i (0-based; its SLOT is i + 1) in a fresh folder, every peer's address already known.
 * `twin`: node i's second instance (twin:K), on a ready port of its own.
 */
async function start(
  c: Committee,
  i: number,
  t: { after: (fn: () => void) => void },
  twin?: { port: number; from?: string },
): Promise<LocalNode> {
  const name = c.names[i]!;
  const port = twin?.port ?? c.ports[i]!;
  const folder = path.join(c.root, `${name}-${++runs}`);
  const startDir = path.join(folder, 'tmp');
  await fs.mkdir(startDir, { recursive: true });
  for (const [j, peer] of c.names.entries())
    await fs.writeFile(path.join(startDir, `start-ip-${peer}`), `127.0.0.1:${c.ports[j]}\n`);
  // Its own process group: the listener start_together leaves behind ends with the node.
  const child = spawn(
    c.shell.argv[0]!,
    [
      ...c.shell.argv.slice(1),
      '-c',
      `. "${NODE_LIB}"; start_together "$1" "$2"; wall_clock >"$2/started_at"`,
      'sh',
      c.file,
      folder,
    ],
    {
      env: {
        ...c.env,
        SLOT: String(i + 1),
        GOMEL_READY_PORT: String(port),
        GOMEL_START_DIR: startDir,
        ...(twin ? { GOMEL_TWIN: '1' } : {}),
        ...(twin?.from ? { GOMEL_START_FROM: twin.from } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    },
  );
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  t.after(kill);
  // Never a hang: a node that outlives every wait of these tests (GOMEL_START_WAIT ≤ 4 s, or two
  // candidates given up at margin 1: 8 questions) is ended, and its test fails.
  const guard = setTimeout(kill, 60_000);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const outcome = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code))).then(
    async (code) => {
      clearTimeout(guard);
      const read = (f: string) => fs.readFile(path.join(folder, f), 'utf8').catch(() => undefined);
      const planText = (await read('start_plan'))?.trim();
      return {
        code,
        err,
        plan: planText?.split(' ').slice(0, 2).map(Number) as [number, number] | undefined,
        planText,
        fixedBy: planText?.split(' ')[2],
        asked: ((await read('tmp/start-asked')) ?? '').split('\n').filter((l) => l !== ''),
        unanswered: (await read('start_unanswered'))?.trim(),
        startedAt: Number(await read('started_at')),
        readyAt: Number((await read('tmp/ready'))?.split(' ')[1]),
      };
    },
  );
  const ended = async () => {
    kill();
    await outcome;
    // Its listener too (the same port serves the node's next life).
    await until(
      () => canBind(port),
      () => `port ${port} of ${name} still taken`,
    );
  };
  return { name, folder, startDir, ended, outcome };
}

/** Every node started at one common start, fixed by `fixer` (start_plan), none before it. */
function startedTogether(outcomes: Outcome[], fixer = 'node1'): number {
  const start = outcomes[0]!.plan?.[0];
  assert.ok(start !== undefined, `the first node has no start: ${outcomes[0]!.err}`);
  for (const [i, o] of outcomes.entries()) {
    assert.equal(o.code, 0, `node ${i}: ${o.err}`);
    assert.equal(o.unanswered, undefined, `node ${i} names no one as unanswered`);
    assert.equal(o.plan?.[0], start, `node ${i} has the common start`);
    assert.equal(o.fixedBy, fixer, `node ${i} records who fixed the start`);
    assert.ok(o.startedAt >= start, `node ${i} started at ${o.startedAt}, before the start ${start}`);
  }
  return start;
}

/**
 * start-asked of a node that found each of `dead` silent to `silent` questions in a row, then asked
 * `live` until it had the start ("ready" answers, or none while its listener was not up yet, then
 * "done"); without `live`, it fixed the start itself.
 */
function assertAsked(o: Outcome, dead: string[], silent: number, live?: string): void {
  const expected = dead.flatMap((d) => Array<string>(silent).fill(`${d} silent`));
  const shown = o.asked.join(', ');
  assert.deepEqual(o.asked.slice(0, expected.length), expected, shown);
  const rest = o.asked.slice(expected.length);
  if (live === undefined) return assert.deepEqual(rest, [], shown);
  assert.equal(rest.at(-1), `${live} done`, shown);
  assert.ok(
    rest.slice(0, -1).every((l) => l === `${live} ready` || l === `${live} silent`),
    shown,
  );
}

const lines = async (file: string) =>
  (await fs.readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '').length;

for (const shell of SHELLS) {
  // The cases wait on one another's clocks, not on the CPU: they run side by side.
  describe(`start_together under ${shell.name}`, { concurrency: true }, () => {
    test('four nodes: one common start, the margin after the last answer, later than every ready', async (t) => {
      const c = await committee(t, shell, 4, { GOMEL_START_MARGIN: '2' });
      const nodes = await Promise.all([0, 1, 2, 3].map((i) => start(c, i, t)));
      const outcomes = await Promise.all(nodes.map((n) => n.outcome));
      const at = startedTogether(outcomes);
      for (const o of outcomes) assert.ok(at >= o.readyAt + 2, `the start ${at} is 2 s after the ready ${o.readyAt}`);
      // Each peer answered the coordinator once: four answers, one a node.
      assert.equal(await lines(path.join(nodes[0]!.startDir, 'start-answered')), 4);
      // node1 lives: it fixed the start asking no candidate, and every other node asked node1 alone.
      assertAsked(outcomes[0]!, [], 0);
      for (const o of outcomes.slice(1)) assertAsked(o, [], 0, 'node1');
    });

    test("a twin of the coordinator's node (twin:1) learns the common start from the coordinator, and is not waited for", async (t) => {
      const c = await committee(t, shell, 4, { GOMEL_START_MARGIN: '1' });
      const [twinPort] = await freeListenPorts(1);
      const early = await Promise.all([0, 1, 2].map((i) => start(c, i, t)));
      const twin = await start(c, 0, t, { port: twinPort! });
      // node4 comes once the twin is ready: the coordinator cannot fix the start before the twin's
      // ready moment, which the twin would refuse as an earlier run's (a loaded host started the twin's
      // shell after a start fixed 1 s ahead, and it waited on).
      await until(
        async () => /^ready /.test(await fs.readFile(path.join(twin.startDir, 'ready'), 'utf8').catch(() => '')),
        () => 'the twin is ready',
      );
      const nodes = [...early, await start(c, 3, t)];
      const outcomes = await Promise.all([...nodes, twin].map((n) => n.outcome));
      const at = startedTogether(outcomes.slice(0, 4));
      assert.equal(outcomes[4]!.code, 0, outcomes[4]!.err);
      assert.equal(outcomes[4]!.plan?.[0], at, "the twin has the coordinator's start");
      assert.ok(outcomes[4]!.startedAt >= at);
      // It asked the coordinator alone, and the coordinator heard the committee's four nodes.
      assertAsked(outcomes[4]!, [], 0, 'node1');
      assert.equal(await lines(path.join(nodes[0]!.startDir, 'start-answered')), 4);
    });

    test('a twin that comes after its peers knew the start learns it from a node of its own half (GOMEL_START_FROM), which passes it on', async (t) => {
      const c = await committee(t, shell, 4, { GOMEL_START_MARGIN: '3' });
      const [twinPort] = await freeListenPorts(1);
      const nodes = await Promise.all([0, 1, 2, 3].map((i) => start(c, i, t)));
      // node4 knows the start: its own ready answer now carries it (before, only the coordinator's did).
      const readyOf4 = path.join(nodes[3]!.startDir, 'ready');
      while (!/ done /.test(await fs.readFile(readyOf4, 'utf8').catch(() => '')))
        await new Promise((r) => setTimeout(r, 50));
      // twin:2 with node4 in its half: the coordinator's half would drop it by now, so it asks node4.
      const twin = await start(c, 1, t, { port: twinPort!, from: c.names[3]! });
      const outcomes = await Promise.all([...nodes, twin].map((n) => n.outcome));
      const at = startedTogether(outcomes.slice(0, 4));
      assert.equal(outcomes[4]!.code, 0, outcomes[4]!.err);
      assert.equal(outcomes[4]!.plan?.[0], at, "the twin has the committee's start, from node4");
      assert.equal(outcomes[4]!.fixedBy, 'node1', 'node4 passed on who fixed it');
      assertAsked(outcomes[4]!, [], 0, 'node4');
      assert.equal(await lines(path.join(nodes[0]!.startDir, 'start-answered')), 4, 'the coordinator never heard it');
    });

    test('a peer that comes late: the others wait for it, and the start is the margin after its answer', async (t) => {
      const c = await committee(t, shell, 4, { GOMEL_START_MARGIN: '1' });
      const early = await Promise.all([0, 1, 3].map((i) => start(c, i, t)));
      // node3 comes once the coordinator heard the others and found node3 silent.
      await until(
        async () =>
          (await lines(path.join(early[0]!.startDir, 'start-answered'))) >= 3 &&
          (await fs.readFile(path.join(early[0]!.startDir, 'start-silent'), 'utf8').catch(() => '')) === 'node3\n',
        () => 'the coordinator heard nodes 1, 2 and 4, and node3 was silent',
      );
      const late = await start(c, 2, t);
      const outcomes = await Promise.all([early[0]!, early[1]!, late, early[2]!].map((n) => n.outcome));
      const at = startedTogether(outcomes);
      assert.ok(
        at >= outcomes[2]!.readyAt + 1,
        `the start ${at} is after the late node's ready ${outcomes[2]!.readyAt}`,
      );
    });

    test('a peer that never answers: every node starts after GOMEL_START_WAIT without a common start, naming who did not answer', async (t) => {
      const c = await committee(t, shell, 4, { GOMEL_START_WAIT: '3' });
      const nodes = await Promise.all([0, 1, 2].map((i) => start(c, i, t)));
      const [coordinator, ...others] = await Promise.all(nodes.map((n) => n.outcome));
      assert.equal(coordinator!.code, 0);
      assert.match(coordinator!.err, /^start: after 3s these peers still do not answer: node4 ; starting anyway\n$/);
      assert.deepEqual([coordinator!.unanswered, coordinator!.plan], ['node4', undefined]);
      for (const o of others) {
        assert.equal(o.code, 0);
        assert.match(o.err, /^start: after 3s the coordinator node1 has no common start; starting anyway\n$/);
        assert.deepEqual([o.unanswered, o.plan], ['node1', undefined]);
        assert.ok(o.startedAt >= o.readyAt + 2, `node waited for the coordinator (${o.readyAt} → ${o.startedAt})`);
      }
    });

    test('peers that answer twice: a coordinator that restarts before it fixed the start asks them again, and all start together', async (t) => {
      const c = await committee(t, shell, 4, { GOMEL_START_MARGIN: '1' });
      const [n1, n2, n3] = await Promise.all([0, 1, 2].map((i) => start(c, i, t)));
      // The coordinator heard nodes 1-3 (and waits for node4) when it ends and starts again.
      await until(
        async () => (await lines(path.join(n1!.startDir, 'start-answered'))) >= 3,
        () => 'the coordinator heard nodes 1-3',
      );
      await n1!.ended();
      const again = await start(c, 0, t);
      const n4 = await start(c, 3, t);
      const outcomes = await Promise.all([again, n2!, n3!, n4].map((n) => n.outcome));
      startedTogether(outcomes);
      assert.equal(await lines(path.join(again.startDir, 'start-answered')), 4, 'the new coordinator heard every node');
      assert.equal((await n1!.outcome).plan, undefined, 'the first coordinator fixed no start');
    });

    test('a coordinator that dies before it fixed the start: node2 fixes it once node1 was silent to margin + 3 questions, and all start together', async (t) => {
      const c = await committee(t, shell, 4, { GOMEL_START_MARGIN: '1' });
      const [n1, n2, n3] = await Promise.all([0, 1, 2].map((i) => start(c, i, t)));
      // The coordinator heard nodes 1-3 and waits for node4 when it dies.
      await until(
        async () => (await lines(path.join(n1!.startDir, 'start-answered'))) >= 3,
        () => 'the coordinator heard nodes 1-3',
      );
      await n1!.ended();
      const n4 = await start(c, 3, t);
      const outcomes = await Promise.all([n2!, n3!, n4].map((n) => n.outcome));
      startedTogether(outcomes, 'node2');
      assert.equal((await n1!.outcome).plan, undefined, 'the coordinator fixed no start');
      // node4 came after node1 died: silent from its first question, given up after the rule's count.
      assertAsked(outcomes[2]!, ['node1'], silentCandidateQuestions(1), 'node2');
      assert.match(outcomes[2]!.err, /^start: node1 did not answer 4 questions in a row; asking node2\n$/);
      for (const o of outcomes.slice(0, 2)) {
        // nodes 2 and 3 heard node1 "ready" while it lived, then the same count of silent questions.
        const silent = o.asked.slice(o.asked.lastIndexOf('node1 ready') + 1);
        assert.deepEqual(silent.slice(0, 4), Array<string>(4).fill('node1 silent'), o.asked.join(', '));
        assert.ok(
          silent.slice(4).every((l) => l.startsWith('node2 ')),
          o.asked.join(', '),
        );
      }
    });

    test('node1 never comes: node2 fixes the start once node1 was silent to margin + 3 questions, and every node takes it (issue 32)', async (t) => {
      const c = await committee(t, shell, 4, { GOMEL_START_MARGIN: '1' });
      // GOMEL_START_WAIT stays 120 s: a node that waited for it would have no start_plan.
      const nodes = await Promise.all([1, 2, 3].map((i) => start(c, i, t)));
      const outcomes = await Promise.all(nodes.map((n) => n.outcome));
      startedTogether(outcomes, 'node2');
      const silent = silentCandidateQuestions(1);
      // node2 asked node1 four times, heard nothing, and fixed the start itself.
      assertAsked(outcomes[0]!, ['node1'], silent);
      assert.match(
        outcomes[0]!.err,
        /^start: node1 did not answer 4 questions in a row; this node, node2, fixes the start\n$/,
      );
      // node2 waited for nodes 2-4, not for node1.
      assert.equal(await lines(path.join(nodes[0]!.startDir, 'start-answered')), 3);
      for (const o of outcomes.slice(1)) {
        assertAsked(o, ['node1'], silent, 'node2');
        assert.match(o.err, /^start: node1 did not answer 4 questions in a row; asking node2\n$/);
      }
    });

    test('node1 and node2 never come: node3 fixes the start after each was silent to margin + 3 questions', async (t) => {
      const c = await committee(t, shell, 5, { GOMEL_START_MARGIN: '1' });
      const outcomes = await Promise.all([2, 3, 4].map(async (i) => (await start(c, i, t)).outcome));
      startedTogether(outcomes, 'node3');
      const silent = silentCandidateQuestions(1);
      assertAsked(outcomes[0]!, ['node1', 'node2'], silent);
      for (const o of outcomes.slice(1)) assertAsked(o, ['node1', 'node2'], silent, 'node3');
    });

    test('node1 comes while node2 fixes the start: node2 follows node1 again, and every node takes the start node1 fixes', async (t) => {
      const c = await committee(t, shell, 4, { GOMEL_START_MARGIN: '1' });
      const [n2, n3] = await Promise.all([1, 2].map((i) => start(c, i, t)));
      // node2 has given node1 up and asks every peer; it waits for node4, which has not come.
      await until(
        async () =>
          (await fs.readFile(path.join(n2!.startDir, 'start-silent'), 'utf8').catch(() => '')).includes('node4'),
        () => 'node2 fixes the start and waits for node4',
      );
      const n1 = await start(c, 0, t);
      // node4 comes once node2 heard node1 again.
      await until(
        async () =>
          (await fs.readFile(path.join(n2!.startDir, 'start-asked'), 'utf8').catch(() => '')).includes('node1 ready'),
        () => 'node2 follows node1 again',
      );
      const n4 = await start(c, 3, t);
      const outcomes = await Promise.all([n1, n2!, n3!, n4].map((n) => n.outcome));
      startedTogether(outcomes, 'node1');
      assert.match(outcomes[1]!.err, /start: node1 answers after all; following it\n$/);
    });

    test('a start already past when a node hears it: the node starts at once, its start_plan says it knew late', async (t) => {
      // No margin: the coordinator's start is the moment it heard the last peer, past by the time the
      // others (asking once a second) hear it.
      const c = await committee(t, shell, 3, { GOMEL_START_MARGIN: '0' });
      const nodes = await Promise.all([0, 1, 2].map((i) => start(c, i, t)));
      const outcomes = await Promise.all(nodes.map((n) => n.outcome));
      const at = startedTogether(outcomes);
      for (const [i, o] of outcomes.entries()) assert.ok(o.plan![1] > at, `node${i + 1} knew the start after it`);
    });

    test('a start from before this node was ready (the coordinator of an earlier run): refused, and the node starts after GOMEL_START_WAIT', async (t) => {
      const c = await committee(t, shell, 2, { GOMEL_START_MARGIN: '0', GOMEL_START_WAIT: '3' });
      const first = await Promise.all([0, 1].map((i) => start(c, i, t)));
      const [coordinator] = await Promise.all(first.map((n) => n.outcome));
      // node1's listener lives on, answering the start it fixed; node2 ends, and a new one comes up.
      await first[1]!.ended();
      const next = await (await start(c, 1, t)).outcome;
      assert.ok(next.readyAt > coordinator!.plan![0], 'the new node2 was ready after the old start');
      assert.equal(next.code, 0);
      assert.match(next.err, /^start: after 3s the coordinator node1 has no common start; starting anyway\n$/);
      assert.deepEqual([next.unanswered, next.plan], ['node1', undefined]);
      const answer = await fs.readFile(path.join(first[0]!.startDir, 'ready'), 'utf8');
      assert.deepEqual(
        answer.trim().split(' ').slice(2),
        ['done', coordinator!.planText!.split(' ')[0], 'by', 'node1'],
        'the old coordinator answers its start',
      );
    });
  });
}
