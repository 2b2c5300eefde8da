// Issue 25 item 8 (N91, N92): the engine is never waited on forever, and a
// malformed answer is one line naming the engine and what gomelctl was doing.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { EnvironmentError } from '../src/core/errors.js';
import {
  Engine,
  EngineError,
  MAX_ANSWER,
  MAX_MESSENGER_OUTPUT,
  MAX_PROGRESS_LINE,
  OutputTooLarge,
} from '../src/docker/engine.js';
import { deploymentLabels, readStatus } from '../src/docker/deployment.js';
import { tempDir } from './helpers.js';
import { fakeEngine, gomelctl, gomelctlInProcess, type Answer, type EngineRequest } from './support/fake-engine.js';

/** One line on stderr, naming the engine; no stack, no TypeError. */
function assertOneLine(r: { code: number; err: string }, host: string, says: RegExp): void {
  assert.equal(r.code, 1, r.err);
  const lines = r.err.trim().split('\n');
  assert.equal(lines.length, 1, r.err);
  assert.ok(lines[0]!.includes(host), `names the engine: ${r.err}`);
  assert.match(lines[0]!, says);
  assert.doesNotMatch(r.err, /TypeError|SyntaxError|\n\s+at /);
}

const swarmInfo = {
  Name: 'fake',
  ServerVersion: '20.10.24',
  Swarm: { LocalNodeState: 'active', ControlAvailable: true, NodeID: 'n1', NodeAddr: '127.0.0.1' },
};

// A process each: that it ends at the timeout, with one line and exit 1, is the process's own contract.

/** Points this process's Engine at `host` with a call timeout of `seconds`, until the test ends. */
function engineFor(t: { after: (fn: () => void) => void }, host: string, seconds: string): void {
  const saved = { host: process.env.DOCKER_HOST, timeout: process.env.GOMELCTL_ENGINE_TIMEOUT };
  process.env.DOCKER_HOST = host;
  process.env.GOMELCTL_ENGINE_TIMEOUT = seconds;
  t.after(() => {
    for (const [k, v] of [
      ['DOCKER_HOST', saved.host],
      ['GOMELCTL_ENGINE_TIMEOUT', saved.timeout],
    ] as const)
      v === undefined ? delete process.env[k] : (process.env[k] = v);
  });
}

describe('an engine that accepts and never answers (N91)', () => {
  for (const args of [
    ['deploy', 'status'],
    ['cluster', 'init'],
  ]) {
    it(`${args.join(' ')}: one line, exit 1, within the timeout`, async (t) => {
      const dir = await tempDir(t);
      const engine = await fakeEngine(dir, () => undefined);
      t.after(() => engine.close());
      const r = await gomelctl(args, dir, { DOCKER_HOST: engine.host, GOMELCTL_ENGINE_TIMEOUT: '1' });
      assertOneLine(r, engine.host, /did not answer within 1 s while trying to/);
      assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
    });
  }

  it('GOMELCTL_ENGINE_TIMEOUT must be a number of seconds', async (t) => {
    const dir = await tempDir(t);
    const r = await gomelctl(['deploy', 'status'], dir, {
      DOCKER_HOST: 'unix:///tmp/no-such.sock',
      GOMELCTL_ENGINE_TIMEOUT: 'soon',
    });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /^gomelctl: GOMELCTL_ENGINE_TIMEOUT=soon: expected seconds/);
  });
});

