// `gomelctl experiment plan | run`: the flags, typed where they are declared.
import { Command } from '@commander-js/extra-typings';
import type { Output } from './output.js';
import { bn256Option, codeOption } from './image.flags.js';
import { withSettingsOf, type FlagsOf } from './shared-flags.js';

const load = () => import('./experiment.js');

const payloadFlags = (command: Command<[string]>) =>
  command
    .option(
      '--out <dir>',
      "the experiment's folder: results, report, each run's logs (default: experiments/<file's name>)",
    )
    .option('--binary <file>', 'run this static gomel, whatever the file says')
    .addOption(codeOption('compile gomel from this consensus-go checkout, whatever the file says'))
    .addOption(bn256Option());

const planFlags = () =>
  payloadFlags(
    new Command('plan')
      .argument('<file>', 'the experiment (YAML or JSON)')
      .description("the grid's points, what of it is done, and how long the rest takes"),
  );

const runFlags = () =>
  payloadFlags(
    new Command('run')
      .argument('<file>', 'the experiment (YAML or JSON)')
      .description(
        'runs every point of the grid through up, one after the other; again, it runs only what is not done (Ctrl-C stops cleanly)',
      ),
  );

export type ExperimentFlags = FlagsOf<ReturnType<typeof runFlags>>;

export function registerExperiment(program: Command, out: Output): void {
  const experiment = program
    .command('experiment')
    .description('a grid of runs from one file: N, config knobs, network, faults, repeats; results and one report');
  experiment.addCommand(
    withSettingsOf(experiment, planFlags()).action(async (file, o) => (await load()).experimentPlan(file, o, out)),
  );
  experiment.addCommand(
    withSettingsOf(experiment, runFlags()).action(async (file, o) => (await load()).experimentRun(file, o, out)),
  );
}
