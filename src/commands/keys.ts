// `keys gen | verify | show`.
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseCommitteeSize, parseHostPrefix, parsePorts, parseSeedHex } from '../core/args.js';
import {
  encodeBase64,
  currentPrefix,
  memberHost,
  parseAddressLines,
  parseCommittee,
  parsePrivateKey,
  shortFingerprint,
  type AddressLine,
  type Member,
} from '../core/keys/committee.js';
import { CheckFailed, InputError, UsageError } from '../core/errors.js';
import {
  checkAddressLines,
  configColumns,
  defaultPorts,
  nodeRanges,
  patternAddresses,
  pidsToDerive,
  planChanges,
  planKeys,
  type KeysPlan,
} from '../core/keys/keys-plan.js';
import { deriveNodesInParallel, derivePublicKeysInParallel } from '../parallel/derive-pool.js';
import { checkPrivateKeys, precheckPrivateKeys, verifyCommitteeShape, type KeyToVerify } from '../core/keys/verify.js';
import type { FolderSwapHooks } from '../fs/atomic.js';
import { exists } from '../fs/atomic.js';
import {
  COMMITTEE_FILE,
  inspectKeysFolder,
  loosePrivateFiles,
  missingMemberFiles,
  readKeysDir,
  readSeedFile,
  requireCommitteeFile,
  resolveFolder,
  SEED_FILE,
  tightenModes,
  stageKeysDir,
  writeKeysDir,
  type KeysDir,
} from '../fs/keys-dir.js';
import { readInput } from '../fs/input.js';
import { requireConfig } from '../fs/configs-dir.js';
import { DEFAULT_CONFIG, DEFAULT_CONFIGS } from './shared-flags.js';
import { waitForWriter, withLock } from '../fs/lock.js';
import { printJson, type Output } from './output.js';
import type { KeysGenFlags, KeysShowFlags, KeysVerifyFlags } from './keys.flags.js';

/** What `keys gen` was given: its declared flags (keys.flags.ts). */
type KeysGenOptions = KeysGenFlags;

/**
 * The config whose Sync lists set the address columns: the one --config and --configs name, which
 * must be there (exit 2 before any key changes); with neither flag configs/config.json if it is there,
 * else undefined (the default columns).
 */
async function configFor(options: Pick<KeysGenOptions, 'config' | 'configs'>): Promise<string | undefined> {
  const configs = options.configs ?? DEFAULT_CONFIGS;
  const name = (options.config ?? DEFAULT_CONFIG).replace(/\.json$/, '');
  if (options.config !== undefined || options.configs !== undefined) return requireConfig(configs, name);
  const file = path.join(configs, `${name}.json`);
  return (await exists(file)) ? file : undefined;
}

/** Address columns from the deploy config: one port per Sync (and SyncSetup) entry. */
async function portsFromConfig(file: string | undefined): Promise<{ ports: number[]; setupPorts: number[] }> {
  if (file === undefined) return defaultPorts(3, 0); // gomel's docker-distributed test: 9000, 10000, 11000
  const text = await readInput(file, 'config');
  const columns = configColumns(text);
  if (columns) return defaultPorts(columns.sync, columns.syncSetup);
  // Only now the full checker, to say what is wrong: loading zod costs ~80 ms (issue 14).
  const { checkConfigText } = await import('../core/config/check.js');
  const { problems } = checkConfigText(text, undefined, path.basename(file, '.json'));
  const problem = problems.find((p) => /^Sync(Setup)?\b/.test(p.path ?? '')) ?? problems[0];
  throw new InputError(
    file,
    problem?.path,
    `cannot take the address columns from it: ${problem?.message ?? 'Sync and SyncSetup must be lists'}`,
    'fix the config, or pass --ports',
  );
}

