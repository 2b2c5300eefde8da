// `npm run bench`: measured speed of keys, rebuilds and spawns, side by side with
// the original scripts' way, on the same engine. Figures and ratios, no assertions.
// Needs the engine and registry of docker/setup.sh (not `keys` nor `judge`). Writes bench/results.json.
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { benchKeysGen, benchKeysVerify, type KeysGenFigures } from './keys.js';
import { benchJudge, type JudgeFigures } from './judge.js';
import { benchExperiment } from './experiment.js';
import { benchHostile } from './hostile.js';
import { benchUp, type UpFigures } from './up.js';
import { imageRebuild, assembleContext } from '../src/commands/image.js';
import { keysGen } from '../src/commands/keys.js';
import { configSync } from '../src/commands/config.js';
import { clusterInit } from '../src/commands/cluster.js';
import { deployClean } from '../src/commands/deploy-clean.js';
import { deploySpawn } from '../src/commands/deploy-spawn.js';
import { captureOutput } from '../src/commands/output.js';
import { readTar } from '../src/docker/build-context.js';
import { Engine } from '../src/docker/engine.js';
import { deleteTag, parseImageRef } from '../src/docker/registry.js';

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const REGISTRY = '127.0.0.1:5000';
const quiet = captureOutput;
const engine = new Engine();
const id = randomBytes(3).toString('hex');
const work = await fs.mkdtemp(path.join(os.tmpdir(), 'gomelctl-bench-'));
const seconds = (ms: number) => Math.round(ms) / 1000;
async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const value = await fn();
  return [performance.now() - start, value];
}
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

// ---- 1. keys gen and keys verify: bench/keys.ts
// ---- 2. image rebuild
async function benchImage() {
  const root = path.join(work, 'image');
  const keys = path.join(root, 'keys');
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs, { recursive: true });
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
  await keysGen({ n: 8, dir: keys, hostPrefix: 'node', config: 'config', configs }, quiet());
  const tag = `${REGISTRY}/gomelctl-bench-${id}:t`;
  const options = { keys, configs, registry: REGISTRY, tag };
  const [coldMs, cold] = await timed(() => imageRebuild({ ...options, force: true }, quiet()));
  const [unchangedMs, unchanged] = await timed(() => imageRebuild(options, quiet()));
  await keysGen({ n: 9, dir: keys, hostPrefix: 'node', config: 'config', configs }, quiet());
  const [resizedMs, resized] = await timed(() => imageRebuild(options, quiet()));

  // The same context built without cache, through the API and through the CLI from disk.
  const { tar } = await assembleContext(options);
  const [apiBuildMs] = await timed(() => engine.build(tar, { tag: `${tag}-api`, noCache: true }, () => {}));
  const dir = path.join(root, 'context');
  for (const entry of await readTar(tar)) {
    await fs.mkdir(path.dirname(path.join(dir, entry.name)), { recursive: true });
    await fs.writeFile(path.join(dir, entry.name), entry.content, { mode: entry.mode });
  }
  const [cliBuildMs] = await timed(() =>
    run('docker', ['build', '--no-cache', '-q', '-t', `${tag}-cli`, dir], {
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    }),
  );
  for (const t of [tag, `${tag}-api`, `${tag}-cli`]) await engine.removeImage(t);
  const ref = parseImageRef(tag);
  await deleteTag(REGISTRY, ref.repository, ref.tag);
  return {
    coldMs,
    coldPushedLayers: cold.push?.pushed,
    unchangedMs,
    unchangedSkipped: !unchanged.built,
    resizedMs,
    resizedCachedSteps: resized.build?.cachedSteps,
    resizedPushedLayers: resized.push?.pushed,
    resizedOverCold: resizedMs / coldMs,
    apiBuildMs,
    cliBuildMs,
    apiOverCli: apiBuildMs / cliBuildMs,
  };
}

