import { createHash } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { run } from '../src/cli.js';
import { captureOutput } from '../src/commands/output.js';

/** The repository root (tests run from dist/test/). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Files written by gomel's own tools and runs, kept in the repository (test/vectors/gomel-2019-09/README.md). */
export const VECTORS = path.join(REPO, 'test/vectors/gomel-2019-09');
export const DOCKER_KEYS = path.join(VECTORS, 'docker-distributed/keys');
export const DOCKER_CONFIGS = path.join(VECTORS, 'docker-distributed/configs');

export async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gomelctl-test-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function copyDir(from: string, to: string): Promise<void> {
  await fs.cp(from, to, { recursive: true });
  // The vectors are read-only; copies must be writable.
  for (const f of await fs.readdir(to)) await fs.chmod(path.join(to, f), 0o644);
}

/** Runs the CLI in-process in `cwd`-relative terms and returns its exit code and output. */
export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = captureOutput();
  const code = await run(args, o);
  return { code, out: o.lines.join('\n'), err: o.warnings.join('\n') };
}

/**
 * Every file of a folder as "<mode>:<sha256 of its bytes>", to compare before/after.
 * A hash, not the bytes: a failing assertion must not print private keys into CI logs.
 */
export async function snapshot(dir: string, withModes = true): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await fs.readdir(dir)).sort()) {
    const file = path.join(dir, name);
    const stat = await fs.stat(file);
    const hash = createHash('sha256')
      .update(await fs.readFile(file))
      .digest('hex');
    if (stat.isFile()) out[name] = withModes ? `${(stat.mode & 0o777).toString(8)}:${hash}` : hash;
  }
  return out;
}

/** A writable copy of a logs folder of the vectors, by default of test/vectors/gomel-2019-09/logs (the vectors are read-only). */
export async function copyLogs(
  t: { after: (fn: () => Promise<void>) => void },
  name: string,
  from = path.join(VECTORS, 'logs'),
): Promise<string> {
  const dir = path.join(await tempDir(t), name);
  await fs.cp(path.join(from, name), dir, { recursive: true });
  const chmod = async (d: string) => {
    await fs.chmod(d, 0o755);
    for (const e of await fs.readdir(d, { withFileTypes: true }))
      await (e.isDirectory() ? chmod(path.join(d, e.name)) : fs.chmod(path.join(d, e.name), 0o644));
  };
  await chmod(dir);
  return dir;
}

/** The lines of a gzipped log, and writing them back. */
export const readLines = async (file: string) =>
  gunzipSync(await fs.readFile(file))
    .toString()
    .split('\n')
    .filter((l) => l !== '');
export const writeLines = (file: string, lines: string[]) => fs.writeFile(file, gzipSync(`${lines.join('\n')}\n`));

/**
 * One instance of a twin, from a node's real log: only its lines naming no peer, or a peer of `half`
 * (pids), kept. Each instance of the real twin run (test/vectors/real-runs/twin8) names only its half's
 * pids, its drop rules cutting it off from the other half (node3: 0, 1, 3, 4; node3-twin: 5, 6, 7).
 */
export async function keepHalf(file: string, half: readonly number[]): Promise<void> {
  const kept = (await readLines(file)).filter((l) => {
    const peer = /"P":(\d+)/.exec(l)?.[1];
    return peer === undefined || half.includes(Number(peer));
  });
  await writeLines(file, kept);
}

/** Every path under `dir` that is not a folder, and every empty folder, relative. */
export async function leaves(dir: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for (const e of await fs.readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    const inside = e.isDirectory() ? await leaves(dir, rel) : [];
    found.push(...(e.isDirectory() && inside.length ? inside : [rel]));
  }
  return found.sort();
}

/** Every line of the .ts files under src/ (but the `allowed` ones) matching `pattern`, as "file:line: text". */
export async function sourceMatches(pattern: RegExp, allowed: Iterable<string>): Promise<string[]> {
  const skip = new Set(allowed);
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(path.join(REPO, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) await walk(rel);
      else if (rel.endsWith('.ts') && !skip.has(rel))
        (await fs.readFile(path.join(REPO, rel), 'utf8'))
          .split('\n')
          .forEach((line, i) => pattern.test(line) && found.push(`${rel}:${i + 1}: ${line.trim()}`));
    }
  };
  await walk('src');
  return found;
}

/**
 * Waits until `holds()`, checking every 5 ms: for a state another process brings about (a signal
 * takes effect when its target next runs, not when kill returns), waited for, never slept for. The
 * bound only fails a test whose state never comes; `why()` says what was seen instead. 60 s: on 2
 * cores at load 270 (a suite beside builds and other suites) a shell's answer took over 10 s, and a
 * 10 s bound failed a start_together test whose state came.
 */
export async function until(
  holds: () => boolean | Promise<boolean>,
  why: () => string,
  boundMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`not so after ${boundMs / 1000} s: ${why()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const portsGiven = new Set<number>();

export const canBind = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });

/**
 * Ports for a shell to listen on later (busybox nc -l), free now, drawn at random below the kernel's
 * ephemeral range: a port the kernel hands out (any test's listen(0), any outgoing connection) never
 * comes from there, so none is taken between now and the moment the shell listens, as a freed
 * ephemeral port can be. Each is given once per process.
 */
export async function freeListenPorts(n: number): Promise<number[]> {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  if (!(low! > 4096)) throw new Error(`ip_local_port_range starts at ${low}: no room below it`);
  const ports: number[] = [];
  while (ports.length < n) {
    const port = 1024 + Math.floor(Math.random() * (low! - 1024));
    if (portsGiven.has(port) || !(await canBind(port))) continue;
    portsGiven.add(port);
    ports.push(port);
  }
  return ports;
}

/** A node of a run whose host died mid-run: what deploy logs leaves for it (its task, the host down; no files). */
export async function loseWithHost(dir: string, node: string, host: string): Promise<void> {
  await fs.rm(path.join(dir, node), { recursive: true });
  await fs.mkdir(path.join(dir, node));
  await fs.writeFile(
    path.join(dir, node, 'task.json'),
    JSON.stringify({ state: 'running', swarmNode: host, hostDown: true, uncollected: `its host ${host} is down` }),
  );
}