export async function keysGen(options: KeysGenOptions, out: Output, hooks?: FolderSwapHooks): Promise<void> {
  // Validate every argument before touching the disk.
  const givenPrefix = options.hostPrefix !== undefined ? parseHostPrefix(options.hostPrefix) : undefined;
  const requestedN = options.n; // parsed with its flag (keys.flags.ts)
  if (options.seed !== undefined && options.seedFile !== undefined)
    throw new UsageError('--seed and --seed-file: give one of them');
  const optionSeed =
    options.seed !== undefined
      ? parseSeedHex(options.seed)
      : options.seedFile !== undefined
        ? await readSeedFile(options.seedFile)
        : undefined;
  if (options.addresses !== undefined && (options.ports !== undefined || options.setupPorts !== undefined))
    throw new UsageError('--addresses already gives every address; drop --ports/--setup-ports');
  const explicitPorts = options.ports !== undefined ? parsePorts(options.ports, '--ports', false) : undefined;
  const explicitSetup =
    options.setupPorts !== undefined ? parsePorts(options.setupPorts, '--setup-ports', true) : undefined;
  const addressLines =
    options.addresses !== undefined
      ? checkAddressLines(
          parseAddressLines(await readInput(options.addresses, 'addresses file'), options.addresses),
          options.addresses,
        )
      : undefined;
  const config = await configFor(options);
  // A run that changes nothing needs no lock (a read-only parent folder: N13). Read without it, the
  // folder may be mid-swap by another keys gen (for a moment it is not there, or holds the new
  // committee before its new key files): on a failed read, wait for that writer and read again.
  const unlocked = async () => {
    const dir = await resolveFolder(options.dir);
    const parsed = {
      givenPrefix,
      requestedN,
      optionSeed,
      explicitPorts,
      explicitSetup,
      addressLines,
      dir,
      config,
      locked: false,
    };
    return { parsed, done: await generate(options, out, hooks, parsed) };
  };
  const first = await unlocked().catch(async (error: unknown) => {
    if (error instanceof UsageError) throw error;
    await waitForWriter(path.resolve(options.dir));
    return unlocked();
  });
  if (first.done) return;
  // One writer at a time: a second keys gen on this folder waits, and never touches this one's work in progress.
  await withLock(first.parsed.dir, () => generate(options, out, hooks, { ...first.parsed, locked: true }));
}

interface ParsedGenOptions {
  givenPrefix: string | undefined;
  requestedN: number | undefined;
  optionSeed: Uint8Array | undefined;
  explicitPorts: number[] | undefined;
  explicitSetup: number[] | undefined;
  addressLines: AddressLine[] | undefined;
  /** The keys folder's real path: what is locked and renamed. */
  dir: string;
  /** The config file that sets the address columns, if any (configFor). */
  config: string | undefined;
  locked: boolean;
}

