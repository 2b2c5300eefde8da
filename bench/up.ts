// `npm run bench -- up`: the whole default job (`gomelctl up`) at growing N, as a user runs it, in a
// fresh process (bench/cli-child.ts): its wall time, where it went (up's own `up: time:` line), the
// start skew the nodes recorded (started_at), and gomelctl's own CPU time and peak memory. With the
// probe payload by default; with GOMEL_BIN pointing at a gomel binary (built from consensus-go,
// outside the repo), also real gomel (`up --binary`), whose overhead is what issue 32's goals bound:
// everything but gomel's own run (the `run` phase: first node's start to last node's exit).
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface UpFigures {
  n: number;
  payload: 'probe' | 'gomel';
  code: number;
  wallMs: number;
  cpuMs: number;
  peakRssMb: number;
  /** up's phases in seconds, as its `up: time:` line gives them. */
  phases: Record<string, number>;
  /** The wall time but the run phase: what gomelctl itself costs the user (s), its process's start included. */
  overheadS: number;
  skewMs: number | undefined;
  /** up's headline (the verdict and the run's figures), and for a failed run its error line. */
  headline: string;
  error?: string;
}

/** "up: time: keys 0.3 s, config 0.0 s, …, run 293.5 s" → { keys: 0.3, …, run: 293.5 }. */
export function parsePhases(line: string): Record<string, number> {
  const phases: Record<string, number> = {};
  for (const m of line.replace(/^up: time: /, '').matchAll(/([a-z][a-z ]*?) (\d+(?:\.\d+)?) s/g))
    phases[m[1]!.trim()] = Number(m[2]);
  return phases;
}

/** `gomelctl up --n n` in a fresh folder on a network of its own; then `down` of what it made. */
export async function benchUp(
  repo: string,
  work: string,
  n: number,
  tag: string,
  gomelBin?: string,
): Promise<UpFigures> {
  const root = path.join(work, `up-${gomelBin ? 'gomel' : 'probe'}-${n}`);
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs, { recursive: true });
  await fs.copyFile(path.join(repo, 'configs/config.json'), path.join(configs, 'config.json'));
  const network = `gomelctl-bench-up-${path.basename(work).slice(-6)}-${n}`;
  const common = ['--keys', path.join(root, 'keys'), '--configs', configs, '--network', network];
  const start = performance.now();
  const { stdout } = await run(
    process.execPath,
    [
      path.join(repo, 'dist/bench/cli-child.js'),
      'up',
      '--n',
      String(n),
      ...common,
      '--logs',
      path.join(root, 'logs'),
      '--tag',
      tag,
      '--timeout',
      '1800',
      ...(gomelBin ? ['--binary', gomelBin] : []),
    ],
    { maxBuffer: 1 << 26 },
  );
  const wallMs = performance.now() - start;
  const child = JSON.parse(stdout) as {
    code: number;
    cpuMs: number;
    maxRssKb: number;
    lines: string[];
    warnings: string[];
  };
  await run(process.execPath, [path.join(repo, 'bin/gomelctl'), 'down', '--network', network]).catch(() => undefined);
  // The network up's cluster step made for this run goes too (down keeps networks: a user's may be shared);
  // its endpoints leave as the containers go, so it is asked a few times.
  for (let i = 0; i < 30; i++) {
    if (
      await run('docker', ['network', 'rm', network]).then(
        () => true,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  const phases = parsePhases(child.lines.find((l) => l.startsWith('up: time: ')) ?? '');
  const starts = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      fs
        .readFile(path.join(root, 'logs', `node${i + 1}`, 'started_at'), 'utf8')
        .then((t) => Number(t.trim()))
        .catch(() => NaN),
    ),
  );
  const known = starts.filter((s) => Number.isFinite(s));
  return {
    n,
    payload: gomelBin ? 'gomel' : 'probe',
    code: child.code,
    wallMs,
    cpuMs: child.cpuMs,
    peakRssMb: Math.round(child.maxRssKb / 1024),
    phases,
    overheadS: Math.round((wallMs / 1000 - (phases.run ?? 0)) * 10) / 10,
    skewMs: known.length === n ? (Math.max(...known) - Math.min(...known)) * 1000 : undefined,
    headline: child.lines.find((l) => / — \d+ units in |^probe: /.test(l)) ?? '',
    ...(child.code ? { error: child.warnings.at(-1) } : {}),
  };
}
