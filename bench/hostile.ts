// `npm run bench -- hostile` (no engine): what the hostile passes' inputs cost now that each is bounded.
//   * N6: `experiment plan` of a 2 MB file, a list of a million values (was 1 GB, 5 s; 11 MB of points 31 s);
//   * N8: `verdict` and `report` on lab16 (test/vectors/real-runs) with node5's log a 260 KB gzip of
//     256 MiB of newlines (was 10 s and 27 s);
//   * N9: Engine.serviceLogs of one 48 MB frame from a stand-in engine on a unix socket (deploy logs took 14.9 s).
// The first three are a fresh process each, as a user runs them; the frame is timed in this process.
import { createWriteStream, promises as fs } from 'node:fs';
import { once } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { Engine } from '../src/docker/engine.js';
import { gomelctl, type Timing } from './keys.js';

export interface HostileFigures {
  experiment: Timing;
  verdict: Timing;
  report: Timing;
  frame: { mb: number; wallMs: number };
}

/** `bytes` of newlines, gzipped into `file` a block at a time. */
async function newlinesGz(file: string, bytes: number): Promise<void> {
  const gzip = createGzip({ level: 9 });
  const done = once(gzip.pipe(createWriteStream(file)), 'finish');
  const block = Buffer.alloc(1 << 20, '\n');
  for (let left = bytes; left > 0; left -= block.length)
    if (!gzip.write(block.subarray(0, Math.min(left, block.length)))) await once(gzip, 'drain');
  gzip.end();
  await done;
}

/** serviceLogs of one frame of `mb` MB, from a stand-in engine answering on a unix socket in `dir`. */
async function frameRead(dir: string, mb: number): Promise<number> {
  const payload = Buffer.alloc(mb * 1e6, 'a');
  const header = Buffer.alloc(8);
  header[0] = 1;
  header.writeUInt32BE(payload.length, 4);
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
    res.write(header);
    res.end(payload);
  });
  const socket = path.join(dir, 'engine.sock');
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = `unix://${socket}`;
  try {
    let received = 0;
    const sink = new Writable({ write: (c: Buffer, _e, done) => ((received += c.length), done()) });
    const start = performance.now();
    await new Engine().serviceLogs('s1', false, sink, 120_000);
    const wallMs = performance.now() - start;
    if (received !== payload.length) throw new Error(`the frame came out as ${received} bytes, not ${payload.length}`);
    return wallMs;
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export async function benchHostile(repo: string, work: string): Promise<HostileFigures> {
  const dir = path.join(work, 'hostile');
  await fs.mkdir(dir, { recursive: true });
  const experimentFile = path.join(dir, 'million.yaml');
  await fs.writeFile(experimentFile, `binary: gomel\nn: [${Array(1_000_000).fill(4).join(',')}]\n`);
  const experiment = await gomelctl(repo, ['experiment', 'plan', experimentFile], 2);
  const logs = path.join(dir, 'logs');
  await fs.cp(path.join(repo, 'test/vectors/real-runs/lab16'), logs, { recursive: true });
  await newlinesGz(path.join(logs, 'node5/4.config.log.gz'), 256 * 2 ** 20);
  // The verdict exits 1: node5's log is named and not judged, the other 15 reach consensus; the report draws them.
  const verdict = await gomelctl(repo, ['verdict', '--logs', logs], 1);
  const report = await gomelctl(repo, ['report', '--logs', logs, '--out', path.join(dir, 'report.html')]);
  const frame = { mb: 48, wallMs: await frameRead(dir, 48) };
  await fs.rm(dir, { recursive: true, force: true });
  return { experiment, verdict, report, frame };
}