/** Plans the run and, holding the lock, carries it out; without the lock it returns false as soon as something would change. */
async function generate(
  options: KeysGenOptions,
  out: Output,
  hooks: FolderSwapHooks | undefined,
  p: ParsedGenOptions,
): Promise<boolean> {
  const folder = await inspectKeysFolder(p.dir);
  if (folder.foreign.length) {
    throw new InputError(
      options.dir,
      undefined,
      `holds ${folder.foreign.slice(0, 3).join(', ')}${folder.foreign.length > 3 ? ', …' : ''}, which gomelctl does not manage (it rewrites the keys folder as a whole)`,
      `move them out${folder.foreignLink ? ' (gomelctl never writes through a link: its target is unchanged)' : ''}, or pass another --keys folder`,
    );
  }
  if (folder.orphanKeys.length) {
    throw new InputError(
      path.join(options.dir, COMMITTEE_FILE),
      undefined,
      `missing, but ${folder.orphanKeys.length} private key file(s) are here (${folder.orphanKeys.slice(0, 3).join(', ')}${folder.orphanKeys.length > 3 ? ', …' : ''}); keys are never replaced`,
      'restore committee.ka (e.g. from a backup or the image), or move the key files away to start a new committee',
    );
  }
  const existing = await readKeysDir(p.dir);
  if (
    !p.locked &&
    (!existing || options.regenerate || (p.requestedN ?? existing.members.length) !== existing.members.length)
  )
    return false;
  if (existing && p.locked) await verifyKept(existing, p.requestedN ?? existing.members.length, options.regenerate);
  const storedSeed =
    existing?.seed ?? (folder.seedWithoutCommittee ? await readSeedFile(path.join(p.dir, SEED_FILE)) : undefined);

  let addresses: AddressLine[];
  if (p.addressLines) {
    addresses = p.addressLines;
    if (p.requestedN !== undefined && p.requestedN !== addresses.length)
      throw new UsageError(`--n ${p.requestedN}: ${options.addresses} lists ${addresses.length} nodes`);
    parseCommitteeSize(String(addresses.length), `${options.addresses} (lines)`);
  } else {
    const n = p.requestedN ?? existing?.members.length;
    if (n === undefined) throw new UsageError(`--n is required: ${options.dir} holds no committee yet`);
    const fromConfig = p.explicitPorts && p.explicitSetup ? undefined : await portsFromConfig(p.config);
    const hostPrefix = p.givenPrefix ?? (existing && currentPrefix(existing.members)) ?? 'node';
    addresses = patternAddresses(
      n,
      hostPrefix,
      p.explicitPorts ?? fromConfig!.ports,
      p.explicitSetup ?? fromConfig!.setupPorts,
    );
  }
  const n = addresses.length;
  const strayInside = (existing?.keyFiles ?? [])
    .filter((k) => k.pid >= existing!.members.length && k.pid < n)
    .map((k) => `${k.pid}.pk`);
  if (strayInside.length && !options.regenerate) {
    throw new InputError(
      path.join(options.dir, COMMITTEE_FILE),
      undefined,
      `has ${existing!.members.length} lines, but ${strayInside.join(', ')} ${strayInside.length > 1 ? 'exist' : 'exists'} beyond them; a ${n}-node committee would replace ${strayInside.length > 1 ? 'them' : 'it'}`,
      'restore the full committee.ka, or move those key files away (or replace every key with --regenerate)',
    );
  }

  if (storedSeed && p.optionSeed && !options.regenerate && Buffer.compare(storedSeed, p.optionSeed) !== 0) {
    throw new UsageError(
      `${path.join(options.dir, 'seed')} holds another committee seed; keys are never rotated silently — add --regenerate to replace every key`,
    );
  }
  // --regenerate without a seed of the user's must not re-derive the same keys from the old seed.
  const seed = p.optionSeed ?? (options.regenerate ? undefined : storedSeed) ?? new Uint8Array(randomBytes(32));
  const regenerate = Boolean(options.regenerate);
  const newPids = pidsToDerive(existing, n, regenerate);
  if (!p.locked && newPids.length) return false;
  // New member files are created while their keys are derived on the other cores
  // (fs/atomic.ts, stageFolder). With nothing new, nothing is staged: an
  // unchanged committee is left alone, even in a read-only folder.
  const derivation = deriveNodesInParallel(seed, newPids);
  derivation.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  let staged = newPids.length ? await stageKeysDir(p.dir, newPids) : undefined;
  let plan: KeysPlan;
  try {
    plan = planKeys({ existing, seed, addresses, regenerate, keysDir: p.dir, derived: await derivation });
    if (existing && !planChanges(plan) && !seedChanged(existing, seed)) {
      const tightened = await tightenModes(existing);
      out.line(
        `keys: ${n} nodes in ${options.dir}, nothing to change${tightened.length ? `; tightened ${tightened.join(', ')} to 0600` : ''}${strayNote(existing, n)}`,
      );
      return true;
    }
    if (!p.locked) return false;
    // The size before a resize is kept with the committee (keys-dir.ts HISTORY_FILE), for config sync.
    staged ??= await stageKeysDir(p.dir, []);
    await writeKeysDir(staged, p.dir, plan, seed, existing, hooks);
  } finally {
    await staged?.discard(); // a no-op once committed
  }
  const parts = [
    plan.added.length && `added ${nodeRanges(plan.added)}`,
    plan.kept.length && `kept ${nodeRanges(plan.kept)}`,
    plan.removed.length &&
      `removed ${nodeRanges(plan.removed)} (deleted ${plan.removed.map((pid) => `${pid}.pk`).join(', ')})`,
    plan.readdressed.length && `new addresses for ${nodeRanges(plan.readdressed)}`,
    plan.regenerated.length && `regenerated ${nodeRanges(plan.regenerated)}`,
  ].filter(Boolean);
  out.line(`keys: ${n} nodes in ${options.dir}: ${parts.join('; ')}${strayNote(existing, n)}`);
  if (existing && seedChanged(existing, seed) && !existing.seed)
    out.line(`keys: new nodes derive from a new committee seed in ${path.join(options.dir, 'seed')}`);
  return true;
}

const seedChanged = (existing: KeysDir, seed: Uint8Array) =>
  !existing.seed || Buffer.compare(existing.seed, seed) !== 0;

/** Member files beyond both the old and the new committee: kept, and said so. */
function strayNote(existing: KeysDir | undefined, n: number): string {
  const strays = [
    ...(existing?.keyFiles ?? [])
      .filter((k) => k.pid >= Math.max(n, existing!.members.length))
      .map((k) => `${k.pid}.pk`),
    ...(existing?.strayNames ?? []),
  ];
  return strays.length
    ? `; kept ${strays.join(', ')}, which ${strays.length > 1 ? 'have' : 'has'} no committee line`
    : '';
}

/** A key carried into the new committee must be the one its line says: a resize never carries a corrupt key forward. */
async function verifyKept(existing: KeysDir, n: number, regenerate: boolean | undefined): Promise<void> {
  if (regenerate) return;
  const kept = existing.keyFiles.filter(({ pid }) => pid < Math.min(n, existing.members.length));
  await verifyPrivateKeys(
    kept.map(({ pid, file }) => ({ key: existing.privateKeys.get(pid)!, expectedPid: pid, file })),
    existing.members,
    path.join(existing.dir, COMMITTEE_FILE),
  );
}

