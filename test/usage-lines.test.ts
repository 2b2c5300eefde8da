// Issue 30: a usage error is one line on stderr and exit 2, whatever found it. commander printed its
// error, a "(Did you mean …?)" line and the command's whole help after it (showHelpAfterError); an
// empty path ('') was read as the working folder (`keys gen --keys ''` turned it into a keys folder)
// or named "(unknown path)". Run in process through src/cli.ts run(), from an empty folder, with an
// engine that is not there: none of these may reach it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { cli, tempDir } from './helpers.js';

async function inEmptyFolder(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t);
  const [cwd, host] = [process.cwd(), process.env.DOCKER_HOST];
  process.chdir(dir);
  process.env.DOCKER_HOST = 'unix:///nonexistent';
  t.after(async () => {
    process.chdir(cwd);
    if (host === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = host;
  });
  return dir;
}

/** Each case's problems: exit 2, nothing on stdout, one line on stderr that says `message`. */
async function oneLineEach(cases: [string[], RegExp][]): Promise<string[]> {
  const problems: string[] = [];
  for (const [args, message] of cases) {
    const r = await cli(args);
    const where = `gomelctl ${args.map((a) => (a === '' ? "''" : a)).join(' ')}`;
    if (r.code !== 2) problems.push(`${where}: exit ${r.code}`);
    if (r.out !== '') problems.push(`${where}: printed ${JSON.stringify(r.out.slice(0, 80))} on stdout`);
    if (r.err.split('\n').length !== 1) problems.push(`${where}: ${r.err.split('\n').length} lines on stderr`);
    if (!message.test(r.err)) problems.push(`${where}: says ${r.err.split('\n')[0]}`);
  }
  return problems;
}

test('an unknown flag, a missing argument or value, a bad value, a missing or unknown command: one line, exit 2, no help after it', async (t) => {
  await inEmptyFolder(t);
  const problems = await oneLineEach([
    [
      ['verdict', '--bogus'],
      /^gomelctl: verdict: unknown option '--bogus' \(did you mean --logs\?\) — see `gomelctl verdict --help`$/,
    ],
    [['report', '--strict'], /^gomelctl: report: unknown option '--strict' — see `gomelctl report --help`$/],
    [['deploy', 'spawn', '--bogus'], /^gomelctl: deploy spawn: unknown option '--bogus'/],
    [['fault'], /^gomelctl: fault: missing required argument 'action' — see `gomelctl fault --help`$/],
    [['experiment', 'plan'], /^gomelctl: experiment plan: missing required argument 'file'/],
    [
      ['keys', 'gen', '--n'],
      /^gomelctl: keys gen: option '--n <count>' argument missing — see `gomelctl keys gen --help`$/,
    ],
    [['keys', 'gen', '--n', 'abc'], /^gomelctl: --n abc: expected a whole number of nodes/],
    [['deploy', 'spawn', '--parallel', '0'], /--parallel/],
    [['up', '--net-impl', 'magic'], /--net-impl/],
    [['keys'], /^gomelctl: keys: give a command: gen, verify, show — see `gomelctl keys --help`$/],
    [[], /^gomelctl: give a command: keys, config, .* — see `gomelctl --help`$/],
    [['bogus'], /^gomelctl: unknown command 'bogus' — see `gomelctl --help`$/],
    [['keys', 'gem'], /^gomelctl: keys: unknown command 'gem' \(did you mean gen\?\)/],
    [['verdict', 'logs'], /^gomelctl: verdict "logs": verdict takes no argument; give the logs folder as --logs DIR/],
  ]);
  assert.deepEqual(problems, []);
  // Help asked for is still the whole help, on stdout.
  const help = await cli(['verdict', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /^Usage: gomelctl verdict \[options\]$/m);
  assert.equal(help.err, '');
});

test("an empty path ('') for a flag or an argument: one line naming it and the fix, exit 2, and the working folder untouched", async (t) => {
  const dir = await inEmptyFolder(t);
  const empty = (flag: string, what: string, fallback?: string) =>
    new RegExp(
      `^gomelctl: ${flag} '': an empty path; give ${what}(, or omit ${flag}${fallback ? ` \\(default: ${fallback}\\)` : ''})?$`,
    );
  const problems = await oneLineEach([
    [['keys', 'gen', '--n', '4', '--keys', ''], empty('--keys', 'a folder', 'keys')],
    [['keys', 'show', '--dir', ''], empty('--dir', 'a folder')],
    [['keys', 'verify', '--pk', ''], empty('--pk', 'files')],
    [['keys', 'gen', '--n', '4', '--seed-file', ''], empty('--seed-file', 'a file')],
    [['config', 'check', '--configs', ''], empty('--configs', 'a folder', 'configs')],
    [['config', 'check', ''], /^gomelctl: config check <names> '': an empty path; give config names$/],
    [['verdict', '--logs', ''], empty('--logs', 'a folder', 'logs')],
    [['verdict', '--config', ''], empty('--config', 'a config name or file')],
    [
      ['verdict', ''],
      /^gomelctl: verdict "": verdict takes no argument; give the logs folder as --logs DIR \(default: logs\)$/,
    ],
    [['report', ''], /^gomelctl: report <runs> '': an empty path; give run folders$/],
    [['report', '--out', ''], empty('--out', 'a file')],
    [['deploy', 'logs', '--out', ''], empty('--out', 'a folder', 'logs')],
    [['deploy', 'spawn', '--zones', ''], empty('--zones', 'a file')],
    [['deploy', 'spawn', '--config', ''], empty('--config', 'a config name', 'config')],
    [['up', '--logs', ''], empty('--logs', 'a folder', 'logs')],
    [['image', 'rebuild', '--binary', ''], empty('--binary', 'a file')],
    [['experiment', 'plan', ''], /^gomelctl: experiment plan <file> '': an empty path; give a file$/],
  ]);
  assert.deepEqual(problems, []);
  assert.deepEqual(await fs.readdir(dir), [], 'nothing was written into the working folder');
});