// ---- 3. deploy spawn of 32 probe nodes vs spawn.sh's way (parallel `docker service create`, then polling)
async function waitCliRunning(names: string[]): Promise<void> {
  for (;;) {
    const { stdout } = await run('docker', ['service', 'ps', '--format', '{{.CurrentState}}', ...names]);
    const states = stdout.trim().split('\n');
    // A task that started and already exited has run too (these probes get no key secret, so they fail).
    if (states.length >= names.length && states.every((s) => /^(Running|Complete|Failed)/.test(s))) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function benchSpawn(n: number) {
  const root = path.join(work, 'spawn');
  const keys = path.join(root, 'keys');
  const configs = path.join(root, 'configs');
  await fs.mkdir(configs, { recursive: true });
  await fs.copyFile(path.join(REPO, 'configs/config.json'), path.join(configs, 'config.json'));
  const prefix = `b${id}n`;
  const network = `gomelctl-bench-${id}`;
  await keysGen({ n, dir: keys, hostPrefix: prefix, config: 'config', configs }, quiet());
  await configSync({ keys, configs }, [], quiet());
  await clusterInit({ network, registry: REGISTRY }, quiet());
  const tag = `${REGISTRY}/gomelctl-bench-spawn-${id}:t`;
  const image = await imageRebuild({ keys, configs, registry: REGISTRY, tag }, quiet());
  const [spawnMs] = await timed(() =>
    deploySpawn(
      {
        keys,
        configs,
        config: 'config',
        image: tag,
        registry: REGISTRY,
        network,
        constraint: [],
        capAdd: [],
        netImpl: 'auto',
        parallel: 8,
        timeout: 300,
        settle: 0,
      },
      quiet(),
    ),
  );
  const [cleanMs] = await timed(() => deployClean({ network }, quiet()));

  const names = Array.from({ length: n }, (_, i) => `c${id}n${i + 1}`);
  const create = (name: string, k: number) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(
        'docker',
        [
          'service',
          'create',
          '--detach',
          '--quiet',
          '--name',
          name,
          '--hostname',
          name,
          '--network',
          network,
          '--restart-condition',
          'none',
          '--endpoint-mode',
          'dnsrr',
          '--env',
          `SLOT=${k}`,
          image.pinned,
          '/gomel/run.sh',
          'config',
        ],
        { stdio: 'ignore' },
      );
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`docker service create ${name} exited ${code}`)),
      );
    });
  const [cliMs] = await timed(async () => {
    await Promise.all(names.map((name, i) => create(name, i + 1)));
    await waitCliRunning(names);
  });
  await run('docker', ['service', 'rm', ...names]);
  await new Promise((r) => setTimeout(r, 3000));
  await engine.removeNetwork(network).catch(() => undefined);
  await engine.removeImage(tag);
  const ref = parseImageRef(tag);
  await deleteTag(REGISTRY, ref.repository, ref.tag);
  return { n, spawnMs, cliLoopMs: cliMs, spawnOverCli: spawnMs / cliMs, cleanMs };
}