describe('an engine that answers nonsense (N92)', () => {
  const cases: { name: string; args: string[]; answer: (r: EngineRequest) => Answer; says: RegExp }[] = [
    {
      name: 'deploy status, {not json',
      args: ['deploy', 'status'],
      answer: () => ({ text: '{not json' }),
      says: /malformed answer while trying to list services: expected a list, got text that is not JSON/,
    },
    {
      name: 'cluster init, {not json',
      args: ['cluster', 'init'],
      answer: () => ({ text: '{not json' }),
      says: /malformed answer while trying to report its state/,
    },
    {
      name: 'deploy status, an object for the list of services',
      args: ['deploy', 'status'],
      answer: () => ({ json: { services: [] } }),
      says: /list services: expected a list, got an object/,
    },
    {
      name: 'deploy status, a service without a name',
      args: ['deploy', 'status'],
      answer: (r) => ({ json: r.path === '/services' ? [{ ID: 's1' }] : [] }),
      says: /list services: expected a list of services with ID and Spec\.Name/,
    },
    {
      name: 'deploy status, tasks not a list',
      args: ['deploy', 'status'],
      answer: (r) => ({
        json:
          r.path === '/services'
            ? [{ ID: 's1', Spec: { Name: 'node1', Labels: deploymentLabels('aleph_net') } }]
            : r.path === '/tasks'
              ? 'none'
              : [],
      }),
      says: /list tasks: expected a list/,
    },
    {
      name: 'deploy status, a task whose CreatedAt is a number (hostile pass H02)',
      args: ['deploy', 'status'],
      answer: (r) => ({
        json:
          r.path === '/services'
            ? [{ ID: 's1', Spec: { Name: 'node1', Labels: deploymentLabels('aleph_net') } }]
            : r.path === '/tasks'
              ? [
                  { ServiceID: 's1', CreatedAt: 5, Status: { State: 'running' } },
                  { ServiceID: 's1', CreatedAt: 6, Status: { State: 'running' } },
                ]
              : [],
      }),
      says: /list tasks: task 1 has a field of the wrong type/,
    },
    {
      name: 'cluster init, no Swarm in the info',
      args: ['cluster', 'init'],
      answer: () => ({ json: { Name: 'x' } }),
      says: /report its state: expected .*Swarm/,
    },
    {
      name: 'cluster init, networks not a list',
      args: ['cluster', 'init'],
      answer: (r) => ({ json: r.path === '/info' ? swarmInfo : { Name: 'aleph_net' } }),
      says: /list networks: expected a list/,
    },
  ];
  // In process: each answer's one line and exit code come from run() alike (the N91 processes above end alike).
  for (const c of cases) {
    it(`${c.name}: one line naming the engine, exit 1`, async (t) => {
      const dir = await tempDir(t);
      const engine = await fakeEngine(dir, c.answer);
      t.after(() => engine.close());
      const r = await gomelctlInProcess(c.args, dir, { DOCKER_HOST: engine.host });
      assertOneLine(r, engine.host, c.says);
    });
  }
});

describe('engine streams', () => {
  it('a progress stream that is not JSON lines is one line naming the engine', async () => {
    const engine = new Engine();
    await assert.rejects(
      engine.followProgress(Readable.from(['{"stream":"Step 1/2"}\n', '{not json\n']), () => {}, 'build an image'),
      (e: Error) =>
        e instanceof EnvironmentError &&
        /malformed answer while trying to build an image: a progress line that is not JSON/.test(e.message),
    );
  });

  it('a progress line is read in one pass: kept whole across chunks and characters, and refused past MAX_PROGRESS_LINE before the stream ends', async () => {
    // One event cut into 1-byte chunks, "é" (2 bytes) across two of them: before, each chunk was decoded alone ("\ufffd\ufffd").
    const events: unknown[] = [];
    const line = Buffer.from(`{"stream":"é ${'x'.repeat(100_000)}"}\n{"status":"done"}\n`);
    await new Engine().followProgress(
      Readable.from(Array.from(line, (byte) => Buffer.from([byte]))),
      (e) => events.push(e),
      'build an image',
    );
    assert.deepEqual(events, [{ stream: `é ${'x'.repeat(100_000)}` }, { status: 'done' }]);
    // A line without end, 64 chunks of 64 KiB: refused once it passes the cap, with the chunks after it never asked for
    // (before, the line was joined with every chunk and split again, and read to its end: 64 chunks).
    let pulled = 0;
    const endless = Readable.from(
      (function* () {
        for (let i = 0; i < 64; i++, pulled++) yield Buffer.alloc(64 * 1024, i ? 'x' : '{');
      })(),
    );
    await assert.rejects(
      new Engine().followProgress(endless, () => {}, 'build an image'),
      (e: Error) =>
        e instanceof EnvironmentError &&
        e.message.includes(
          `while trying to build an image: a progress line longer than ${MAX_PROGRESS_LINE / 2 ** 20} MiB`,
        ),
    );
    // Readable.from reads up to 16 chunks ahead of its reader.
    assert.ok(pulled <= MAX_PROGRESS_LINE / (64 * 1024) + 16 + 1, `${pulled} chunks read`);
  });

  it('followed service logs: multiplexed frames split across chunks come out whole', async (t) => {
    const dir = await tempDir(t);
    // Docker's multiplexed format: stream 1 (stdout), three zero bytes, the size, the bytes.
    const frame = (text: string) => {
      const f = Buffer.alloc(8 + text.length);
      f[0] = 1;
      f.writeUInt32BE(text.length, 4);
      f.write(text, 8);
      return f;
    };
    const frames = Buffer.concat([frame('hello '), frame('world\n')]);
    const server = http.createServer(async (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
      for (const cut of [
        [0, 5],
        [5, 11],
        [11, frames.length],
      ] as const) {
        res.write(frames.subarray(...cut));
        await new Promise((r) => setTimeout(r, 20));
      }
      res.end();
    });
    const socket = path.join(dir, 'logs.sock');
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${socket}`;
    t.after(() => (saved === undefined ? delete process.env.DOCKER_HOST : (process.env.DOCKER_HOST = saved)));
    const chunks: Buffer[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c), done()) });
    await new Engine().serviceLogs('s1', true, sink);
    assert.equal(Buffer.concat(chunks).toString(), 'hello world\n');
  });

  it('a build stream that goes silent is given up after its idle limit, in one line', async (t) => {
    const dir = await tempDir(t);
    // Headers and one line, then silence; the idle limit is 20× the call timeout (0.1 s here).
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"stream":"Step 1/2 : FROM busybox"}\n');
    });
    const socket = path.join(dir, 'build.sock');
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    t.after(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
    engineFor(t, `unix://${socket}`, '0.1');
    const engine = new Engine();
    const started = Date.now();
    const seen: unknown[] = [];
    await assert.rejects(
      engine.build(Buffer.alloc(1024), { tag: '127.0.0.1:5000/aleph:test' }, (e) => seen.push(e)),
      (e: Error) => {
        assert.ok(e instanceof EnvironmentError, String(e));
        assert.match(
          e.message,
          new RegExp(
            `Docker Engine at unix://${socket.replace(/[.*/]/g, '\\$&')} sent nothing for 2 s while trying to build an image`,
          ),
        );
        return true;
      },
    );
    assert.equal(seen.length, 1);
    assert.ok(Date.now() - started < 8000);
  });
});

