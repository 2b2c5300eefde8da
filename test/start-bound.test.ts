// start_together (templates/node-lib.sh) takes no common start a coordinator could not have
// fixed in this run (issue 30): one later than the node's own give-up plus the margin would
// hold the node that long (a day, say). Such a start is "no start of this run": the node keeps
// asking and starts on its own, as when the coordinator is silent. Driven under busybox sh (the
// image's shell) and dash, against a fake coordinator on a free port; node-lib.sh's fixed /tmp
// files are kept apart on a /tmp of its own, in a private mount namespace (unshare -m, as root:
// the suite's user).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { REPO, tempDir } from './helpers.js';

const NODE_LIB = path.join(REPO, 'templates/node-lib.sh');

/** A coordinator that answers every question with `answer()`, on a port the kernel picked. */
async function fakeCoordinator(t: { after: (fn: () => void) => void }, answer: () => string): Promise<number> {
  const server = net.createServer((socket) => socket.end(`${answer()}\n`));
  await new Promise<void>((resolve) => server.listen(0, resolve));
  t.after(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

/** start_together as node 2 of a 2-node committee whose coordinator is the fake; what it left, and its stderr. */
async function startAsNode2(
  t: Parameters<typeof tempDir>[0],
  shell: string[],
  port: number,
): Promise<{ stderr: string; plan: string | undefined; unanswered: string | undefined }> {
  const rec = await tempDir(t);
  await fs.writeFile(path.join(rec, 'committee.ka'), 'pk|x||coord:9000\npk|x||me:9000\n');
  // node-lib.sh beside the node, read through its working folder: the tmpfs below hides all of
  // /tmp, where a checkout (a fresh clone in /tmp/x) may live.
  await fs.copyFile(NODE_LIB, path.join(rec, 'node-lib.sh'));
  // A /tmp of its own; the image's tools for dash too (busybox runs the applet its name says);
  // the coordinator's address as an earlier round kept it: no name lookup.
  const script = [
    'mount -t tmpfs gomelctl-test /tmp',
    'mkdir /tmp/bin',
    'ln -s /bin/busybox /tmp/bin/nc',
    'ln -s /bin/busybox /tmp/bin/adjtimex',
    'echo 127.0.0.1 >/tmp/start-ip-coord',
    'PATH=/tmp/bin:$PATH',
    '. ./node-lib.sh',
    'start_together ./committee.ka .',
  ].join(' && ');
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['-m', ...shell, '-c', script], {
      cwd: rec,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        SLOT: '2',
        GOMEL_READY_PORT: String(port),
        GOMEL_START_WAIT: '2',
        GOMEL_START_MARGIN: '1',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      // Its own process group: the guard ends the shell and the sleep it may be in, together.
      detached: true,
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // A hang guard, not a speed bound: before issue 30 the node slept until the start it was given.
    const guard = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', async (code, signal) => {
      clearTimeout(guard);
      if (signal) return reject(new Error(`start_together still waited after 30 s (${signal}): ${stderr}`));
      assert.equal(code, 0, stderr);
      const read = (name: string) => fs.readFile(path.join(rec, name), 'utf8').catch(() => undefined);
      resolve({ stderr, plan: await read('start_plan'), unanswered: await read('start_unanswered') });
    });
  });
}

const SHELLS: [string, string[]][] = [
  ['busybox', ['busybox', 'sh']],
  ['dash', ['dash']],
];

// Each run waits out its give-up (GOMEL_START_WAIT 2 s) on its own coordinator, port and mount
// namespace: side by side (measured: 9 s one after another, 0.2 s of CPU).
describe('start_together and a start it could not have fixed', { concurrency: true }, () => {
  for (const [name, shell] of SHELLS) {
    test(`${name}: a coordinator's start an hour ahead is no start of this run; the node starts on its own`, async (t) => {
      const port = await fakeCoordinator(t, () => {
        const now = Date.now() / 1000;
        return `ready ${(now - 1).toFixed(6)} done ${(now + 3600).toFixed(6)}`;
      });
      const run = await startAsNode2(t, shell, port);
      assert.match(run.stderr, /start: after 2s the coordinator coord has no common start; starting anyway/);
      assert.equal(run.unanswered, 'coord\n');
      assert.equal(run.plan, undefined, 'no common start taken');
    });

    test(`${name}: a start within the node's give-up plus the margin is taken`, async (t) => {
      let start = '';
      const port = await fakeCoordinator(t, () => {
        start ||= (Date.now() / 1000 + 1.5).toFixed(6);
        return `ready ${(Number(start) - 2).toFixed(6)} done ${start}`;
      });
      const run = await startAsNode2(t, shell, port);
      assert.equal(run.unanswered, undefined, run.stderr);
      assert.equal(run.plan?.split(' ')[0], start, 'start_plan records the start it took');
    });
  }
});
