// A node's /extract, shipped in its service output (templates/node-lib.sh,
// ship_extract): a gzipped tar in base64 between two marker lines. Copying files
// out of a container works only through the engine that runs it; the service log
// stream reaches the manager from every host.
export const SHIP_BEGIN = 'gomelctl-extract-begin';
export const SHIP_END = 'gomelctl-extract-end';

export interface SeparatedOutput {
  /** The service output without the shipped block. */
  output: string;
  /** The shipped tar.gz, when the output holds a whole block. */
  archive: Uint8Array | undefined;
  /** A block began but did not end: the node was cut off while shipping. */
  cutOff: boolean;
}

export function separateShipped(text: string): SeparatedOutput {
  const kept: string[] = [];
  let block: string[] | undefined;
  let archive: Uint8Array | undefined;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === SHIP_BEGIN) block = [];
    else if (trimmed === SHIP_END && block) {
      archive = new Uint8Array(Buffer.from(block.join(''), 'base64'));
      block = undefined;
    } else if (block) block.push(trimmed);
    else kept.push(line);
  }
  return { output: kept.join('\n'), archive, cutOff: block !== undefined };
}
