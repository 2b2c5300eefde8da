// `image rebuild`: the build context assembled in memory, built and pushed through the Engine API.
import { LABELS } from '../core/labels.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { EnvironmentError, InputError, UsageError } from '../core/errors.js';
import {
  committeeFingerprint,
  hashHex,
  imageLabels,
  planContext,
  withLabels,
  type ContextFile,
  type PayloadKind,
} from '../core/image/context.js';
import { summarizeBuild, summarizePush } from '../core/image/build-progress.js';
import { packContext } from '../docker/build-context.js';
import { Engine } from '../docker/engine.js';
import { checkRegistry, tagDigest } from '../docker/registry.js';
import type { BuildEngine } from '../docker/engine-api.js';
import { exists } from '../fs/atomic.js';
import { codeFiles, resolveCode } from '../fs/code-layout.js';
import { readInputBytes } from '../fs/input.js';
import { chooseImage, inspectBinary, parseImageRef, type ImageChoice } from '../core/image/payload.js';
import { readKeysDir, requireCommitteeFile } from '../fs/keys-dir.js';
import { readTemplate, TEMPLATES_DIR } from '../fs/templates.js';
import { VERSION } from '../version.js';
import type { Output } from './output.js';
import type { ImageRebuildFlags } from './image.flags.js';
import { checkRegistryReach } from '../docker/swarm.js';
import { DEFAULT_BASE } from './defaults.js';
import { progressMode, progressPrinter } from './progress.js';

export { DEFAULT_BASE } from './defaults.js';
const DEFAULT_CODE_BASE = 'golang:1.13';
/** Made by docker/setup.sh from Debian's golang-go: used for --code when golang:1.13 is not on the engine (it cannot be pulled here). */
const LOCAL_GO_BASE = 'gomelctl/base:golang';

type ImageRebuildOptions = ImageRebuildFlags & {
  /** The image `up` chose from its --tag and --registry when it planned the run: not checked again. */
  chosen?: ImageChoice;
};

interface ImageResult {
  tag: string;
  /** `<repository>@sha256:…` as pushed; what deploy pins services to. */
  pinned: string;
  digest: string;
  contextHash: string;
  committee: string;
  /** What the image runs: gomel (binary, code) or the connectivity probe. */
  payload: PayloadKind;
  built: boolean;
  /** Steps run and taken from cache, when built. */
  build?: { steps: number; cachedSteps: number };
  /** Layers uploaded and already present, when pushed. */
  push?: { pushed: number; existing: number };
}

/** Where --code (and --bn256) keep consensus-go and bn256; refused with the fix. */
async function codeLayout(options: ImageRebuildOptions) {
  if (options.code === undefined)
    throw new UsageError('--bn256 goes with --code: it is the bn256 checkout gomel is compiled with');
  return resolveCode(options.code, options.bn256);
}