/** Member files against their committee lines, the public keys derived on every core. */
async function verifyPrivateKeys(
  keys: readonly KeyToVerify[],
  members: readonly Member[],
  committeeFile: string,
): Promise<void> {
  precheckPrivateKeys(keys, members, committeeFile);
  checkPrivateKeys(keys, await derivePublicKeysInParallel(keys.map(({ key }) => key)), members, committeeFile);
}

type KeysVerifyOptions = KeysVerifyFlags;

export async function keysVerify(options: KeysVerifyOptions, out: Output): Promise<void> {
  if (options.committee !== undefined || options.pk !== undefined) return verifyFiles(options, out);
  const keys = await readKeysDir(options.dir);
  const committeeFile = path.join(options.dir, COMMITTEE_FILE);
  if (!keys)
    throw new InputError(committeeFile, undefined, 'no committee file', 'create one with `gomelctl keys gen --n 8`');
  verifyCommitteeShape(keys.members, committeeFile, new Set(keys.privateKeys.keys()));
  if (keys.strayNames.length) {
    const name = keys.strayNames[0]!;
    throw new InputError(
      path.join(keys.dir, name),
      undefined,
      `not a member file name: gomel opens ${Number(name.slice(0, -3))}.pk for that pid, never this file, so its key is not checked${keys.strayNames.length > 1 ? ` (nor ${keys.strayNames.slice(1).join(', ')})` : ''}`,
      'move it out of the keys folder (gomelctl never deletes it)',
    );
  }
  await verifyPrivateKeys(
    keys.keyFiles.map(({ pid, file }) => ({ key: keys.privateKeys.get(pid)!, expectedPid: pid, file })),
    keys.members,
    committeeFile,
  );
  const missing = missingMemberFiles(keys);
  if (missing.length > 0) {
    throw new CheckFailed(
      `${options.dir}: missing member file${missing.length > 1 ? 's' : ''} ${missing.map((p) => `${p}.pk`).join(', ')} — restore them, or replace every key with \`gomelctl keys gen --regenerate\``,
    );
  }
  const loose = await loosePrivateFiles(keys);
  if (loose.length)
    out.warn(
      `keys: ${loose.length} private file(s) readable by others in ${options.dir} (${loose.join(', ')}); \`gomelctl keys gen\` restores 0600`,
    );
  out.line(`keys: ${committeeFile} OK — ${describe(keys.members)}, every private key matches its line`);
}

async function verifyFiles(options: KeysVerifyOptions, out: Output): Promise<void> {
  const committeeFile = options.committee ?? path.join(options.dir, COMMITTEE_FILE);
  const members = parseCommittee(await readInput(committeeFile, 'committee file'), committeeFile);
  verifyCommitteeShape(members, committeeFile);
  const keys: KeyToVerify[] = [];
  for (const file of options.pk ?? []) {
    const key = parsePrivateKey(await readInput(file, 'member file'), file);
    keys.push({ key, expectedPid: key.pid, file });
  }
  await verifyPrivateKeys(keys, members, committeeFile);
  out.line(
    `keys: ${committeeFile} OK — ${describe(members)}; ${options.pk?.length ?? 0} member file(s) match their lines`,
  );
}

function describe(members: readonly Member[]): string {
  const first = members[0]!;
  return `${members.length} nodes, ${first.addresses.length} address and ${first.setupAddresses.length} setup-address columns`;
}

export async function keysShow(options: Pick<KeysShowFlags, 'dir' | 'json'>, out: Output): Promise<void> {
  const { members } = await requireCommitteeFile(options.dir);
  const rows = members.map((m, pid) => ({
    pid,
    host: memberHost(m),
    addresses: m.addresses,
    setupAddresses: m.setupAddresses,
    publicKey: encodeBase64(m.publicKey),
    publicKeyFingerprint: shortFingerprint(m.publicKey),
    verificationKeyFingerprint: shortFingerprint(m.verificationKey.subarray(1)),
  }));
  if (options.json) {
    printJson(out, rows);
    return;
  }
  out.line(['pid', 'host', 'addresses', 'signing pk', 'rmc vk'].join('\t'));
  for (const r of rows)
    out.line(
      [
        r.pid,
        r.host,
        [...r.setupAddresses.map((a) => `setup:${a}`), ...r.addresses].join(' '),
        r.publicKeyFingerprint,
        r.verificationKeyFingerprint,
      ].join('\t'),
    );
}