// ---- 4. the whole default job at growing N, and real gomel's overhead: bench/up.ts
// ---- 5. logs of 16 nodes over 3 lab hosts (docker/lab.sh): each node logs 6 MB (~1.4 MB shipped), and
// `deploy logs` brings them home from the workers through the service log stream.
async function benchLabLogs(n: number) {
  const lab = `gb${id.slice(0, 4)}`;
  const net = `172.31.${200 + (parseInt(id.slice(0, 2), 16) % 50)}`;
  const env = { ...process.env, GOMELCTL_LAB: lab, GOMELCTL_LAB_NET: net };
  const labScript = path.join(REPO, 'docker/lab.sh');
  await run('bash', [labScript, 'up', '3'], { env });
  try {
    const root = path.join(work, 'lab');
    const configs = path.join(root, 'configs');
    await fs.mkdir(configs, { recursive: true });
    const config = await fs.readFile(path.join(REPO, 'configs/config.json'));
    await fs.writeFile(path.join(configs, 'config.json'), config);
    await fs.writeFile(path.join(configs, 'volume.json'), config);
    const cliEnv = { ...env, DOCKER_HOST: `unix:///run/gomelctl-lab-${lab}/h1.sock` };
    const gomelctl = (args: string[]) =>
      run(process.execPath, [path.join(REPO, 'bin/gomelctl'), ...args], { env: cliEnv, cwd: root, maxBuffer: 1 << 28 });
    const flags = ['--keys', 'keys', '--configs', 'configs', '--registry', `${net}.1:5000`, '--network', 'benchnet'];
    await gomelctl([
      'up',
      '--n',
      String(n),
      '--binary',
      path.join(REPO, 'test/fixtures/fake-gomel.sh'),
      '--config',
      'volume',
      '--spread',
      '--logs',
      'run',
      '--timeout',
      '300',
      ...flags,
    ]);
    const [ms] = await timed(() =>
      gomelctl(['deploy', 'logs', '--network', 'benchnet', '--out', 'again', '--keys', 'keys', '--configs', 'configs']),
    );
    let bytes = 0;
    for (let k = 1; k <= n; k++)
      bytes += (await fs.stat(path.join(root, 'again', `node${k}`, `${k - 1}.volume.log`))).size;
    const { stdout } = await gomelctl(['deploy', 'status', '--network', 'benchnet', '--json']);
    const remote = (JSON.parse(stdout) as { swarmNode?: string }[]).filter((x) => x.swarmNode !== `${lab}-h1`).length;
    return { n, hosts: 3, remote, ms, mb: bytes / 1e6, mbPerS: bytes / 1e6 / (ms / 1000) };
  } finally {
    await run('bash', [labScript, 'down'], { env });
  }
}

// `npm run bench -- keys` runs only the keys part (it needs no engine); no argument runs all.
const parts = process.argv.slice(2);
const wanted = (part: 'keys' | 'image' | 'spawn' | 'up' | 'logs' | 'judge' | 'experiment' | 'hostile') =>
  parts.length === 0 || parts.includes(part);
const gomelKeysBin = process.env.GOMEL_KEYS_BIN;
// The committee sizes of the judge part: BENCH_JUDGE_N=64,128 for fewer (256 nodes write 1.6 GB of stand-in log).
const judgeSizes = (process.env.BENCH_JUDGE_N ?? '64,128,256').split(',').map(Number);
// The committee sizes of the up part: the probe at each (BENCH_UP_N), and with GOMEL_BIN real gomel at
// BENCH_UP_GOMEL_N (issue 32's overhead goals are at 32 and 64).
const upSizes = (process.env.BENCH_UP_N ?? '32,64,128,256').split(',').filter(Boolean).map(Number);
const gomelBin = process.env.GOMEL_BIN;
const upGomelSizes = gomelBin ? (process.env.BENCH_UP_GOMEL_N ?? '32,64').split(',').filter(Boolean).map(Number) : [];
const dockerVersion =
  parts.length > 0 && parts.every((p) => p === 'keys' || p === 'judge' || p === 'experiment' || p === 'hostile')
    ? '(not used)'
    : (await run('docker', ['version', '--format', '{{.Server.Version}}'])).stdout.trim();
const machine = {
  cpus: os.cpus().length,
  cpu: os.cpus()[0]?.model,
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  docker: dockerVersion,
  kernel: os.release(),
};

const keys: KeysGenFigures[] = [];
let verify: Awaited<ReturnType<typeof benchKeysVerify>> | undefined;
if (wanted('keys')) {
  const keysWork = path.join(work, 'keys');
  for (const [n, runs] of [
    [100, 5],
    [1000, 7],
    [65535, 1],
  ] as const) {
    log(
      `keys gen N=${n}${gomelKeysBin ? `, alternating with ${gomelKeysBin}` : ''} (${runs} run${runs > 1 ? 's' : ''} each)`,
    );
    keys.push(await benchKeysGen(REPO, keysWork, n, runs, gomelKeysBin));
  }
  log('keys verify N=1000');
  verify = await benchKeysVerify(REPO, keysWork, 1000, 5);
}
if (wanted('image')) log('image rebuild');
const image = wanted('image') ? await benchImage() : undefined;
if (wanted('spawn')) log('deploy spawn of 32 nodes');
const spawnResult = wanted('spawn') ? await benchSpawn(32) : undefined;
const up: UpFigures[] = [];
if (wanted('up'))
  for (const [n, bin] of [
    ...upSizes.map((n) => [n, undefined] as const),
    ...upGomelSizes.map((n) => [n, gomelBin] as const),
  ]) {
    log(`up --n ${n} with ${bin ? `real gomel (${bin})` : 'the probe'}`);
    const tag = `${REGISTRY}/gomelctl-bench-up-${id}:${bin ? 'gomel' : 'probe'}${n}`;
    up.push(await benchUp(REPO, work, n, tag, bin));
    const ref = parseImageRef(tag);
    await deleteTag(REGISTRY, ref.repository, ref.tag).catch(() => undefined);
    await engine.removeImage(tag).catch(() => undefined);
  }
