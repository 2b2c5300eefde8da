// templates/probe/run.sh on this host, as a node runs it (issue 35): one probe node
// against a committee of 128 or 256 stand-in peers on local ports (three addresses
// each, as keys gen writes), some answering late, never, with a wrong pid, or
// freezing after the handshake. The common start is a stand-in that waits longer
// than PROBE_DEADLINE: at 128 real nodes the start came 98 s after the node was
// ready, and a deadline counted from the script's start had then already passed,
// so every address was "unreachable" without being asked. Under dash and busybox
// sh (the image's shell), with gomel-probe (probe/, in the base image's /usr/sbin)
// built here once for the file, as scripts/test-go.sh builds it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { freeListenPorts, REPO, tempDir } from './helpers.js';
import { judgeProbes, parseProbeReport, probeCommittee } from '../src/core/logs/probe.js';

const PROBE = path.join(REPO, 'templates/probe/run.sh');
const HAS_BUSYBOX = spawnSync('busybox', ['true']).status === 0;
const SHELLS: [string, string[]][] = [
  ['dash', ['dash']],
  ...(HAS_BUSYBOX ? [['busybox', ['busybox', 'sh']] as [string, string[]]] : []),
];
const ADDRESSES = 3;
/** Longer than PROBE_DEADLINE below: a deadline that counted the start wait would be over before the first question. */
const START_WAIT_S = 6;
const DEADLINE_S = 5;

/** A folder holding gomel-probe, built from probe/ as scripts/test-go.sh builds it: module mode, offline, no cgo. */
let probeBin = '';
before(async () => {
  probeBin = await fs.mkdtemp(path.join(os.tmpdir(), 'gomel-probe-'));
  const build = promisify(execFile)('go', ['build', '-trimpath', '-o', path.join(probeBin, 'gomel-probe'), '.'], {
    cwd: path.join(REPO, 'probe'),
    env: {
      ...process.env,
      GOFLAGS: '',
      GO111MODULE: 'on',
      GOPROXY: 'off',
      GOTOOLCHAIN: 'local',
      CGO_ENABLED: '0',
      GOCACHE: path.join(REPO, 'dist/go-cache'),
    },
  });
  await build.catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      e.code === 'ENOENT' ? 'building gomel-probe needs Go >= 1.19 (Debian: apt-get install golang-go)' : String(e),
    );
  });
});
after(() => fs.rm(probeBin, { recursive: true, force: true }));

type Peer = 'answers' | 'late' | 'closes' | 'refused' | 'frozen' | 'wrong';

interface Committee {
  ports: number[][];
  /** A late peer starts answering once the probe's first pass went past it. */
  wakeLate: () => void;
  close: () => Promise<void>;
}

