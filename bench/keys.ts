// Keys benchmarks (issue 14): `keys gen` at N = 100, 1000 and 65535 and `keys verify`
// at N = 1000, each a fresh process as a user runs it, with its wall time, CPU time
// and peak memory. With GOMEL_KEYS_BIN set to a gomel-keys binary, that binary
// writes the same N in the same run, alternating with gomelctl (the disk's state
// sways both alike), and the ratio is printed.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Timing {
  wallMs: number;
  /** Fastest and slowest wall time of the runs, where there were several. */
  wallRangeMs?: [number, number];
  cpuMs: number;
  peakRssMb?: number;
}

export interface KeysGenFigures {
  n: number;
  runs: number;
  gomelctl: Timing;
  gomelKeys?: Timing;
  /** gomelctl's wall time over gomel-keys' (median over median). */
  ratio?: number;
  /** What gomel-keys printed when it wrote no committee (it exits 0 on errors). */
  gomelKeysFailure?: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const medianTiming = (ts: Timing[]): Timing => ({
  wallMs: median(ts.map((t) => t.wallMs)),
  ...(ts.length > 1
    ? { wallRangeMs: [Math.min(...ts.map((t) => t.wallMs)), Math.max(...ts.map((t) => t.wallMs))] as [number, number] }
    : {}),
  cpuMs: median(ts.map((t) => t.cpuMs)),
  ...(ts[0]!.peakRssMb !== undefined ? { peakRssMb: Math.max(...ts.map((t) => t.peakRssMb!)) } : {}),
});

/** One gomelctl command line in a fresh process (bench/cli-child.ts), which exits `expectedCode`. */
export async function gomelctl(repo: string, args: string[], expectedCode = 0): Promise<Timing> {
  await run('sync'); // what earlier runs left unwritten is not this run's cost
  const start = performance.now();
  const { stdout } = await run(process.execPath, [path.join(repo, 'dist/bench/cli-child.js'), ...args], {
    maxBuffer: 1 << 20,
  });
  const wallMs = performance.now() - start;
  const child = JSON.parse(stdout) as { code: number; cpuMs: number; maxRssKb: number };
  if (child.code !== expectedCode) throw new Error(`gomelctl ${args.join(' ')} exited ${child.code}`);
  return { wallMs, cpuMs: child.cpuMs, peakRssMb: Math.round(child.maxRssKb / 1024) };
}

/** gomel-keys N in a fresh folder; its CPU time from the shell's `times`. */
async function gomelKeys(bin: string, n: number, dir: string): Promise<Timing | string> {
  await fs.mkdir(dir, { recursive: true });
  await run('sync');
  const start = performance.now();
  const { stdout, stderr } = await run('bash', [
    '-c',
    'cd "$1" && "$2" "$3" >/dev/null && times',
    'bench',
    dir,
    bin,
    String(n),
  ]);
  const wallMs = performance.now() - start;
  // gomel-keys keeps every file it writes open: past the open-files limit it prints an error and exits 0.
  if (!(await fs.stat(path.join(dir, 'committee.ka')).catch(() => undefined)))
    return stderr.trim().split('\n')[0] || 'wrote no committee.ka';
  // `times`: the shell's user and system time, then its children's: "0m0.390s 0m0.040s".
  const seconds = [...(stdout.trim().split('\n')[1] ?? '').matchAll(/(\d+)m([\d.]+)s/g)].map(
    (m) => Number(m[1]) * 60 + Number(m[2]),
  );
  return { wallMs, cpuMs: 1000 * (seconds[0]! + seconds[1]!) };
}

export async function benchKeysGen(
  repo: string,
  work: string,
  n: number,
  runs: number,
  gomelKeysBin: string | undefined,
): Promise<KeysGenFigures> {
  const ours: Timing[] = [];
  const theirs: Timing[] = [];
  let gomelKeysFailure: string | undefined;
  for (let i = 0; i < runs; i++) {
    ours.push(
      await gomelctl(repo, [
        'keys',
        'gen',
        '--n',
        String(n),
        '--keys',
        path.join(work, `gen-${n}-${i}`),
        '--configs',
        path.join(work, 'no-configs'),
        '--seed',
        '11'.repeat(32),
      ]),
    );
    const theirRun =
      gomelKeysBin && !gomelKeysFailure
        ? await gomelKeys(gomelKeysBin, n, path.join(work, `gomel-keys-${n}-${i}`))
        : undefined;
    if (typeof theirRun === 'string') gomelKeysFailure = theirRun;
    else if (theirRun) theirs.push(theirRun);
  }
  const gomelctlTiming = medianTiming(ours);
  if (gomelKeysFailure) return { n, runs, gomelctl: gomelctlTiming, gomelKeysFailure };
  if (!theirs.length) return { n, runs, gomelctl: gomelctlTiming };
  const gomelKeysTiming = medianTiming(theirs);
  return {
    n,
    runs,
    gomelctl: gomelctlTiming,
    gomelKeys: gomelKeysTiming,
    ratio: gomelctlTiming.wallMs / gomelKeysTiming.wallMs,
  };
}

/** keys verify of the N-node folder the first keys gen run wrote. */
export async function benchKeysVerify(
  repo: string,
  work: string,
  n: number,
  runs: number,
): Promise<Timing & { n: number }> {
  const timings: Timing[] = [];
  for (let i = 0; i < runs; i++)
    timings.push(await gomelctl(repo, ['keys', 'verify', '--keys', path.join(work, `gen-${n}-0`)]));
  return { n, ...medianTiming(timings) };
}
