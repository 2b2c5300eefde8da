// Packs a planned build context into a tar held in memory (never a temp folder).
// Fixed mtime, owner and order make the tar byte-identical for the same files,
// so its hash identifies the image content and the engine's layer cache hits.
import tar from 'tar-stream';
import type { ContextFile } from '../core/image/context.js';

export async function packContext(files: readonly ContextFile[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const f of files) {
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        { name: f.name, mode: f.mode, mtime: new Date(0), uid: 0, gid: 0, uname: 'root', gname: 'root' },
        Buffer.from(f.content),
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A tar's entry; `linkname`: what a link entry points to. */
interface TarEntry {
  name: string;
  mode: number;
  type: string;
  linkname?: string;
  content: Buffer;
}

/** Lists a tar's entries (name, mode, content): for tests and for reading `docker save` output. */
export async function readTar(data: Buffer): Promise<TarEntry[]> {
  const extract = tar.extract();
  const out: TarEntry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c) => parts.push(c as Buffer));
      stream.on('end', () => {
        out.push({
          name: header.name,
          mode: header.mode ?? 0,
          type: header.type ?? 'file',
          ...(header.linkname ? { linkname: header.linkname } : {}),
          content: Buffer.concat(parts),
        });
        next();
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(data);
  await done;
  return out;
}
