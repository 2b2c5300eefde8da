// What `--binary` and `--tag` must be before anything reaches the engine.
import { UsageError } from '../errors.js';

/**
 * A reference the engine accepts (docker/distribution's reference grammar, simplified):
 * lower-case path components, an optional registry host[:port], a tag of [\w.-]{1,128}.
 * The host is dot-separated components of letters, digits and inner hyphens, as the grammar's
 * domain-component: `..` or `a..b` is none (`up --tag ../x` was taken as registry "..", hostile pass 7).
 */
const HOST = String.raw`[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*`;
const REGISTRY = new RegExp(String.raw`^${HOST}(?::\d{1,5})?$`);
const REFERENCE = new RegExp(
  String.raw`^(?:${HOST}(?::\d{1,5})?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::\w[\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`,
);

export function checkImageRef(ref: string, option: string): string {
  if (!REFERENCE.test(ref)) {
    throw new UsageError(
      `${option} ${JSON.stringify(ref)}: not an image reference — lower-case names, e.g. 127.0.0.1:5000/aleph:test (no spaces or upper case in the name)`,
    );
  }
  return ref;
}

/** A registry as `host[:port]`: the part before the first "/" of every image reference gomelctl makes. */
export function checkRegistryAddress(text: string, option = '--registry'): string {
  const port = Number(/:(\d+)$/.exec(text)?.[1] ?? 1);
  if (!REGISTRY.test(text) || port < 1 || port > 65535)
    throw new UsageError(`${option} ${JSON.stringify(text)}: expected HOST[:PORT], e.g. 127.0.0.1:5000`);
  return text;
}

/** The image `image rebuild` tags and `deploy spawn` runs when none is named (gomel's docker test's name). */
export const defaultTag = (registry: string) => `${registry}/aleph:test`;

/** Splits `host:port/repo/name:tag` into its registry, repository and tag. */
export function parseImageRef(ref: string): { registry: string | undefined; repository: string; tag: string } {
  const slash = ref.indexOf('/');
  const first = slash > 0 ? ref.slice(0, slash) : '';
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  const rest = hasRegistry ? ref.slice(slash + 1) : ref;
  const at = rest.lastIndexOf(':');
  const [repository, tag] =
    at > rest.lastIndexOf('/') && at > 0 ? [rest.slice(0, at), rest.slice(at + 1)] : [rest, 'latest'];
  return { registry: hasRegistry ? first : undefined, repository, tag };
}

/** The image a command builds (--tag) or runs (--image), and the flag that named it: what its errors say. */
export interface ImageChoice {
  ref: string;
  /** --tag or --image when given, else --registry (the default reference is made from it). */
  option: string;
  /** The registry the swarm pulls it from; undefined only for a reference pinned by digest (--image). */
  registry: string | undefined;
}

/**
 * --tag (image rebuild, up) or --image (deploy spawn) with --registry: the one place they are
 * checked. Every swarm node pulls the image, so it names its registry; deploy spawn also runs
 * a reference pinned by digest as it is.
 */
export function chooseImage(given: string | undefined, registry: string, flag: '--tag' | '--image'): ImageChoice {
  checkRegistryAddress(registry);
  const option = given !== undefined ? flag : '--registry';
  const ref = checkImageRef(given ?? defaultTag(registry), option);
  const parsed = parseImageRef(ref);
  if (!parsed.registry && !(flag === '--image' && ref.includes('@sha256:')))
    throw new UsageError(
      flag === '--tag'
        ? `--tag ${ref}: name the registry the swarm pulls from, e.g. ${defaultTag(registry)}`
        : `--image ${ref}: name the registry every swarm node pulls from (e.g. ${defaultTag(registry)})`,
    );
  return { ref, option, registry: parsed.registry };
}

type BinaryKind = { kind: 'static-elf' } | { kind: 'script'; interpreter: string } | { kind: 'refused'; why: string };

/**
 * Looks at a would-be gomel binary: the base image is busybox, so only a static
 * x86-64 ELF (CGO_ENABLED=0 go build) runs, or an executable script for its sh.
 */
export function inspectBinary(head: Uint8Array, mode: number): BinaryKind {
  if ((mode & 0o111) === 0) return { kind: 'refused', why: 'is not executable' };
  if (head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) {
    if (head[4] !== 2 || head[5] !== 1)
      return { kind: 'refused', why: 'is not a 64-bit little-endian ELF (the swarm runs x86-64)' };
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if (view.getUint16(18, true) !== 0x3e) return { kind: 'refused', why: 'is not an x86-64 program' };
    const phoff = Number(view.getBigUint64(32, true));
    const phentsize = view.getUint16(54, true);
    const phnum = view.getUint16(56, true);
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      if (at + 4 > head.length) break;
      // PT_INTERP: the program needs a dynamic loader, which the busybox base has not.
      if (view.getUint32(at, true) === 3)
        return { kind: 'refused', why: 'is dynamically linked (the busybox base has no libc)' };
    }
    return { kind: 'static-elf' };
  }
  const text = new TextDecoder().decode(head.subarray(0, 128));
  if (text.startsWith('#!')) return { kind: 'script', interpreter: text.slice(2).split('\n')[0]!.trim() };
  return { kind: 'refused', why: 'is neither an ELF program nor a script' };
}