/** The payload's files and the Dockerfile/run.sh that go with it. */
async function payload(
  options: ImageRebuildOptions,
  templates: string,
  goBuilder = DEFAULT_CODE_BASE,
): Promise<{
  kind: PayloadKind;
  files: ContextFile[];
  buildFiles?: ContextFile[];
  bn256?: string;
  dockerfile: string;
  runScript: string;
  vars: Record<string, string>;
}> {
  if (options.code && options.binary) throw new UsageError('--code and --binary: choose one payload');
  if (options.code || options.bn256 !== undefined) {
    const layout = await codeLayout(options);
    // The known-answer check of bn256 runs before gomel is compiled (Dockerfile.code).
    const check = { name: 'bn256-check.go', mode: 0o644, content: await readTemplate(templates, 'bn256-check.go') };
    return {
      kind: 'code',
      files: await codeFiles(layout),
      buildFiles: [check],
      bn256: layout.bn256,
      dockerfile: 'Dockerfile.code',
      runScript: 'gomel/run.sh',
      vars: { BASE: options.base ?? goBuilder, RUNTIME_BASE: DEFAULT_BASE },
    };
  }
  if (options.binary) {
    if (!(await exists(options.binary)))
      throw new InputError(
        options.binary,
        undefined,
        'no such gomel binary',
        'build one with `CGO_ENABLED=0 go build ./cmd/gomel`',
      );
    const content = new Uint8Array(await readInputBytes(options.binary, 'gomel binary'));
    const kind = inspectBinary(content.subarray(0, 4096), (await fs.stat(options.binary)).mode);
    if (kind.kind === 'refused')
      throw new InputError(
        options.binary,
        undefined,
        `${kind.why}; gomel must be a static x86-64 program`,
        'build it with `CGO_ENABLED=0 go build ./cmd/gomel` (and chmod +x)',
      );
    return {
      kind: 'binary',
      files: [{ name: 'gomel', mode: 0o755, content }],
      dockerfile: 'Dockerfile',
      runScript: 'gomel/run.sh',
      vars: { BASE: options.base ?? DEFAULT_BASE },
    };
  }
  const answer = await readTemplate(templates, 'probe/answer.sh');
  return {
    kind: 'probe',
    files: [{ name: 'answer.sh', mode: 0o755, content: answer }],
    dockerfile: 'Dockerfile',
    runScript: 'probe/run.sh',
    vars: { BASE: options.base ?? DEFAULT_BASE },
  };
}

/** Builds the context in memory: Dockerfile, payload, run.sh, configs, committee (and keys with --bake-keys). */
export async function assembleContext(
  options: ImageRebuildOptions,
  goBuilder?: string,
): Promise<{ tar: Buffer; files: ContextFile[]; committee: Uint8Array; kind: PayloadKind; bn256?: string }> {
  const templates = options.templates ?? TEMPLATES_DIR;
  // Only --bake-keys needs the private files; everything else needs committee.ka alone.
  const keys = options.bakeKeys ? await readKeysDir(options.keys) : undefined;
  const committee = (keys ?? (await requireCommitteeFile(options.keys))).bytes;
  const p = await payload(options, templates, goBuilder);
  if (!(await exists(options.configs)) || !(await fs.stat(options.configs)).isDirectory())
    throw new InputError(options.configs, undefined, 'is not a configs folder', 'pass --configs DIR');
  const configNames = (await fs.readdir(options.configs)).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
  const configs = await Promise.all(
    configNames.map(async (f) => ({
      name: f.slice(0, -5),
      content: new Uint8Array(await readInputBytes(path.join(options.configs, f), 'config')),
    })),
  );
  const privateKeys = keys
    ? await Promise.all(
        keys.keyFiles.map(async (k) => ({
          name: path.basename(k.file),
          content: new Uint8Array(await readInputBytes(k.file, 'member file')),
        })),
      )
    : [];
  const files = planContext({
    payload: p.kind,
    dockerfileTemplate: new TextDecoder().decode(await readTemplate(templates, p.dockerfile)),
    vars: p.vars,
    payloadFiles: p.files,
    buildFiles: p.buildFiles,
    runScript: await readTemplate(templates, p.runScript),
    nodeLib: await readTemplate(templates, 'node-lib.sh'),
    faultsLib: await readTemplate(templates, 'faults.sh'),
    configs,
    committee,
    privateKeys,
  });
  return { tar: await packContext(files), files, committee, kind: p.kind, bn256: p.bn256 };
}