if (wanted('logs')) log('deploy logs of 16 nodes over 3 lab hosts, 6 MB of log each');
const labLogs = wanted('logs') ? await benchLabLogs(16) : undefined;
const judge: JudgeFigures[] = [];
/** The run of half the size just before the i-th, when there is one: its figures are what a doubling of N multiplies. */
const judgeBefore = (i: number) => (judge[i - 1]?.n === judge[i]!.n / 2 ? judge[i - 1] : undefined);
if (wanted('judge'))
  for (const n of judgeSizes) {
    log(`verdict and report on stand-in logs of a ${n}-node gomel run`);
    judge.push(await benchJudge(REPO, work, n));
  }
if (wanted('experiment')) log("experiment run's own cost per run, 8 runs of a 16-node run's logs");
const experiment = wanted('experiment') ? await benchExperiment(REPO, work) : undefined;
if (wanted('hostile'))
  log("the hostile passes' inputs, bounded: a 1 M-value experiment, 256 MiB of newlines, a 48 MB frame");
const hostile = wanted('hostile') ? await benchHostile(REPO, work) : undefined;
await fs.rm(work, { recursive: true, force: true });

const results = {
  date: new Date().toISOString(),
  machine,
  keys,
  verify,
  image,
  spawn: spawnResult,
  up,
  labLogs,
  judge,
  experiment,
  hostile,
};
await fs.writeFile(
  path.join(REPO, `bench/results${parts.length ? `-${parts.join('-')}` : ''}.json`),
  `${JSON.stringify(results, null, 2)}\n`,
);

const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
const timing = (t: { wallMs: number; wallRangeMs?: [number, number]; cpuMs: number; peakRssMb?: number }) =>
  `${seconds(t.wallMs)} s wall${t.wallRangeMs ? ` (${seconds(t.wallRangeMs[0])}–${seconds(t.wallRangeMs[1])})` : ''}, ${seconds(t.cpuMs)} s CPU${t.peakRssMb !== undefined ? `, peak ${t.peakRssMb} MB` : ''}`;
