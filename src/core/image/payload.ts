// What `--binary` and `--tag` must be before anything reaches the engine.
import { UsageError } from '../errors.js';

/**
 * A reference the engine accepts (docker/distribution's reference grammar, simplified):
 * lower-case path components, an optional registry host[:port], a tag of [\w.-]{1,128}.
 */
const REGISTRY = /^[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::\d{1,5})?$/;
const REFERENCE =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

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