describe('an engine too loaded to answer in time (256 nodes starting on 2 cores, issue 35)', () => {
  it('a listing in a wait for the nodes is asked again within the retry budget; elsewhere the timeout stands', async (t) => {
    const dir = await tempDir(t);
    let listings = 0;
    const fake = await fakeEngine(dir, (r) => {
      if (r.path === '/services') return ++listings === 1 ? undefined : { json: [] }; // the first never answered
      return { json: [] };
    });
    t.after(() => fake.close());
    engineFor(t, fake.host, '0.2');
    const engine = new Engine();
    const retries: string[] = [];
    const retry = { budgetMs: 10_000, firstDelayMs: 10, onRetry: (e: Error) => retries.push(e.message) };
    assert.deepEqual(await readStatus(engine, 'net', { ...retry, timeouts: true }), []);
    assert.equal(listings, 2);
    assert.equal(retries.length, 1, retries.join('\n'));
    assert.match(retries[0]!, /did not answer within 0\.2 s while trying to list services/);
    // Without it (deploy status; a stuck engine), the timeout stands: asked once.
    listings = 0;
    await assert.rejects(readStatus(engine, 'net', retry), /did not answer within 0\.2 s/);
    assert.equal(listings, 1);
  });
});

describe("a node's output (hostile pass H07, H08)", () => {
  it('is read as a stream and bounded: past the bound, one line naming the service, never held whole', async (t) => {
    const dir = await tempDir(t);
    // One stdout frame of the multiplexed stream (8-byte header: stream 1, big-endian length).
    const frame = (text: string) => {
      const header = Buffer.alloc(8);
      header[0] = 1;
      header.writeUInt32BE(text.length, 4);
      return Buffer.concat([header, Buffer.from(text)]).toString('latin1');
    };
    const fake = await fakeEngine(dir, (r) =>
      r.path === '/services/s1/logs' ? { text: frame('x'.repeat(4096)) } : { json: [] },
    );
    t.after(() => fake.close());
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = fake.host;
    t.after(() => (saved === undefined ? delete process.env.DOCKER_HOST : (process.env.DOCKER_HOST = saved)));
    const engine = new Engine();
    assert.equal(await engine.serviceOutput('s1', 5000), 'x'.repeat(4096));
    await assert.rejects(engine.serviceOutput('s1', 5000, undefined, 1024), (e: Error) => {
      assert.ok(e instanceof OutputTooLarge);
      assert.match(
        e.message,
        /^the output of service s1 is larger than 0 MiB, far more than a node prints; it was not read$/,
      );
      return true;
    });
  });
});

