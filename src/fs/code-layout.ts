// Where `--code DIR` (and `--bn256 DIR`) keep consensus-go and github.com/cloudflare/bn256.
// gomel 2019 builds only in GOPATH mode, and Debian packages everything else it
// imports, so a user brings just these two checkouts; gomelctl lays out the
// GOPATH itself in the build context (codeFiles below).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError, UsageError } from '../core/errors.js';
import { BN256_PKG, CONSENSUS_PKG, layOutGopath, type ContextFile } from '../core/image/context.js';
import { readTree } from './templates.js';

const BN256_FIX = 'pass --bn256 DIR (a checkout at 828ba4f)';

interface CodeLayout {
  /** gopath: DIR/src/…; checkout: DIR is consensus-go; side-by-side: DIR/consensus-go and DIR/bn256. */
  kind: 'gopath' | 'checkout' | 'side-by-side';
  /** The --code folder, named in errors. */
  dir: string;
  consensus: string;
  bn256: string;
}

const isDir = async (p: string) => (await fs.stat(p).catch(() => undefined))?.isDirectory() ?? false;
const isGomelCheckout = async (p: string) =>
  (await isDir(path.join(p, 'cmd/gomel'))) && (await isDir(path.join(p, 'pkg')));

export async function resolveCode(code: string, bn256Flag?: string): Promise<CodeLayout> {
  const stat = await fs.stat(code).catch(() => undefined);
  if (!stat?.isDirectory())
    throw new UsageError(
      `--code ${code}: ${stat ? 'not a folder' : 'no such folder'} — pass a consensus-go checkout (cmd/gomel, pkg/)`,
    );
  if (bn256Flag !== undefined && !(await isDir(bn256Flag)))
    throw new UsageError(`--bn256 ${bn256Flag}: no such folder — ${BN256_FIX}`);

  const gopath = path.join(code, 'src', CONSENSUS_PKG);
  let layout: Omit<CodeLayout, 'bn256'> & { bn256: string | undefined };
  if (await isDir(path.join(gopath, 'cmd/gomel')))
    layout = { kind: 'gopath', dir: code, consensus: gopath, bn256: path.join(code, 'src', BN256_PKG) };
  // Plain checkout: `git clone` of consensus-go and of bn256 side by side is the obvious layout.
  else if (await isGomelCheckout(code))
    layout = { kind: 'checkout', dir: code, consensus: code, bn256: path.join(code, '..', 'bn256') };
  else if (await isGomelCheckout(path.join(code, 'consensus-go')))
    layout = {
      kind: 'side-by-side',
      dir: code,
      consensus: path.join(code, 'consensus-go'),
      bn256: path.join(code, 'bn256'),
    };
  else {
    throw new InputError(
      code,
      undefined,
      `not a consensus-go checkout (no cmd/gomel and pkg/), nor a folder holding consensus-go/ and bn256/, nor a GOPATH (no src/${CONSENSUS_PKG}/cmd/gomel)`,
      'pass a consensus-go checkout at e8d0088 (README, Running real gomel)',
    );
  }
  const bn256 = bn256Flag ?? layout.bn256;
  if (!bn256 || !(await isDir(bn256))) throw new InputError(code, undefined, `--code: no ${BN256_PKG}`, BN256_FIX);
  // bn256.go holds G2.Unmarshal, what gomel reads committees with; any other folder is a mistake.
  if (!(await fs.stat(path.join(bn256, 'bn256.go')).catch(() => undefined)))
    throw new InputError(bn256, undefined, `not a ${BN256_PKG} checkout (no bn256.go)`, BN256_FIX);
  return { ...layout, bn256 };
}

/** The build context's GOPATH for a resolved layout, read into memory. */
export async function codeFiles(layout: CodeLayout): Promise<ContextFile[]> {
  if (layout.kind !== 'gopath')
    return layOutGopath({ consensus: await readTree(layout.consensus), bn256: await readTree(layout.bn256) });
  // The old layout goes in whole (it may carry packages Debian lacks); a --bn256 replaces its own.
  const own = path.resolve(layout.bn256) === path.resolve(layout.dir, 'src', BN256_PKG);
  return layOutGopath({ gopath: await readTree(layout.dir), bn256: own ? undefined : await readTree(layout.bn256) });
}
