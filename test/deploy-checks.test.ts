// `deploy spawn` refuses a bad flag before it contacts the engine (issue 25, N87). In process
// (gomelctlInProcess), but for the first flag: a process, exit 2 and one line as a user sees them.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { REPO, tempDir } from './helpers.js';
import { fakeEngine, gomelctl, gomelctlInProcess } from './support/fake-engine.js';

for (const [i, args] of [
  ['--image', 'BAD REF'],
  ['--registry', 'Not A Registry'],
  ['--parallel', '0'],
].entries()) {
  it(`deploy spawn ${args.join(' ')}: exit 2, the engine never contacted (N87)`, async (t) => {
    const dir = await tempDir(t);
    await fs.cp(path.join(REPO, 'configs'), path.join(dir, 'configs'), { recursive: true });
    assert.equal((await gomelctlInProcess(['keys', 'gen', '--n', '4'], dir)).code, 0);
    const engine = await fakeEngine(dir, () => ({
      status: 500,
      json: { message: 'the test engine must not be called' },
    }));
    t.after(() => engine.close());
    const r = await (i === 0 ? gomelctl : gomelctlInProcess)(['deploy', 'spawn', ...args], dir, {
      DOCKER_HOST: engine.host,
    });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`^gomelctl: ${args[0]} "?${args[1]}`));
    assert.deepEqual(
      engine.requests.map((q) => `${q.method} ${q.path}`),
      [],
    );
  });
}
