// `npm run bench -- judge` (issue 35): `verdict` and `report` on stand-in gomel logs the
// size of a 64-, 128- and 256-node real run, each a fresh process as a user runs it, with
// wall time, CPU time and peak memory, and the growth per doubling of N. Needs no engine.
//
// The size: a real node at N = 64 wrote ~1.6 MB of log (102 MB for the run), and gomel's
// per-node log grows about linearly with N (lab16, test/vectors/real-runs: ~430 KB a node at
// N = 16): 25 KB × N a node, so a run's logs grow with N² — 410 MB at 128, 1.6 GB at 256.
// A tool linear in what it reads takes ~4× the time per doubling of N.
//
// The shape: a real log of lab16 (node1, 9476 lines) as the pattern. Per level a prime unit
// ("D"); from level 3 a timing unit of round level−3 ("E"), the order extended ("F") and N
// ordered units ("Z", creator C at height R: every node orders the same, so the verdict finds
// consensus); between them the real log's sync lines (every line but those and the service
// lines), replayed in order, peers (P, C) spread over the N nodes, up to the size.
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { once } from 'node:events';
import { keysGen } from '../src/commands/keys.js';
import { captureOutput } from '../src/commands/output.js';
import { gomelctl, type Timing } from './keys.js';

/** Bytes of log a node writes at N (see above). */
const bytesPerNode = (n: number) => 25_000 * n;
const LEVEL_LIMIT = 50;

export interface JudgeFigures {
  n: number;
  /** All nodes' logs, MB. */
  logMb: number;
  makeMs: number;
  verdict: Timing;
  report: Timing;
}

async function patternLines(repo: string): Promise<string[]> {
  const real = gunzipSync(await fs.readFile(path.join(repo, 'test/vectors/real-runs/lab16/node1/0.config.log.gz')));
  // The sync chatter: every line the generator does not write itself.
  return real
    .toString('utf8')
    .split('\n')
    .filter((l) => l && !/"E":"(genesis|j|A|B|D|E|F|Z)"/.test(l));
}

/** One node's log, written to `file`: LEVEL_LIMIT levels, N ordered units a round, ~bytesPerNode(n). */
async function writeNodeLog(file: string, pid: number, n: number, pattern: readonly string[]): Promise<number> {
  const out = createWriteStream(file);
  let bytes = 0;
  let chunk: string[] = [];
  const put = async (line: string) => {
    chunk.push(line);
    bytes += line.length + 1;
    if (chunk.length >= 4096) {
      if (!out.write(`${chunk.join('\n')}\n`)) await once(out, 'drain');
      chunk = [];
    }
  };
  let t = 20;
  await put(`{"genesis":"Sun, 29 Nov 2026 11:12:11 +0000","T":${t},"E":"genesis"}`);
  for (let s = 0; s < 6; s++) await put(`{"L":"1","S":${s},"T":${t},"E":"A"}`);
  const orderBytes = (LEVEL_LIMIT - 2) * n * 48;
  const syncPerLevel = Math.max(0, (bytesPerNode(n) - orderBytes) / (LEVEL_LIMIT + 1));
  let p = pid; // each node replays the pattern from another place
  for (let level = 0; level <= LEVEL_LIMIT; level++) {
    t += 600;
    await put(`{"L":"1","S":0,"Q":${level},"A":${Math.min(level, 8)},"T":${t},"E":"D"}`);
    for (let spent = 0; spent < syncPerLevel;) {
      const line = pattern[p % pattern.length]!.replace(/"T":\d+/, `"T":${t}`).replace(
        /"([PC])":(\d+)/g,
        (_, field: string, peer: string) =>
          `"${field}":${(Number(peer) + 16 * Math.floor(p / pattern.length) + pid) % n}`,
      );
      p++;
      spent += line.length + 1;
      await put(line);
    }
    if (level >= 3) {
      const round = level - 3;
      await put(`{"L":"1","S":1,"H":${level - 1},"N":${n},"R":${round},"T":${t},"E":"E"}`);
      await put(`{"L":"1","S":1,"N":${n},"T":${t},"E":"F"}`);
      for (let c = 0; c < n; c++) await put(`{"L":"1","S":3,"N":0,"C":${c},"H":${round},"T":${t},"E":"Z"}`);
    }
  }
  for (let s = 0; s < 6; s++) await put(`{"L":"1","S":${s},"T":${t + 100},"E":"B"}`);
  out.write(chunk.length ? `${chunk.join('\n')}\n` : '');
  out.end();
  await once(out, 'finish');
  return bytes;
}

/** A logs folder as deploy logs leaves it for an N-node gomel run that reached consensus. */
async function makeRun(repo: string, dir: string, n: number, pattern: readonly string[]): Promise<number> {
  const configs = path.join(dir, 'configs');
  const keys = path.join(dir, 'keys');
  const logs = path.join(dir, 'logs');
  await fs.mkdir(configs, { recursive: true });
  await fs.copyFile(path.join(repo, 'configs/config.json'), path.join(configs, 'config.json'));
  await keysGen({ n, dir: keys, hostPrefix: 'node', config: 'config', configs }, captureOutput());
  await fs.mkdir(logs);
  await fs.copyFile(path.join(keys, 'committee.ka'), path.join(logs, 'committee.ka'));
  const conf = JSON.parse(await fs.readFile(path.join(configs, 'config.json'), 'utf8')) as { LevelLimit: number };
  await fs.writeFile(path.join(logs, 'conf.json'), JSON.stringify({ ...conf, LevelLimit: LEVEL_LIMIT }));
  let bytes = 0;
  const start = 1795950727;
  for (let pid = 0; pid < n; pid++) {
    const node = path.join(logs, `node${pid + 1}`);
    await fs.mkdir(node);
    bytes += await writeNodeLog(path.join(node, `${pid}.config.log`), pid, n, pattern);
    await fs.writeFile(path.join(node, 'exit_status'), '0\n');
    await fs.writeFile(path.join(node, 'stderr.txt'), '');
    await fs.writeFile(path.join(node, 'started_at'), `${(start + pid / n).toFixed(6)}\n`);
    await fs.writeFile(path.join(node, 'task.json'), '{"state":"complete","exitCode":0,"swarmNode":"bench"}\n');
    await fs.writeFile(path.join(logs, `node${pid + 1}.log`), '');
  }
  return bytes;
}

export async function benchJudge(repo: string, work: string, n: number, keep = false): Promise<JudgeFigures> {
  const dir = path.join(work, `judge-${n}`);
  const started = performance.now();
  const bytes = await makeRun(repo, dir, n, await patternLines(repo));
  const makeMs = performance.now() - started;
  const logs = path.join(dir, 'logs');
  const verdict = await gomelctl(repo, ['verdict', '--logs', logs]);
  const report = await gomelctl(repo, ['report', '--logs', logs, '--out', path.join(dir, 'report.html')]);
  if (!keep) await fs.rm(dir, { recursive: true, force: true });
  return { n, logMb: bytes / 1e6, makeMs, verdict, report };
}