/** One stand-in listener per address of every peer but `self`, each behaving as its peer's kind says. */
async function standInCommittee(kinds: readonly Peer[], self: number): Promise<Committee> {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  let awake = false;
  const ports: number[][] = [];
  // Ports for the probe's own listeners, and for addresses nothing listens on: below the ephemeral
  // range, where no listen(0) of this or another test and no outgoing connection can take them meanwhile.
  const quiet = await freeListenPorts(ADDRESSES * kinds.filter((kind, k) => k === self || kind === 'refused').length);
  const listen = async (server: net.Server) => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as net.AddressInfo).port;
  };
  for (const [k, kind] of kinds.entries()) {
    const row: number[] = [];
    for (let a = 0; a < ADDRESSES; a++) {
      if (k === self || kind === 'refused') {
        row.push(quiet.pop()!);
        continue;
      }
      const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
        if (kind === 'frozen') return; // the handshake, then nothing
        if (kind === 'closes' || (kind === 'late' && !awake)) return void socket.end();
        socket.end(`gomelctl-probe pid=${kind === 'wrong' ? 999 : k} state=done\n`);
      });
      servers.push(server);
      row.push(await listen(server));
    }
    ports.push(row);
  }
  return {
    ports,
    wakeLate: () => (awake = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}

interface ProbeRun {
  code: number | null;
  stdout: string[];
  report: string[];
  /** The committee the probe asked, as the verdict reads it. */
  committee: ReturnType<typeof probeCommittee>;
}

/**
 * The probe as node `self` of `kinds`, with GOMEL_DIR holding the committee, a config
 * and a node-lib.sh whose start_together waits START_WAIT_S.
 */
async function runProbe(
  t: Parameters<typeof tempDir>[0],
  shellCmd: string[],
  kinds: readonly Peer[],
  self: number,
  /** PATH as the image's base has it: with gomel-probe, or without (a base older than it). */
  searchPath = `${probeBin}:${process.env.PATH}`,
): Promise<ProbeRun> {
  const dir = await tempDir(t);
  const committee = await standInCommittee(kinds, self);
  t.after(() => committee.close());
  const gomel = path.join(dir, 'gomel');
  for (const sub of ['keys', 'configs']) await fs.mkdir(path.join(gomel, sub), { recursive: true });
  const pk = Buffer.alloc(32, 7).toString('base64');
  const addresses = committee.ports.map((row) => ({ addresses: row.map((p) => `127.0.0.1:${p}`) }));
  const lines = committee.ports.map(
    (row, k) =>
      `${k === self ? pk : Buffer.alloc(32, k).toString('base64')}|rmc||${row.map((p) => `127.0.0.1:${p}`).join(' ')}`,
  );
  await fs.writeFile(path.join(gomel, 'keys/committee.ka'), `${lines.join('\n')}\n`);
  await fs.writeFile(path.join(gomel, 'configs/config.json'), '{}\n');
  // The real node-lib.sh, with a start that takes START_WAIT_S and a clock without busybox's adjtimex.
  await fs.writeFile(
    path.join(gomel, 'node-lib.sh'),
    `. ${path.join(REPO, 'templates/node-lib.sh')}\nwall_clock() { date +%s; }\nstart_together() { sleep ${START_WAIT_S}; }\n`,
  );
  const key = path.join(dir, 'gomel.pk');
  await fs.writeFile(
    key,
    `${Buffer.concat([Buffer.alloc(32, 1), Buffer.alloc(32, 7)]).toString('base64')} - ${self}\n`,
  );
  const tmp = path.join(dir, 'tmp');
  await fs.mkdir(tmp);
  const extract = path.join(dir, 'extract');

  const child = spawn(shellCmd[0]!, [...shellCmd.slice(1), PROBE, 'config'], {
    env: {
      PATH: searchPath,
      SLOT: String(self + 1),
      GOMEL_DIR: gomel,
      GOMEL_EXTRACT: extract,
      GOMEL_KEY_FILE: key,
      TMPDIR: tmp,
      PROBE_DEADLINE: String(DEADLINE_S),
      PROBE_LINGER: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true, // its own process group: the listeners it leaves behind are ended with it
  });
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  t.after(async () => killGroup());
  let stdout = '';
  // Its listener, once started, holds stdout open; a probe that fails before starting it closes stdout as it exits.
  const closed = new Promise((r) => child.stdout.on('close', r));
  // The late peers wake once the first pass is over (its last progress line): they are reached by a retry.
  const all = kinds.length * ADDRESSES;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (new RegExp(`^gomelctl-probe-progress checking \\d+ ${all} ${all}$`, 'm').test(stdout)) committee.wakeLate();
  });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  killGroup(); // its listeners keep stdout open
  await closed;
  const report = (await fs.readFile(path.join(extract, 'probe.txt'), 'utf8')).split('\n').filter(Boolean);
  return { code, stdout: stdout.split('\n').filter(Boolean), report, committee: probeCommittee(addresses) };
}

const peerLines = (report: readonly string[]) => report.filter((l) => l.startsWith('peer '));

