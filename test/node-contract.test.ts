// The node contract (src/core/deploy/node-contract.ts) is written twice: in
// TypeScript and in the shell the nodes run. These tests read the templates and
// fail when a copy drifts: a renamed file, port, variable, line prefix or exit
// code, or a start margin computed differently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CONTROL_SECRET_FILE,
  EXIT_NETWORK_NOT_APPLIED,
  KEY_SECRET_FILE,
  NODE_ENV,
  NODE_FILES,
  NODE_LINES,
  NODE_PORTS,
  settleSeconds,
  silentCandidateQuestions,
  startMarginSeconds,
} from '../src/core/deploy/node-contract.js';
import { LABELS } from '../src/core/labels.js';
import { parseCpuUsage } from '../src/core/logs/host-load.js';
import { parseWallClock } from '../src/core/deploy/node-contract.js';
import { REPO, tempDir } from './helpers.js';

const read = (file: string) => readFileSync(path.join(REPO, file), 'utf8');
const nodeLib = read('templates/node-lib.sh');
const faults = read('templates/faults.sh');
const gomelRun = read('templates/gomel/run.sh');
const probeRun = read('templates/probe/run.sh');
const shell = [nodeLib, faults, gomelRun, probeRun].join('\n');

test('every environment variable of the contract is read by the node scripts', () => {
  for (const name of Object.values(NODE_ENV))
    assert.match(shell, new RegExp(`\\$\\{?${name}\\b`), `${name} is not read by any template`);
});

test('the ports default to the contract values', () => {
  assert.ok(nodeLib.includes(`\${${NODE_ENV.readyPort}:-${NODE_PORTS.ready}}`), 'node-lib.sh ready port');
  assert.ok(gomelRun.includes(`\${${NODE_ENV.controlPort}:-${NODE_PORTS.control}}`), 'run.sh control port');
});

test('every file of the contract is named in the node scripts, outside comments', () => {
  const code = shell
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');
  for (const name of Object.values(NODE_FILES)) {
    assert.match(
      code,
      new RegExp(`[/"' >]${name.replace('.', '\\.')}(?=["'\\s;)]|$)`, 'm'),
      `no template writes ${name}`,
    );
  }
});

test('the printed line prefixes are the ones the nodes print', () => {
  assert.match(nodeLib, new RegExp(`echo "${NODE_LINES.ship} \\$token file`));
  assert.match(nodeLib, new RegExp(`echo "${NODE_LINES.progress} \\$\\(wall_clock\\)`));
  assert.match(probeRun, new RegExp(`echo "${NODE_LINES.probeProgress} start 0 0 \\$total"`));
  // The probe's other phases, from gomel-probe.
  assert.ok(read('probe/main.go').includes(`progressPrefix = "${NODE_LINES.probeProgress}"`));
});

test('a node whose network conditions fail exits with the contract code', () => {
  const body =
    /apply_network\(\) \{([\s\S]*?)\n\}/.exec(nodeLib)?.[1] ?? /\n([^\n]*network_error[\s\S]*?)\n\}/.exec(nodeLib)?.[1];
  assert.ok(body, 'the network function of node-lib.sh');
  assert.match(body, new RegExp(`\\bexit ${EXIT_NETWORK_NOT_APPLIED}\\b`));
});

test("run.sh reads the key, and faults.sh the control token, from the secrets' file names", () => {
  assert.ok(gomelRun.includes(`/run/secrets/${KEY_SECRET_FILE}`));
  assert.ok(faults.includes(`/run/secrets/${CONTROL_SECRET_FILE}`));
});

test("node-lib.sh's start margin is startMarginSeconds(N), computed by the shell itself", () => {
  const formula = /margin="\$\{GOMEL_START_MARGIN:-\$\(\((.*?)\)\)\}"/.exec(nodeLib)?.[1];
  assert.ok(formula, 'the margin line of start_together');
  for (const n of [4, 5, 7, 8, 13, 16, 31, 32, 64, 127]) {
    const shellValue: number = Number(
      execFileSync('sh', ['-c', `n=${n}; echo $((${formula}))`], { encoding: 'utf8' }).trim(),
    );
    assert.equal(shellValue, startMarginSeconds(n), `N = ${n}`);
    assert.ok(settleSeconds(n) > startMarginSeconds(n), `deploy's settle outlasts the start margin at N = ${n}`);
  }
});