const rows: [string, string, string][] = [
  ...keys.map((k): [string, string, string] => [
    `keys gen N=${k.n} (median of ${k.runs})`,
    timing(k.gomelctl),
    k.gomelKeys
      ? `gomel-keys ${timing(k.gomelKeys)}; ${k.ratio!.toFixed(2)}× its wall time`
      : k.gomelKeysFailure
        ? `gomel-keys failed: ${k.gomelKeysFailure}`
        : 'set GOMEL_KEYS_BIN to compare with gomel-keys',
  ]),
  ...(verify ? [[`keys verify N=${verify.n} (median of 5)`, timing(verify), ''] as [string, string, string]] : []),
  ...(image
    ? ([
        ['image rebuild, cold (no cache)', `${seconds(image.coldMs)} s`, `${image.coldPushedLayers} layer(s) pushed`],
        [
          'image rebuild, unchanged',
          `${seconds(image.unchangedMs)} s`,
          image.unchangedSkipped ? 'skipped (same context hash)' : 'rebuilt',
        ],
        [
          'image rebuild, after resize',
          `${seconds(image.resizedMs)} s`,
          `${image.resizedCachedSteps} steps cached, ${image.resizedPushedLayers} layer(s) pushed; ${image.resizedOverCold.toFixed(2)}× cold`,
        ],
        [
          'build only: API (in-memory) vs docker build',
          `${seconds(image.apiBuildMs)} s vs ${seconds(image.cliBuildMs)} s`,
          `${image.apiOverCli.toFixed(2)}×`,
        ],
      ] as [string, string, string][])
    : []),
  ...(spawnResult
    ? ([
        [
          `deploy spawn N=${spawnResult.n} until running`,
          `${seconds(spawnResult.spawnMs)} s vs CLI loop ${seconds(spawnResult.cliLoopMs)} s`,
          `${spawnResult.spawnOverCli.toFixed(2)}×`,
        ],
        ['deploy clean', `${seconds(spawnResult.cleanMs)} s`, ''],
      ] as [string, string, string][])
    : []),
  ...(labLogs
    ? [
        [
          `deploy logs, N=${labLogs.n} over ${labLogs.hosts} lab hosts (${labLogs.remote} on workers)`,
          `${seconds(labLogs.ms)} s for ${labLogs.mb.toFixed(1)} MB of gomel-shaped log`,
          `${labLogs.mbPerS.toFixed(1)} MB/s`,
        ] as [string, string, string],
      ]
    : []),
  ...judge.flatMap((j, i): [string, string, string][] => {
    const before = judgeBefore(i);
    return (['verdict', 'report'] as const).map((what): [string, string, string] => {
      const t = j[what];
      const growth = before
        ? `; per doubling of N: log ×${(j.logMb / before.logMb).toFixed(2)}, wall ×${(t.wallMs / before[what].wallMs).toFixed(2)}, CPU ×${(t.cpuMs / before[what].cpuMs).toFixed(2)}, peak ×${(t.peakRssMb! / before[what].peakRssMb!).toFixed(2)}`
        : '';
      return [
        `${what}, N=${j.n} (${Math.round(j.logMb)} MB of stand-in gomel log)`,
        timing(t),
        `${Math.round(t.wallMs / j.logMb)} ms per MB${growth}`,
      ];
    });
  }),
  ...(experiment
    ? [
        [
          `experiment run, its own cost per run (N=${experiment.n}, ${experiment.runs} runs, up stood in)`,
          `${seconds(experiment.perRunMs)} s a run`,
          `whole ${seconds(experiment.totalMs)} s: the stand-in's copies ${seconds(experiment.standInMs)} s, the page ${seconds(experiment.pageMs)} s`,
        ] as [string, string, string],
      ]
    : []),
  ...(hostile
    ? ([
        [
          'experiment plan of a 2 MB file, a list of 1 M values (N6)',
          timing(hostile.experiment),
          'refused by its size (256 KiB), exit 2; was 1 GB, 5 s',
        ],
        [
          'verdict, lab16 with one log a 260 KB gzip of 256 MiB of newlines (N8)',
          timing(hostile.verdict),
          'that log refused at 11,184,810 lines; was 9.9 s',
        ],
        ['report of the same (N8)', timing(hostile.report), 'was 27.4 s'],
        [
          `deploy logs' read of one ${hostile.frame.mb} MB frame (N9)`,
          `${seconds(hostile.frame.wallMs)} s (Engine.serviceLogs, a stand-in engine on a unix socket)`,
          'deploy logs took 14.9 s',
        ],
      ] as [string, string, string][])
    : []),
  ...up.map((u, i): [string, string, string] => {
    const before = up[i - 1]?.n === u.n / 2 && up[i - 1]!.payload === u.payload ? up[i - 1] : undefined;
    const phases = Object.entries(u.phases)
      .filter(([, v]) => v >= 0.5)
      .map(([k, v]) => `${k} ${v} s`)
      .join(', ');
    return [
      `up --n ${u.n}, ${u.payload === 'probe' ? 'the probe' : 'real gomel'}${u.code ? ` (exit ${u.code})` : ''}`,
      `${timing(u)} (gomelctl's process); overhead ${u.overheadS} s; start skew ${u.skewMs === undefined ? '?' : `${seconds(u.skewMs)} s`}`,
      `${phases}${before ? `; per doubling of N: wall ×${(u.wallMs / before.wallMs).toFixed(2)}, overhead ×${(u.overheadS / before.overheadS).toFixed(2)}, peak ×${(u.peakRssMb / before.peakRssMb).toFixed(2)}` : ''}`,
    ];
  }),
];
console.log(
  `machine: ${machine.cpus} × ${machine.cpu}, ${machine.memoryGb} GiB, Node ${machine.node}, Docker ${machine.docker}`,
);
console.log('| what | figure | ratio / note |\n|---|---|---|');
for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
console.log('\ntargets:');
const k1000 = keys.find((k) => k.n === 1000);
const k65535 = keys.find((k) => k.n === 65535);
if (k1000?.ratio !== undefined)
  console.log(
    `  keys gen N=1000 ≤ 1.0× gomel-keys' wall time: ${k1000.ratio.toFixed(2)}× — ${verdict(k1000.ratio <= 1)}`,
  );
