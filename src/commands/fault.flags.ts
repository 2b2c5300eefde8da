// `gomelctl fault`: the flags, typed where they are declared.
import { Command } from '@commander-js/extra-typings';
import type { Output } from './output.js';
import { PER_NODE_LINES_UP_TO } from '../core/summary.js';
import { keysOption, networkOption, withSettingsOf, type FlagsOf } from './shared-flags.js';

const faultFlags = () =>
  new Command('fault')
    .description(
      'a fault on the running deployment, now: crash|stop|pause|resume|slow|partition|isolate|heal|mute|selective|unmute <nodes>',
    )
    .argument('<action>', 'crash, stop, pause, resume, slow, partition, isolate, heal, mute, selective or unmute')
    .argument('[nodes]', "nodes as in --faults: 7, 1-4, node3; a partition's groups: '1-4|5-8'; heal: all when none")
    .addOption(networkOption())
    .addOption(keysOption("keys folder `deploy spawn` used: the deployment's control token is kept there"))
    .option('--cpu <fraction>', 'slow: the fraction of the CPU gomel keeps, 0.01 to 0.99')
    .option('--to <nodes>', 'selective: the nodes it still talks to (it is mute to the others), e.g. 1-4')
    .option(
      '--json',
      `every node's answer, machine-readable (beyond ${PER_NODE_LINES_UP_TO} nodes the human output is a summary)`,
    );

export type FaultFlags = FlagsOf<ReturnType<typeof faultFlags>>;

export function registerFault(program: Command, out: Output): void {
  program.addCommand(
    withSettingsOf(program, faultFlags()).action(async (action, nodes, o) => {
      await (await import('./fault.js')).fault(action, nodes, o, out);
    }),
  );
}