// The runs mostly wait (the start, the deadline, late peers): side by side, on ports each picks free.
describe('the probe as a node runs it', { concurrency: true }, () => {
  // busybox sh, the image's shell, at 256 nodes; dash at 128.
  for (const [name, sh] of SHELLS) {
    const n = name === 'busybox' ? 256 : 128;
    test(`${name}: ${n} nodes, a start wait longer than PROBE_DEADLINE: every address is asked and reported once; late peers are reached by a retry`, async (t) => {
      const kinds: Peer[] = Array.from({ length: n }, () => 'answers');
      const self = 5;
      const [refused, closes, wrong, frozen] = [Math.floor(n / 6), Math.floor(n / 2.5), Math.floor(n * 0.78), n - 1];
      kinds[1] = kinds[2] = 'late';
      kinds[refused] = kinds[refused + 1] = 'refused';
      kinds[closes] = 'closes';
      kinds[wrong] = 'wrong';
      kinds[frozen] = 'frozen';
      const run = await runProbe(t, sh, kinds, self);
      assert.equal(run.code, 1);
      const peers = peerLines(run.report);
      // One line per address, none twice.
      assert.equal(peers.length, n * ADDRESSES);
      assert.equal(new Set(peers.map((l) => l.split(' ')[2])).size, n * ADDRESSES);
      const verdictOf = (k: number) => peers.filter((l) => l.startsWith(`peer ${k} `)).map((l) => l.split(' ')[3]);
      for (const [k, kind] of kinds.entries()) {
        const expected =
          kind === 'answers' || kind === 'late' ? 'ok' : kind === 'wrong' ? 'wrong-node:' : 'unreachable';
        assert.deepEqual(verdictOf(k), Array(ADDRESSES).fill(expected), `peer ${k} (${kind})`);
      }
      assert.match(
        peers.find((l) => l.startsWith(`peer ${wrong} `))!,
        /wrong-node: answered 'gomelctl-probe pid=999 state=done'$/,
      );
      // The late peers were reached after the first pass had asked every address: by a retry.
      const lastOfFirstPass = peers.findIndex((l) => l.startsWith(`peer ${n - 2} `));
      for (const k of [1, 2])
        assert.ok(peers.findIndex((l) => l.startsWith(`peer ${k} `)) > lastOfFirstPass, `peer ${k}`);
      const reached = (n - 5) * ADDRESSES;
      assert.ok(run.report.some((l) => l.startsWith(`reached ${reached} of ${n * ADDRESSES} addresses in `)));
      assert.equal(run.report.at(-1), 'result fail');
      // gomelctl's reading of the report: the same counts.
      const parsed = parseProbeReport(run.report.join('\n'), run.committee);
      assert.deepEqual([parsed.reached.size, parsed.unreached.length, parsed.key], [reached, 5 * ADDRESSES, 'ok']);
      // The service output: headlines and progress, no line per address (up reads its last lines only).
      assert.equal(run.stdout.filter((l) => l.startsWith('probe: peer ')).length, 0);
      const progress = run.stdout.filter((l) => l.startsWith('gomelctl-probe-progress '));
      const all = n * ADDRESSES;
      assert.equal(progress[0], `gomelctl-probe-progress start 0 0 ${all}`);
      assert.ok(progress.includes(`gomelctl-probe-progress checking ${reached - 2 * ADDRESSES} ${all} ${all}`));
      assert.equal(progress.at(-1), `gomelctl-probe-progress waiting ${reached} ${all} ${all}`);
    });
  }

  test('64 nodes that all answer: result ok, exit 0, and gomelctl judges the node ok', async (t) => {
    const run = await runProbe(t, SHELLS.at(-1)![1], Array(64).fill('answers'), 0);
    assert.equal(run.code, 0);
    assert.equal(peerLines(run.report).length, 64 * ADDRESSES);
    assert.ok(peerLines(run.report).every((l) => l.endsWith(' ok')));
    assert.equal(run.report.at(-1), 'result ok');
    const report = parseProbeReport(run.report.join('\n'), run.committee);
    const judged = judgeProbes([{ label: 'node1', pid: 0, report }], run.committee, 1);
    assert.deepEqual([judged.all, judged.nodes[0]!.reached], [true, 64 * ADDRESSES]);
  });

  test('a base image without gomel-probe: result fail, with one line that says how to rebuild it', async (t) => {
    const run = await runProbe(t, SHELLS.at(-1)![1], Array(4).fill('answers'), 0, process.env.PATH);
    assert.equal(run.code, 1);
    assert.deepEqual(run.report.slice(-2), [
      "error gomel-probe is not on PATH: the image's base predates it (docker/setup.sh rebuilds gomelctl/base:busybox)",
      'result fail',
    ]);
    assert.equal(parseProbeReport(run.report.join('\n'), run.committee).errors.length, 1);
  });
});
