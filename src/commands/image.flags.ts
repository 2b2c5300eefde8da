// `gomelctl image rebuild`: the flags, typed where they are declared.
import { Command, Option } from '@commander-js/extra-typings';
import type { Output } from './output.js';
import { configsOption, keysOption, registryOption, withSettingsOf, type FlagsOf } from './shared-flags.js';

const load = () => import('./image.js');

/** --code and --bn256, shared with `up`. */
export const codeOption = (what: string) => new Option('--code <dir>', what).conflicts('binary');
export const bn256Option = () =>
  new Option(
    '--bn256 <dir>',
    'with --code: the github.com/cloudflare/bn256 checkout (at 828ba4f), if not beside consensus-go as ../bn256',
  );

const rebuildFlags = () =>
  new Command('rebuild')
    .description('assemble the build context in memory, build and push through the Engine API')
    .addOption(keysOption('keys folder (only committee.ka goes in, unless --bake-keys)'))
    .addOption(configsOption())
    .addOption(registryOption('registry to push to'))
    .option('--tag <ref>', 'image reference (default: <registry>/aleph:test)')
    .addOption(
      codeOption(
        'payload: a consensus-go checkout (or a folder with consensus-go/ and bn256/, or a GOPATH), compiled at build time',
      ),
    )
    .addOption(bn256Option())
    .option('--binary <file>', 'payload: a static gomel binary')
    .option(
      '--base <image>',
      'base image (default: gomelctl/base:busybox; for --code golang:1.13 when the engine has it, else gomelctl/base:golang)',
    )
    .option('--bake-keys', "put every node's private key into the image (as gomel's original test did)")
    .option('--force', 'rebuild without cache even if the context is unchanged')
    .option('--json', 'progress and result as JSON lines')
    .option('--templates <dir>', 'templates folder (default: the one shipped with gomelctl)');

export type ImageRebuildFlags = FlagsOf<ReturnType<typeof rebuildFlags>>;

export function registerImage(program: Command, out: Output): void {
  const image = program.command('image').description('the image every node runs');
  image.addCommand(
    withSettingsOf(image, rebuildFlags()).action(async (o) => {
      await (await load()).imageRebuild(o, out);
    }),
  );
}
