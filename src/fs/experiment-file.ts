// An experiment file read: YAML or JSON (JSON is YAML, and needs nothing more), its paths
// resolved against its own folder (flags on the command line against the current one), the
// files it names read, and the grid planned and checked by the core (core/experiment).
import path from 'node:path';
import { EnvironmentError, InputError, UsageError } from '../core/errors.js';
import { parseJsonText } from '../core/json-input.js';
import { checkExperimentFile, fileProblem } from '../core/experiment/spec.js';
import { filesToRead, planExperiment, runSetting, type ExperimentPlan } from '../core/experiment/grid.js';
import { exists } from './atomic.js';
import { readInput } from './input.js';
import { checkPayloadFiles } from './payload-files.js';
import { resolveCode } from './code-layout.js';

/** What the `yaml` package (eemeli/yaml, 2.x) gives us: a document, its errors and warnings, its value. */
interface YamlModule {
  parseDocument(
    text: string,
    options: { uniqueKeys: boolean; prettyErrors: boolean; logLevel: 'error'; resolveKnownTags: boolean },
  ): { errors: Error[]; warnings: Error[]; toJS(options: { maxAliasCount: number }): unknown };
}

/**
 * How many times the file's anchors may be used, weighted as the yaml package counts (each use times
 * the uses nested in what it names): 120 points sharing one `config: &c {…}` are 120, over the
 * package's default 100 (a stack trace, exit 70, hostile pass 10); an alias bomb stays bounded.
 */
const MAX_ALIAS_USES = 1000;

/** The first line of a yaml error or warning ("… at line 3, column 5:"), its tags as the file writes them (!!binary). */
const yamlProblem = (error: Error) =>
  error.message.split('\n')[0]!.replace(/:$/, '').replaceAll('tag:yaml.org,2002:', '!!');

/** YAML through the `yaml` package, loaded only for a YAML file: a JSON experiment needs none of it. */
async function parseYaml(text: string, file: string): Promise<unknown> {
  const name = 'yaml'; // not a literal import: the package is optional until it is installed
  let yaml: YamlModule;
  try {
    yaml = (await import(name)) as YamlModule;
  } catch {
    throw new EnvironmentError(
      `${file}: reading YAML needs the yaml package, which is not installed (npm install) — or write the experiment as JSON`,
    );
  }
  // logLevel 'error': the package prints its warnings itself (process.emitWarning, several lines on
  // stderr); they are refused below as one line instead. Not 'silent': that drops the error of a
  // second document (`---`), whose fields would go unread. resolveKnownTags false: YAML 1.1's !!binary,
  // !!set, !!omap, !!timestamp are not read as a Uint8Array, Set, Map or Date, which no field takes
  // (a file that was `!!binary "AAAA"` read as "bin.yaml:0: unknown field", hostile pass 9).
  const doc = yaml.parseDocument(text, {
    uniqueKeys: true,
    prettyErrors: true,
    logLevel: 'error',
    resolveKnownTags: false,
  });
  if (doc.errors[0]) throw fileProblem(file, undefined, `not valid YAML: ${yamlProblem(doc.errors[0])}`);
  // A warning is a value the package guessed at: an unknown tag (!!js/undefined, !foo) read as a plain string.
  if (doc.warnings[0])
    throw fileProblem(
      file,
      undefined,
      `not plain YAML: ${yamlProblem(doc.warnings[0])}`,
      'an experiment file holds mappings, lists, strings, numbers, true/false and null, without tags',
    );
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_USES });
  } catch (e) {
    // The package's ReferenceError ("Excessive alias count indicates a resource exhaustion attack").
    if (e instanceof ReferenceError)
      throw fileProblem(
        file,
        undefined,
        `its anchors are used more than ${MAX_ALIAS_USES} times (counting the aliases inside what they name)`,
        'write the values out, or share fewer of them through & and *',
      );
    throw e;
  }
}

