import { run } from './cli.js';

// `gomelctl keys show | head` closes our stdout early; that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});
process.exitCode = await run(process.argv.slice(2));
