// The node contract (src/core/deploy/node-contract.ts) is written twice: in
// TypeScript and in the shell the nodes run. These tests read the templates and
// fail when a copy drifts: a renamed file, port, variable, line prefix or exit
// code, or a start margin computed differently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
  startMarginSeconds,
} from '../src/core/deploy/node-contract.js';
import { LABELS } from '../src/core/labels.js';
import { REPO } from './helpers.js';

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
  assert.match(probeRun, new RegExp(`echo "${NODE_LINES.probeProgress} \\$1 \\$reached \\$tried \\$total"`));
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

test("docker/setup.sh's image labels are the ones in core/labels.ts", () => {
  const setup = read('docker/setup.sh');
  assert.ok(setup.includes(`"${LABELS.base}"`) && setup.includes(`LABEL ${LABELS.base}=`));
  assert.ok(setup.includes(`"${LABELS.golang}"`) && setup.includes(`LABEL ${LABELS.golang}=`));
});