/**
 * A file the experiment names that cannot be read (a device, a FIFO, too large, unreadable): the
 * experiment file and the field naming it, exit 2 as every other problem of the file (nothing ran).
 */
const atField =
  (file: string, where: string) =>
  (error: unknown): never => {
    throw error instanceof InputError ? fileProblem(file, where, error.message) : error;
  };

/** The file's value: JSON when it is named .json or starts as JSON does, YAML otherwise. */
export async function parseExperimentText(text: string, file: string): Promise<unknown> {
  if (file.endsWith('.json') || /^\s*[{[]/.test(text))
    return parseJsonText(text, (problem) => fileProblem(file, undefined, problem));
  return parseYaml(text, file);
}

export interface PayloadFlags {
  binary?: string | undefined;
  code?: string | undefined;
  bn256?: string | undefined;
}

/** Defaults as `up` has them. */
export interface ExperimentDefaults {
  registry: string;
  network: string;
  timeout: number;
}

/**
 * Reads and checks an experiment file and plans its grid; `flags` (--binary, --code, --bn256)
 * replace what the file says runs. Any problem is one line, before anything runs.
 */
export async function readExperiment(
  file: string,
  flags: PayloadFlags,
  defaults: ExperimentDefaults,
): Promise<ExperimentPlan> {
  if (!(await exists(file))) throw new UsageError(`${file}: no such experiment file`);
  const text = await readInput(file, 'experiment file').catch((error: unknown) => {
    // Too large, a FIFO, unreadable: exit 2 as every other problem of the file (nothing ran).
    throw error instanceof InputError ? new UsageError(error.message) : error;
  });
  const spec = checkExperimentFile(await parseExperimentText(text, file), file);
  const resolve = (p: string) => path.resolve(path.dirname(file), p);
  const fromFlags = flags.binary !== undefined || flags.code !== undefined;
  const payload = fromFlags
    ? {
        ...(flags.binary !== undefined ? { binary: path.resolve(flags.binary) } : {}),
        ...(flags.code !== undefined ? { code: path.resolve(flags.code) } : {}),
        ...(flags.bn256 !== undefined ? { bn256: path.resolve(flags.bn256) } : {}),
      }
    : {
        ...(spec.binary !== undefined ? { binary: resolve(spec.binary) } : {}),
        ...(spec.code !== undefined ? { code: resolve(spec.code) } : {}),
        ...(spec.bn256 !== undefined ? { bn256: resolve(spec.bn256) } : {}),
      };
  if (flags.bn256 !== undefined && flags.code === undefined)
    throw new UsageError('--bn256 goes with --code: it is the bn256 checkout gomel is compiled with');
  const setting = runSetting(spec, file, payload, defaults);
  // What up checks of its payload, once for the whole grid.
  await checkPayloadFiles(setting);
  if (setting.code !== undefined) await resolveCode(setting.code, setting.bn256);
  const configs = spec.configs !== undefined ? resolve(spec.configs) : path.resolve('configs');
  const baseFile = path.join(configs, `${spec.base ?? 'config'}.json`);
  if (!(await exists(baseFile)))
    throw fileProblem(
      file,
      spec.base !== undefined ? 'base' : undefined,
      `the base config ${baseFile} does not exist`,
      spec.configs !== undefined
        ? 'name a config of that folder in base:'
        : 'give configs: (the folder, relative to this file) and base: (a config there)',
    );
  const texts = new Map<string, string>();
  for (const named of filesToRead(spec, resolve)) {
    if (!(await exists(named.file)))
      throw fileProblem(
        file,
        named.where,
        `${named.file}: no such file (a zones or fault plan file of the experiment)`,
      );
    texts.set(named.file, await readInput(named.file, 'zones or fault plan file').catch(atField(file, named.where)));
  }
  return planExperiment({
    file,
    spec,
    setting,
    base: { file: baseFile, text: await readInput(baseFile, 'config file').catch(atField(file, 'base')) },
    texts,
    resolve,
  });
}
