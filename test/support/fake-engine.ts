// A stand-in Docker Engine on a unix socket: tests point DOCKER_HOST at it
// and see every request gomelctl makes, or make the engine hang or babble.
import { execFile } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { cli, REPO } from '../helpers.js';

export interface EngineRequest {
  method: string;
  /** Without an API version prefix and without the query. */
  path: string;
  query: URLSearchParams;
  body: string;
}

/** An answer: status and a JSON value (or raw text); undefined means never answer. */
export type Answer = { status?: number; json?: unknown; text?: string } | undefined;

export interface FakeEngine {
  host: string;
  requests: EngineRequest[];
  close(): Promise<void>;
}

export async function fakeEngine(dir: string, answer: (r: EngineRequest) => Answer): Promise<FakeEngine> {
  const requests: EngineRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://engine');
      const r = {
        method: req.method ?? 'GET',
        path: url.pathname.replace(/^\/v\d+\.\d+/, ''),
        query: url.searchParams,
        body,
      };
      requests.push(r);
      const a = answer(r);
      if (!a) return; // hang: accept, read, never answer
      res.writeHead(a.status ?? 200, { 'Content-Type': a.text !== undefined ? 'text/plain' : 'application/json' });
      res.end(a.text ?? JSON.stringify(a.json ?? {}));
    });
  });
  const socket = path.join(dir, 'engine.sock');
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    host: `unix://${socket}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Runs `node bin/gomelctl ARGS` in `cwd` (as a user does), with extra environment. */
export function gomelctl(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO, 'bin/gomelctl'), ...args],
      { cwd, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, out: stdout, err: stderr, ms: Date.now() - started });
      },
    );
  });
}

let inProcessBusy = false;

/**
 * `gomelctl ARGS` as `gomelctl()` runs it, but in this process: through src/cli.ts run(), the call
 * bin/gomelctl makes, from `cwd` and with extra environment, its stdout and stderr the text the
 * process would print. A process costs ~0.3 s of CPU to start (measured: 106 of them were a fifth of
 * the unit tier's CPU); `gomelctl()` stays for the contract only a process shows (its exit, a hang).
 * The working folder and the environment are the process's own: one call at a time, checked.
 */
export async function gomelctlInProcess(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  if (inProcessBusy) throw new Error('gomelctlInProcess: another call is running (tests side by side in one file?)');
  inProcessBusy = true;
  const saved = { cwd: process.cwd(), env: Object.keys(env).map((k) => [k, process.env[k]] as const) };
  process.chdir(cwd);
  Object.assign(process.env, env);
  try {
    const r = await cli(args);
    const text = (s: string) => (s === '' ? '' : `${s}\n`);
    return { code: r.code, out: text(r.out), err: text(r.err) };
  } finally {
    process.chdir(saved.cwd);
    for (const [k, v] of saved.env) v === undefined ? delete process.env[k] : (process.env[k] = v);
    inProcessBusy = false;
  }
}
