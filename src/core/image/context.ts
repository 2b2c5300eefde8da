// What goes into an image's build context, in which order, and how it is
// labelled. Pure: the caller reads the files; docker/build-context.ts packs them.
import { LABELS } from '../labels.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export type PayloadKind = 'probe' | 'binary' | 'code';

export interface ContextFile {
  /** Path inside the context, with "/" separators. */
  name: string;
  mode: number;
  content: Uint8Array;
}

interface ContextInput {
  payload: PayloadKind;
  dockerfileTemplate: string;
  vars: Record<string, string>;
  payloadFiles: ContextFile[]; // placed under payload/
  /** Files the build stage uses besides the payload (the bn256 check of --code), after the Dockerfile. */
  buildFiles?: ContextFile[];
  runScript: Uint8Array;
  /** Sourced by run.sh: the common start and the shipping of /extract (templates/node-lib.sh). */
  nodeLib: Uint8Array;
  /** Sourced by run.sh: the node's own part of a fault plan (templates/faults.sh). */
  faultsLib: Uint8Array;
  configs: { name: string; content: Uint8Array }[]; // <name>.json
  committee: Uint8Array;
  /** Only with --bake-keys: every <pid>.pk. */
  privateKeys: { name: string; content: Uint8Array }[];
}

/** Replaces {{NAME}} placeholders; a placeholder without a value is an error, not an empty string. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => {
    const value = vars[key];
    if (value === undefined) throw new Error(`template placeholder {{${key}}} has no value`);
    return value;
  });
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The context's files in a fixed order: Dockerfile, then payload, run.sh,
 * configs, keys — the order of the Dockerfile's layers. Sorted within each
 * group, so the same inputs give the same tar, byte for byte.
 */
export function planContext(input: ContextInput): ContextFile[] {
  const encoder = new TextEncoder();
  return [
    {
      name: 'Dockerfile',
      mode: 0o644,
      content: encoder.encode(renderTemplate(input.dockerfileTemplate, { PAYLOAD: input.payload, ...input.vars })),
    },
    ...[...(input.buildFiles ?? [])].sort(byName),
    ...[...input.payloadFiles].sort(byName).map((f) => ({ ...f, name: `payload/${f.name}` })),
    { name: 'run.sh', mode: 0o755, content: input.runScript },
    { name: 'node-lib.sh', mode: 0o644, content: input.nodeLib },
    { name: 'faults.sh', mode: 0o644, content: input.faultsLib },
    ...[...input.configs]
      .sort(byName)
      .map((c) => ({ name: `configs/${c.name}.json`, mode: 0o644, content: c.content })),
    { name: 'keys/committee.ka', mode: 0o644, content: input.committee },
    // 0444, not 0600: the node runs as root in the container either way, and the image owner asked for it.
    ...[...input.privateKeys].sort(byName).map((k) => ({ name: `keys/${k.name}`, mode: 0o444, content: k.content })),
  ];
}

export const CONSENSUS_PKG = 'gitlab.com/alephledger/consensus-go';
export const BN256_PKG = 'github.com/cloudflare/bn256';

/**
 * The GOPATH a --code build compiles in (templates/Dockerfile.code copies it to
 * /go): a GOPATH the user brought (old layout), with consensus-go and bn256, when
 * given apart, put at their import paths — a given bn256 replaces the GOPATH's own.
 */
export function layOutGopath(parts: {
  gopath?: readonly ContextFile[];
  consensus?: readonly ContextFile[];
  bn256?: readonly ContextFile[];
}): ContextFile[] {
  const under = (pkg: string, files: readonly ContextFile[]) =>
    files.map((f) => ({ ...f, name: `src/${pkg}/${f.name}` }));
  const replaced = (f: ContextFile) =>
    (parts.consensus && f.name.startsWith(`src/${CONSENSUS_PKG}/`)) ||
    (parts.bn256 && f.name.startsWith(`src/${BN256_PKG}/`));
  return [
    ...(parts.gopath ?? []).filter((f) => !replaced(f)),
    ...under(CONSENSUS_PKG, parts.consensus ?? []),
    ...under(BN256_PKG, parts.bn256 ?? []),
  ];
}

/**
 * Appends the labels to the Dockerfile as one LABEL instruction. Passed through
 * the build API instead, the classic builder runs one step (one committed
 * container) per label. The context hash is taken before this, over the rest.
 */
export function withLabels(files: readonly ContextFile[], labels: Record<string, string>): ContextFile[] {
  const line = `\n# Added by gomelctl: what the image holds, for reuse and clean-up.\nLABEL ${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' \\\n      ')}\n`;
  return files.map((f) =>
    f.name === 'Dockerfile' ? { ...f, content: new Uint8Array([...f.content, ...new TextEncoder().encode(line)]) } : f,
  );
}

export function hashHex(bytes: Uint8Array, length = 64): string {
  return bytesToHex(sha256(bytes)).slice(0, length);
}

/** A committee's fingerprint: what image labels, secrets and services are tied to. */
export function committeeFingerprint(committee: Uint8Array): string {
  return hashHex(committee, 16);
}

export function imageLabels(args: {
  committee: Uint8Array;
  contextHash: string;
  version: string;
  payload: PayloadKind;
  bakedKeys: boolean;
}): Record<string, string> {
  return {
    [LABELS.managed]: 'true',
    [LABELS.committee]: committeeFingerprint(args.committee),
    [LABELS.context]: args.contextHash,
    [LABELS.version]: args.version,
    [LABELS.payload]: args.payload,
    [LABELS.bakedKeys]: String(args.bakedKeys),
  };
}