if (k1000)
  console.log(
    `  keys gen N=1000 peak memory ≤ 150 MB: ${k1000.gomelctl.peakRssMb} MB — ${verdict(k1000.gomelctl.peakRssMb! <= 150)}`,
  );
if (k65535)
  console.log(
    `  keys gen N=65535 ≤ 30 s: ${seconds(k65535.gomelctl.wallMs)} s — ${verdict(k65535.gomelctl.wallMs <= 30_000)}`,
  );
if (verify) console.log(`  keys verify N=1000 ≤ 1 s: ${seconds(verify.wallMs)} s — ${verdict(verify.wallMs <= 1000)}`);
if (spawnResult)
  console.log(
    `  spawn 32 ≤ 0.5× CLI loop: ${spawnResult.spawnOverCli.toFixed(2)}× — ${verdict(spawnResult.spawnOverCli <= 0.5)}`,
  );
if (labLogs)
  console.log(
    `  logs of ${labLogs.n} nodes over 3 hosts in seconds (≤ 30 s): ${seconds(labLogs.ms)} s — ${verdict(labLogs.ms <= 30_000)}`,
  );
// Linear at most in what they read: per doubling of N, no more than the logs grow (×4), give or take a tenth.
for (const [i, j] of judge.entries()) {
  const before = judgeBefore(i);
  if (!before) continue;
  for (const what of ['verdict', 'report'] as const) {
    const ratio = j[what].cpuMs / before[what].cpuMs / (j.logMb / before.logMb);
    console.log(
      `  ${what} CPU linear in the logs from N=${before.n} to ${j.n} (≤ 1.1× their growth): ${ratio.toFixed(2)}× — ${verdict(ratio <= 1.1)}`,
    );
  }
}
if (experiment)
  console.log(
    `  experiment's own cost per run ≤ 2 s: ${seconds(experiment.perRunMs)} s — ${verdict(experiment.perRunMs <= 2000)}`,
  );
for (const u of up) {
  const name = `up --n ${u.n} (${u.payload})`;
  console.log(`  ${name} exits 0: ${u.code} — ${verdict(u.code === 0)}`);
  if (u.skewMs !== undefined && u.n <= 128)
    console.log(`  ${name} start skew ≤ 1 s: ${seconds(u.skewMs)} s — ${verdict(u.skewMs <= 1000)}`);
  // Issue 32: everything but gomel's own run ≤ 15 s at 32 real nodes, ≤ 30 s at 64.
  const goal = u.payload === 'gomel' ? ({ 32: 15, 64: 30 } as Record<number, number>)[u.n] : undefined;
  if (goal !== undefined)
    console.log(`  ${name} overhead ≤ ${goal} s: ${u.overheadS} s — ${verdict(u.overheadS <= goal)}`);
}
if (image)
  console.log(
    `  rebuild after resize ≤ 0.3× cold: ${image.resizedOverCold.toFixed(2)}× — ${verdict(image.resizedOverCold <= 0.3)}`,
  );
