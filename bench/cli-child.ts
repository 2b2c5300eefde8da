// Runs one gomelctl command line in this fresh process, as bin/gomelctl does, and
// prints its exit code, CPU time, peak memory (worker threads included) and output lines as JSON.
// The parent times the process from spawn to exit: Node's start-up counts too.
import { run } from '../src/cli.js';
import { captureOutput } from '../src/commands/output.js';

const out = captureOutput();
const code = await run(process.argv.slice(2), out);
const usage = process.resourceUsage();
process.stdout.write(
  JSON.stringify({
    code,
    cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
    maxRssKb: usage.maxRSS,
    lines: out.lines,
    warnings: out.warnings,
  }),
);
