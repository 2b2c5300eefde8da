// `gomelctl report` and `gomelctl verdict`: the flags, typed where they are declared.
import { Command, Option } from '@commander-js/extra-typings';
import { UsageError } from '../core/errors.js';
import type { Output } from './output.js';
import { configsOption, keysOption, strictOption, withSettingsOf, type FlagsOf } from './shared-flags.js';

const reportFlags = () =>
  new Command('report')
    .argument('[runs...]')
    .description('what a run measured, as figures and charts in one HTML file; several run folders are compared')
    .option('--logs <dir>', 'the run to report on, when no run folders are given', 'logs')
    .option('--out <file>', 'the HTML file (default: <logs>/report.html, or report.html when comparing)')
    .option(
      '--config <name|file>',
      'the config the runs ran, for a folder without its conf.json (where there is one, they must be the same)',
    )
    .addOption(configsOption())
    .addOption(keysOption('keys folder whose committee.ka the run used, when a logs folder has none'))
    .addOption(trustLogsOption())
    .option('--json', 'the figures as JSON');

/** --trust-logs: judge by a folder's fault evidence although gomelctl's seal does not vouch for it (core/logs/seal.ts). */
const trustLogsOption = () =>
  new Option(
    '--trust-logs',
    "use the folder's fault evidence (faults.log, host losses, twins) although it is not sealed as `deploy logs` collected it",
  );

const verdictFlags = () =>
  new Command('verdict')
    .description('did the committee reach consensus? reads the logs `deploy logs` collected')
    .option('--logs <dir>', 'one folder (or <pid>.log[.gz] set) per node', 'logs')
    .option(
      '--config <name|file>',
      'the config the run ran, a name in --configs or a path: for a logs folder without its conf.json (where there is one, they must be the same)',
    )
    .addOption(configsOption())
    .addOption(keysOption('keys folder whose committee.ka the run used, when the logs folder has none'))
    .addOption(strictOption())
    .addOption(trustLogsOption())
    .option('--json', 'machine-readable output');

export type ReportFlags = FlagsOf<ReturnType<typeof reportFlags>>;
export type VerdictFlags = FlagsOf<ReturnType<typeof verdictFlags>>;

export function registerReport(program: Command, out: Output): void {
  program.addCommand(
    withSettingsOf(program, reportFlags()).action(async (runs, o) => {
      await (await import('./report.js')).report(runs, o, out);
    }),
  );
}

export function registerVerdict(program: Command, out: Output): void {
  program.addCommand(
    withSettingsOf(program, verdictFlags())
      // `verdict DIR` (as `report DIR`) is answered in words of its own, not commander's "too many arguments".
      .allowExcessArguments()
      .action(async (o, command) => {
        const [extra] = command.args;
        if (extra !== undefined)
          throw new UsageError(
            `verdict ${JSON.stringify(extra)}: verdict takes no argument; give the logs folder as --logs DIR (default: logs)`,
          );
        await (await import('./verdict.js')).verdict(o, out);
      }),
  );
}
