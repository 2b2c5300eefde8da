// `--code DIR` and `--binary FILE` checked before anything changes (issue 25, N85).
// A path that names nothing is a bad argument (UsageError, exit 2); a file that is
// there but cannot be gomel is a bad file (InputError, exit 1, with the fix).
import { promises as fs } from 'node:fs';
import { InputError, UsageError } from '../core/errors.js';
import { inspectBinary } from '../core/image/payload.js';
import { openInput } from './input.js';

const statOf = (p: string) => fs.stat(p).catch(() => undefined);

export async function checkPayloadFiles(options: { code?: string; binary?: string }): Promise<void> {
  if (options.code !== undefined && options.binary !== undefined)
    throw new UsageError('--code and --binary: choose one payload');
  if (options.code !== undefined) {
    // Only that it is a folder: which layouts of consensus-go it may hold is image rebuild's to say.
    const stat = await statOf(options.code);
    if (!stat?.isDirectory())
      throw new UsageError(
        `--code ${options.code}: ${stat ? 'not a folder' : 'no such folder'} — pass a consensus-go checkout`,
      );
  }
  if (options.binary !== undefined) {
    if (!(await statOf(options.binary)))
      throw new UsageError(
        `--binary ${options.binary}: no such file — build gomel with \`CGO_ENABLED=0 go build ./cmd/gomel\``,
      );
    // Only the head is needed to tell a static ELF or a script; openInput refuses FIFOs and devices.
    const { handle } = await openInput(options.binary, 'gomel binary');
    let head: Uint8Array;
    let mode: number;
    try {
      const buffer = Buffer.alloc(4096);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      head = new Uint8Array(buffer.subarray(0, bytesRead));
      mode = (await handle.stat()).mode;
    } finally {
      await handle.close();
    }
    const kind = inspectBinary(head, mode);
    if (kind.kind === 'refused')
      throw new InputError(
        options.binary,
        undefined,
        `${kind.why}; gomel must be a static x86-64 program`,
        'build it with `CGO_ENABLED=0 go build ./cmd/gomel` (and chmod +x)',
      );
  }
}