test('node-lib.sh takes a start candidate for dead after silentCandidateQuestions(margin) questions, computed by the shell itself', () => {
  const formula = /silent_limit=\$\(\((.*?)\)\)$/m.exec(nodeLib)?.[1];
  assert.ok(formula, 'the silent_limit line of start_together');
  for (const margin of ['0', '1', '3', '2.5', String(startMarginSeconds(64)), String(startMarginSeconds(256))]) {
    const shellValue: number = Number(
      execFileSync('sh', ['-c', `margin=${margin}; echo $((${formula}))`], { encoding: 'utf8' }).trim(),
    );
    assert.equal(shellValue, silentCandidateQuestions(Number(margin)), `margin ${margin}`);
  }
});

test("docker/setup.sh's image labels are the ones in core/labels.ts", () => {
  const setup = read('docker/setup.sh');
  assert.ok(setup.includes(`"${LABELS.base}"`) && setup.includes(`LABEL ${LABELS.base}=`));
  assert.ok(setup.includes(`"${LABELS.golang}"`) && setup.includes(`LABEL ${LABELS.golang}=`));
});

test("record_cpu writes the container's cgroup CPU time (v2 in its own namespace or nested, v1) and nothing without a cgroup", async (t) => {
  const dir = await tempDir(t);
  const record = (root: string, procCgroup: string, phase = 'start') => {
    const extract = path.join(dir, `extract-${root}`);
    mkdirSync(extract, { recursive: true });
    writeFileSync(path.join(dir, `${root}.cgroup`), procCgroup);
    // wall_clock is busybox's adjtimex: a fixed clock here, so that the line is known.
    execFileSync(
      'sh',
      [
        '-c',
        `. ./templates/node-lib.sh; wall_clock() { echo 1000.000001; }; record_cpu ${phase} "${extract}" "${path.join(dir, root)}" "${path.join(dir, `${root}.cgroup`)}"`,
      ],
      { cwd: REPO },
    );
    const file = path.join(extract, NODE_FILES.cpuUsage);
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  };
  const cpus = '[1-9][0-9]*';
  mkdirSync(path.join(dir, 'v2'), { recursive: true });
  writeFileSync(path.join(dir, 'v2/cpu.stat'), 'usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n');
  assert.match(record('v2', '0::/\n') ?? '', new RegExp(`^start 1000\\.000001 123456 ${cpus}\\n$`));
  // The host's cgroup namespace: /proc/self/cgroup names the container's cgroup, not the root's (the whole host).
  mkdirSync(path.join(dir, 'v2host/system.slice/docker-1.scope'), { recursive: true });
  writeFileSync(path.join(dir, 'v2host/cpu.stat'), 'usage_usec 999999999\n');
  writeFileSync(path.join(dir, 'v2host/system.slice/docker-1.scope/cpu.stat'), 'usage_usec 42\n');
  assert.match(
    record('v2host', '0::/system.slice/docker-1.scope\n', 'end') ?? '',
    new RegExp(`^end 1000\\.000001 42 ${cpus}\\n$`),
  );
  mkdirSync(path.join(dir, 'v1/cpuacct'), { recursive: true });
  writeFileSync(path.join(dir, 'v1/cpuacct/cpuacct.usage'), '5000000\n');
  assert.match(
    record('v1', '3:cpu,cpuacct:/\n') ?? '',
    new RegExp(`^start 1000\\.000001 5000 ${cpus}\\n$`),
    'ns to µs',
  );
  mkdirSync(path.join(dir, 'none'), { recursive: true });
  assert.equal(record('none', '0::/\n'), undefined, 'no cgroup file: no record, no error');
  // What the shell writes is what the report reads.
  const both = `${record('v2', '0::/\n', 'end')}`;
  assert.ok(parseCpuUsage(both), both);
});

test("started_at: the seconds node-lib.sh's wall_clock writes, or nothing (a time JavaScript cannot show is no time: hostile pass 20)", () => {
  assert.equal(parseWallClock('1795000000.500000\n'), 1795000000.5);
  assert.equal(parseWallClock('1795000000'), 1795000000);
  for (const text of ['-1e300', '1e300', '-5', '0x7fffffff', '123456789012.5', 'NaN', '', '1.2.3', undefined])
    assert.equal(parseWallClock(text), undefined, String(text));
  const wallClock = readFileSync(path.join(REPO, 'templates/node-lib.sh'), 'utf8');
  assert.match(wallClock, /printf "%d\.%06d\\n", s, u/, 'node-lib.sh writes <s>.<µs>');
});