// Hostile pass 7, BAD3: dockerode's createSecret and createContainer sent their options as the URL's
// query as well as the body, and an engine at debug level logs each request's URI: every node's
// private key (a secret's Data) and the control token (the fault messenger's Env) were in its log.
describe('secret material goes in the body of a request, never its URL (hostile pass 7)', () => {
  it('createSecret and runOnNetwork: the key and the token are in the body only', async (t) => {
    const dir = await tempDir(t);
    const fake = await fakeEngine(dir, (r) => {
      if (r.path === '/secrets/create') return { status: 201, json: { ID: 'secret1' } };
      if (r.path === '/containers/create') return { status: 201, json: { Id: 'c1' } };
      if (r.path === '/containers/c1/wait') return { json: { StatusCode: 0 } };
      if (r.path === '/containers/c1/logs') return { text: '' };
      return { status: 204, text: '' }; // start, remove
    });
    t.after(() => fake.close());
    engineFor(t, fake.host, '5');
    const engine = new Engine();
    const key = 'GQRJithpel9a7UDjUmCklpwLfrWLiFaHeuRmryxG5GYV 0\n';
    const token = 'REQUEST_0=control-token-0123456789abcdef';
    assert.equal(await engine.createSecret('node1.k', new TextEncoder().encode(key), { app: 'gomel' }), 'secret1');
    const ran = await engine.runOnNetwork('busybox', 'net', ['sh', '-c', 'true'], [token], { app: 'gomel' }, 5000);
    assert.equal(ran.exitCode, 0);
    const data = Buffer.from(key).toString('base64');
    const [secret, container] = [
      fake.requests.find((r) => r.path === '/secrets/create')!,
      fake.requests.find((r) => r.path === '/containers/create')!,
    ];
    assert.equal((JSON.parse(secret.body) as { Data: string }).Data, data, 'the body carries the key');
    assert.deepEqual((JSON.parse(container.body) as { Env: string[] }).Env, [token], 'the body carries the token');
    for (const r of fake.requests) {
      const query = decodeURIComponent(r.query.toString());
      assert.ok(!query.includes(data) && !query.includes('control-token'), `${r.method} ${r.path}?${query}`);
    }
  });
});

describe("fault's messenger output (hostile pass 7 BAD1: 300 MB of it held 1.6 GB)", () => {
  it('is read as a stream up to MAX_MESSENGER_OUTPUT; past it, reading stops and one line names the container', async (t) => {
    const dir = await tempDir(t);
    // The container's log: 64 MiB of stdout frames of 64 KiB, made as they are sent; `served` counts what was sent.
    const frameSize = 64 * 1024;
    let total = frameSize + 8;
    const frame = Buffer.alloc(8 + frameSize, 'x');
    frame.fill(0, 0, 8);
    frame[0] = 1;
    frame.writeUInt32BE(frameSize, 4);
    let served = 0;
    let removed = false;
    const server = http.createServer((req, res) => {
      const url = req.url ?? '';
      req.resume();
      const json = (status: number, value: unknown) => (
        res.writeHead(status, { 'Content-Type': 'application/json' }),
        res.end(JSON.stringify(value))
      );
      if (url.includes('/containers/create')) return json(201, { Id: 'c0ffee0000001234' });
      if (url.includes('/start')) return (res.writeHead(204), res.end());
      if (url.includes('/wait')) return json(200, { StatusCode: 0 });
      if (req.method === 'DELETE') return ((removed = true), res.writeHead(204), res.end());
      if (url.includes('/logs')) {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
        Readable.from(
          (function* () {
            for (; served < total; served += frame.length) yield frame;
          })(),
        ).pipe(res);
        return;
      }
      json(404, { message: `not in this fake: ${req.method} ${url}` });
    });
    const socket = path.join(dir, 'messenger.sock');
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    t.after(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
    engineFor(t, `unix://${socket}`, '5');
    const run = () => new Engine().runOnNetwork('busybox', 'aleph_net', ['/bin/sh', '-c', 'true'], [], {}, 5000);
    // A log under the cap is read whole, its frames taken apart.
    assert.deepEqual(await run(), { exitCode: 0, output: 'x'.repeat(frameSize) });
    served = 0;
    removed = false;
    total = 64 * 2 ** 20;
    await assert.rejects(run(), (e: Error) => {
      assert.ok(e instanceof OutputTooLarge, String(e));
      assert.equal(
        e.message,
        `the output of container c0ffee000000 (busybox on aleph_net) is larger than ${MAX_MESSENGER_OUTPUT / 2 ** 20} MiB, far more than its answers; it was not read`,
      );
      return true;
    });
    // Reading stopped near the cap (what the sockets buffer aside), far from the whole log; the container is removed.
    assert.ok(served < total / 4, `${served} of ${total} bytes served`);
    assert.ok(removed);
  });
});

// Hostile pass 8 (issue 30): a 625 MB service listing ended in an uncaught ERR_STRING_TOO_LONG stack trace at
// 2.3 GB, a 104 MB one cost 787 MB: docker-modem read every JSON answer whole, of whatever size.
describe('a JSON answer larger than MAX_ANSWER (hostile pass 8)', () => {
  it('deploy status: reading stops near the cap, one line naming the engine, the request and the cap, exit 1', async (t) => {
    const dir = await tempDir(t);
    // Well-formed gomelctl services of ~64 KiB each (a long label), made as they are sent: twice the cap in all.
    const entry = Buffer.from(
      `${JSON.stringify({
        ID: 'svc',
        Spec: { Name: 'node1', Labels: { ...deploymentLabels('aleph_net'), pad: 'x'.repeat(64 * 1024) } },
      })},`,
    );
    const total = 2 * MAX_ANSWER;
    let served = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (!(req.url ?? '').includes('/services')) return res.end('[]');
      Readable.from(
        (function* () {
          yield Buffer.from('[');
          for (; served < total; served += entry.length) yield entry;
          yield Buffer.from('{}]');
        })(),
      ).pipe(res);
    });
    const socket = path.join(dir, 'huge.sock');
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    t.after(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
    const host = `unix://${socket}`;
    const r = await gomelctlInProcess(['deploy', 'status'], dir, { DOCKER_HOST: host });
    assertOneLine(
      r,
      host,
      new RegExp(`sent an answer larger than ${MAX_ANSWER / 2 ** 20} MiB while trying to list services`),
    );
    // What the sockets buffer aside, the answer was read up to the cap, not to its end.
    assert.ok(served < 1.5 * MAX_ANSWER, `${served} of ${total} bytes served`);
  });
});

