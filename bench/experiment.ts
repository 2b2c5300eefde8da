// `npm run bench -- experiment` (issue 33): what `experiment run` costs per run beyond up's
// own time, with a stand-in for up that leaves a real 16-node gomel run's logs (test/vectors/
// real-runs/lab16, as deploy logs collected them) where up would: the point's config written,
// up's output file, the run's logs read as report reads them, results.json and .csv rewritten;
// and the experiment's page drawn at the end. Needs no engine.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { experimentRun } from '../src/commands/experiment.js';
import { captureOutput } from '../src/commands/output.js';
import { report } from '../src/commands/report.js';

export interface ExperimentFigures {
  runs: number;
  n: number;
  /** The whole experiment's wall time, the stand-in's copies included. */
  totalMs: number;
  /** The stand-in's own time (copying the logs and up's report step: up's part, not the experiment's). */
  standInMs: number;
  /** Drawing DIR/report.html at the end. */
  pageMs: number;
  /** (total − stand-in − page) / runs: the experiment's own cost of one run. */
  perRunMs: number;
}

export async function benchExperiment(repo: string, work: string, runs = 8): Promise<ExperimentFigures> {
  const dir = path.join(work, 'experiment');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'gomel'), '#!/bin/sh\n', { mode: 0o755 });
  const file = path.join(dir, 'bench.json');
  const txpu = Array.from({ length: runs }, (_, i) => 10 ** (i % 4) * (1 + Math.floor(i / 4)));
  await fs.writeFile(
    file,
    JSON.stringify({ binary: 'gomel', configs: path.join(repo, 'configs'), n: [16], config: { Txpu: txpu } }),
  );
  let standInMs = 0;
  const out = captureOutput();
  const start = performance.now();
  await experimentRun(file, { out: path.join(dir, 'out') }, out, {
    up: async (options) => {
      const t = performance.now();
      await fs.cp(path.join(repo, 'test/vectors/real-runs/lab16'), options.logs, { recursive: true });
      // up's report step, as up runs it: the experiment takes what it read.
      await report([], { logs: options.logs, configs: options.configs, keys: options.keys }, captureOutput());
      standInMs += performance.now() - t;
    },
    clean: async () => {},
    onInterrupt: () => () => {},
  });
  const totalMs = performance.now() - start;
  // The page alone, drawn again as `report DIR` draws it.
  const page = performance.now();
  const { experimentReport } = await import('../src/commands/experiment.js');
  await experimentReport(path.join(dir, 'out'), path.join(dir, 'out/report.html'), captureOutput());
  const pageMs = performance.now() - page;
  return { runs, n: 16, totalMs, standInMs, pageMs, perRunMs: (totalMs - standInMs - pageMs) / runs };
}
