// The edge of a run's plan (core/deploy/run-plan.ts): the flags that shape a run, checked, and
// the files they name, read. `up` and `deploy spawn` come through here, and only here, before
// they plan: --tag/--image and --registry, --net, --zones, --faults and --seed are parsed once.
import { InputError, UsageError } from '../core/errors.js';
import { chooseImage } from '../core/image/payload.js';
import { faultsFlagFile } from '../core/faults/plan.js';
import type { DelayImpl } from '../core/deploy/network-conditions.js';
import type { RunInputs } from '../core/deploy/run-plan.js';
import { readInput } from './input.js';

/** What a command was given that shapes a run. */
export interface RunFlags {
  network: string;
  config: string;
  registry: string;
  /** --tag (up) or --image (deploy spawn), as given. */
  image?: string;
  imageFlag: '--tag' | '--image';
  constraint?: string[];
  spread?: boolean;
  capAdd?: string[];
  net?: string;
  netImpl: DelayImpl;
  zones?: string;
  faults?: string;
  seed?: string;
  settle?: number;
}

export async function readRunInputs(flags: RunFlags): Promise<RunInputs> {
  const image = chooseImage(flags.image, flags.registry, flags.imageFlag);
  if (flags.net !== undefined && flags.zones !== undefined)
    throw new UsageError('--net and --zones: give one (a zones file can say the same for every link)');
  // A zones file that is missing or wrong is a bad file (exit 1, docs/network-conditions.md).
  const zones =
    flags.zones === undefined ? undefined : { text: await readInput(flags.zones, 'zones file'), file: flags.zones };
  return {
    network: flags.network,
    config: flags.config,
    image,
    constraints: flags.constraint ?? [],
    spread: Boolean(flags.spread),
    capAdd: flags.capAdd ?? [],
    net: flags.net,
    netImpl: flags.netImpl,
    zones,
    faults: flags.faults === undefined ? undefined : await readFaultsFlag(flags.faults),
    seed: flags.seed,
    settleS: flags.settle,
  };
}

/** --faults and the file it names: whatever is wrong with it, the file missing too, is a usage problem (exit 2). */
async function readFaultsFlag(spec: string): Promise<RunInputs['faults']> {
  const file = faultsFlagFile(spec);
  try {
    return { spec, fileText: file === undefined ? undefined : await readInput(file, 'fault plan') };
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new UsageError(`--faults ${error.message}`);
  }
}