describe('an engine that refuses a listing (hostile pass 8)', () => {
  it("its message is quoted on one line, clipped: a 5,000-character one with a newline and terminal escapes is not the user's line", async (t) => {
    const dir = await tempDir(t);
    const said = `boom\n\u001b[31mred ${'x'.repeat(5000)}`;
    const fake = await fakeEngine(dir, () => ({ status: 500, json: { message: said } }));
    t.after(() => fake.close());
    engineFor(t, fake.host, '5');
    await assert.rejects(new Engine().listServices({}), (e: Error) => {
      assert.ok(e instanceof EngineError && e.statusCode === 500, String(e));
      assert.ok(e.message.startsWith('Docker Engine refused to list services (HTTP 500): "boom\\n\\u001b[31mred xxx'));
      assert.ok(e.message.endsWith('x…"'), e.message);
      assert.ok(e.message.length < 300 && !/[\n\u001b]/.test(e.message), e.message);
      return true;
    });
  });

  it('deploy status tells each retry of a failing engine call, as deploy logs and up do', async (t) => {
    const dir = await tempDir(t);
    let listings = 0;
    const fake = await fakeEngine(dir, (r) =>
      r.path === '/services' && ++listings === 1
        ? { status: 500, json: { message: 'DeadlineExceeded' } }
        : { json: [] },
    );
    t.after(() => fake.close());
    const r = await gomelctlInProcess(['deploy', 'status'], dir, { DOCKER_HOST: fake.host });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'deploy: no gomelctl services on aleph_net\n');
    assert.equal(
      r.err,
      'deploy status: Docker Engine refused to list services (HTTP 500): "DeadlineExceeded" (attempt 1); retrying, the nodes keep running\n',
    );
  });

  it('a listing that stops mid-answer is given up after the call timeout, as before answers were capped', async (t) => {
    const dir = await tempDir(t);
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('[{"ID":"s1",'); // then silence
    });
    const socket = path.join(dir, 'stall.sock');
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    t.after(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
    engineFor(t, `unix://${socket}`, '0.2');
    await assert.rejects(new Engine().listServices({}), (e: Error) => {
      assert.ok(e instanceof EnvironmentError, String(e));
      assert.match(e.message, /did not answer within 0\.2 s while trying to list services/);
      return true;
    });
  });
});