/** A fresh build is always pushed (`kept` undefined); a kept one only if the registry lacks it. The digest it serves. */
async function pushImage(
  engine: BuildEngine,
  tag: string,
  ref: { registry: string; repository: string; tag: string },
  kept: Awaited<ReturnType<BuildEngine['inspectImage']>>,
  out: Output,
  json: boolean | undefined,
): Promise<{ digest: string; push?: ImageResult['push'] }> {
  const digest = kept ? await tagDigest(ref.registry, ref.repository, ref.tag) : undefined;
  if (digest && kept?.RepoDigests?.includes(`${ref.registry}/${ref.repository}@${digest}`)) {
    out.warn(`push: ${ref.registry} already serves this image`);
    return { digest };
  }
  const printer = progressPrinter(out, progressMode(out, json), 'push');
  const push = summarizePush(await engine.push(tag, printer.event));
  printer.end();
  if (push.error || !push.digest)
    throw new EnvironmentError(
      `image rebuild: push of ${tag} refused: ${push.error ?? 'the registry returned no digest'}`,
    );
  out.warn(`push: ${push.pushedLayers.length} layer(s) pushed, ${push.existingLayers.length} already in the registry`);
  return { digest: push.digest, push: { pushed: push.pushedLayers.length, existing: push.existingLayers.length } };
}

export async function imageRebuild(
  options: ImageRebuildOptions,
  out: Output,
  engine: BuildEngine = new Engine(),
): Promise<ImageResult> {
  const image = options.chosen ?? chooseImage(options.tag, options.registry, '--tag');
  const tag = image.ref;
  const ref = { ...parseImageRef(tag), registry: image.registry! }; // a --tag always names its registry
  // A bad folder is refused before the engine is asked anything.
  if (options.code || options.bn256 !== undefined) await codeLayout(options);
  // golang:1.13 when the engine has it, else the local builder (nothing can be pulled here).
  const goBuilder =
    options.code &&
    !options.base &&
    !(await engine.inspectImage(DEFAULT_CODE_BASE)) &&
    (await engine.inspectImage(LOCAL_GO_BASE))
      ? LOCAL_GO_BASE
      : undefined;
  const { tar: unlabelled, files, committee, kind, bn256 } = await assembleContext(options, goBuilder);
  if (options.bakeKeys)
    out.warn(
      "image rebuild: --bake-keys puts EVERY node's private key into the image; anyone who can pull it holds them all",
    );
  const contextHash = hashHex(unlabelled);
  const tar = await packContext(
    withLabels(
      files,
      imageLabels({ committee, contextHash, version: VERSION, payload: kind, bakedKeys: Boolean(options.bakeKeys) }),
    ),
  );
  const result = { tag, contextHash, committee: committeeFingerprint(committee), payload: kind };

  await engine.ping();
  await checkRegistryReach(engine, ref.registry, image.option);
  await checkRegistry(ref.registry);
  const existing = await engine.inspectImage(tag);
  let built = false;
  let buildFigures: ImageResult['build'];
  if (options.force || existing?.Config?.Labels?.[LABELS.context] !== contextHash) {
    const printer = progressPrinter(out, progressMode(out, options.json), 'build');
    const events = await engine.build(tar, { tag, noCache: options.force }, printer.event);
    printer.end();
    const build = summarizeBuild(events);
    // A bn256 diagnosis names the bn256 folder; any other names --code.
    if (build.error && build.diagnosis)
      throw new InputError(
        (build.diagnosis.includes('cloudflare/bn256') ? bn256 : undefined) ?? options.code ?? tag,
        undefined,
        build.diagnosis,
      );
    if (build.error)
      throw new EnvironmentError(`image rebuild: build failed at ${build.lastStep ?? 'the start'}: ${build.error}`);
    out.warn(`build: ${tag} built, ${build.cachedSteps} of ${build.steps} steps from cache`);
    built = true;
    buildFigures = { steps: build.steps, cachedSteps: build.cachedSteps };
  } else {
    out.warn(`build: ${tag} is up to date (context ${contextHash.slice(0, 12)}); --force rebuilds`);
  }

  const { digest, push: pushFigures } = await pushImage(
    engine,
    tag,
    ref,
    built ? undefined : existing,
    out,
    options.json,
  );
  const pinned = `${ref.registry}/${ref.repository}@${digest}`;
  if (options.json) out.line(JSON.stringify({ ...result, digest, pinned, built }));
  else out.line(`image: ${tag} ${digest}`);
  return { ...result, digest, pinned, built, build: buildFigures, push: pushFigures };
}
