// `keys gen | verify | show`.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseCommitteeSize, parseHostPrefix, parsePorts, parseSeedHex } from '../core/args.js';
import { encodeBase64, parseAddressLines, parseCommittee, parsePrivateKey, shortFingerprint, type AddressLine, type Member } from '../core/committee.js';
import { checkConfigText } from '../core/config-check.js';
import { CheckFailed, InputError, UsageError } from '../core/errors.js';
import { defaultPorts, nodeRanges, patternAddresses, pidsToDerive, planChanges, planKeys } from '../core/keys-plan.js';
import { deriveNodes } from '../parallel/derive-pool.js';
import { verifyCommitteeShape, verifyPrivateKey } from '../core/verify.js';
import type { FolderSwapHooks } from '../fs/atomic.js';
import { exists } from '../fs/atomic.js';
import { COMMITTEE_FILE, loosePrivateFiles, missingMemberFiles, readKeysDir, readSeedFile, requireCommitteeFile, tightenModes, writeKeysDir } from '../fs/keys-dir.js';
import { recordSizeBeforeResize } from '../fs/configs-dir.js';
import type { Output } from './output.js';

export interface KeysGenOptions {
  n?: string;
  dir: string;
  /** Node k is <prefix><k>; default: the prefix the committee already uses, else "node". */
  hostPrefix?: string;
  ports?: string;
  setupPorts?: string;
  seed?: string;
  seedFile?: string;
  addresses?: string;
  regenerate?: boolean;
  config: string;
  configs: string;
}

/** Address columns from the deploy config: one port per Sync (and SyncSetup) entry. */
async function portsFromConfig(configs: string, name: string): Promise<{ ports: number[]; setupPorts: number[] }> {
  const file = path.join(configs, `${name.replace(/\.json$/, '')}.json`);
  if (!(await exists(file))) return defaultPorts(3, 0); // gomel's docker-distributed test: 9000, 10000, 11000
  const { config, problems } = checkConfigText(await fs.readFile(file, 'utf8'), undefined, name);
  if (!config) throw new InputError(file, problems[0]?.path, `cannot take the address columns from it: ${problems[0]?.message}`, 'fix the config, or pass --ports');
  return defaultPorts(config.Sync.length, config.SyncSetup.length);
}

/** The prefix of a committee named <prefix>1…<prefix>N, if it is one. */
function currentPrefix(members: readonly Member[]): string | undefined {
  const hosts = members.map((m) => m.addresses[0]!.slice(0, m.addresses[0]!.lastIndexOf(':')));
  const prefix = /^(.*?)1$/.exec(hosts[0] ?? '')?.[1];
  return prefix && hosts.every((h, pid) => h === `${prefix}${pid + 1}`) ? prefix : undefined;
}

export async function keysGen(options: KeysGenOptions, out: Output, hooks?: FolderSwapHooks): Promise<void> {
  // Validate every argument before touching the disk.
  const givenPrefix = options.hostPrefix !== undefined ? parseHostPrefix(options.hostPrefix) : undefined;
  const requestedN = options.n !== undefined ? parseCommitteeSize(options.n) : undefined;
  if (options.seed !== undefined && options.seedFile !== undefined) throw new UsageError('--seed and --seed-file: give one of them');
  const optionSeed = options.seed !== undefined ? parseSeedHex(options.seed) : options.seedFile !== undefined ? await readSeedFile(options.seedFile) : undefined;
  if (options.addresses !== undefined && (options.ports !== undefined || options.setupPorts !== undefined)) throw new UsageError('--addresses already gives every address; drop --ports/--setup-ports');
  const explicitPorts = options.ports !== undefined ? parsePorts(options.ports, '--ports', false) : undefined;
  const explicitSetup = options.setupPorts !== undefined ? parsePorts(options.setupPorts, '--setup-ports', true) : undefined;

  const existing = await readKeysDir(options.dir);
  let addresses: AddressLine[];
  if (options.addresses !== undefined) {
    addresses = parseAddressLines(await fs.readFile(options.addresses, 'utf8'), options.addresses);
    if (requestedN !== undefined && requestedN !== addresses.length) throw new UsageError(`--n ${requestedN}: ${options.addresses} lists ${addresses.length} nodes`);
    parseCommitteeSize(String(addresses.length), `${options.addresses} (lines)`);
  } else {
    const n = requestedN ?? existing?.members.length;
    if (n === undefined) throw new UsageError(`--n is required: ${options.dir} holds no committee yet`);
    const fromConfig = explicitPorts && explicitSetup ? undefined : await portsFromConfig(options.configs, options.config);
    const hostPrefix = givenPrefix ?? (existing && currentPrefix(existing.members)) ?? 'node';
    addresses = patternAddresses(n, hostPrefix, explicitPorts ?? fromConfig!.ports, explicitSetup ?? fromConfig!.setupPorts);
  }

  if (existing?.seed && optionSeed && !options.regenerate && Buffer.compare(existing.seed, optionSeed) !== 0) {
    throw new UsageError(`${path.join(options.dir, 'seed')} holds another committee seed; keys are never rotated silently — add --regenerate to replace every key`);
  }
  // --regenerate without a seed of the user's must not re-derive the same keys from the old seed.
  const seed = optionSeed ?? (options.regenerate ? undefined : existing?.seed) ?? new Uint8Array(randomBytes(32));
  const regenerate = Boolean(options.regenerate);
  const derived = await deriveNodes(seed, pidsToDerive(existing, addresses.length, regenerate));
  const plan = planKeys({ existing, seed, addresses, regenerate, keysDir: options.dir, derived });
  const seedChanged = !existing?.seed || Buffer.compare(existing.seed, seed) !== 0;

  const n = addresses.length;
  if (existing && !planChanges(plan) && !seedChanged) {
    const tightened = await tightenModes(existing);
    out.line(`keys: ${n} nodes in ${options.dir}, nothing to change${tightened.length ? `; tightened ${tightened.join(', ')} to 0600` : ''}`);
    return;
  }
  if (existing && existing.members.length !== n) await recordSizeBeforeResize(options.configs, existing.members.length);
  await writeKeysDir(options.dir, plan, seed, existing, hooks);
  const parts = [
    plan.added.length && `added ${nodeRanges(plan.added)}`,
    plan.kept.length && `kept ${nodeRanges(plan.kept)}`,
    plan.removed.length && `removed ${nodeRanges(plan.removed)}`,
    plan.readdressed.length && `new addresses for ${nodeRanges(plan.readdressed)}`,
    plan.regenerated.length && `regenerated ${nodeRanges(plan.regenerated)}`,
  ].filter(Boolean);
  out.line(`keys: ${n} nodes in ${options.dir}: ${parts.join('; ')}`);
  if (existing && seedChanged && !existing.seed) out.line(`keys: new nodes derive from a new committee seed in ${path.join(options.dir, 'seed')}`);
}

export interface KeysVerifyOptions {
  dir: string;
  /** Verify these files instead of a whole folder: a node holds only its own key. */
  committee?: string;
  pk?: string[];
}

export async function keysVerify(options: KeysVerifyOptions, out: Output): Promise<void> {
  if (options.committee !== undefined || options.pk !== undefined) return verifyFiles(options, out);
  const keys = await readKeysDir(options.dir);
  const committeeFile = path.join(options.dir, COMMITTEE_FILE);
  if (!keys) throw new InputError(committeeFile, undefined, 'no committee file', 'create one with `gomelctl keys gen --n 8`');
  verifyCommitteeShape(keys.members, committeeFile, new Set(keys.privateKeys.keys()));
  for (const { pid, file } of keys.keyFiles) verifyPrivateKey(keys.privateKeys.get(pid)!, pid, keys.members, file, committeeFile);
  const missing = missingMemberFiles(keys);
  if (missing.length > 0) {
    throw new CheckFailed(`${options.dir}: missing member file${missing.length > 1 ? 's' : ''} ${missing.map((p) => `${p}.pk`).join(', ')} — restore them, or replace every key with \`gomelctl keys gen --regenerate\``);
  }
  const loose = await loosePrivateFiles(keys);
  if (loose.length) out.warn(`keys: ${loose.length} private file(s) readable by others in ${options.dir} (${loose.join(', ')}); \`gomelctl keys gen\` restores 0600`);
  out.line(`keys: ${committeeFile} OK — ${describe(keys.members)}, every private key matches its line`);
}

async function verifyFiles(options: KeysVerifyOptions, out: Output): Promise<void> {
  const committeeFile = options.committee ?? path.join(options.dir, COMMITTEE_FILE);
  const members = parseCommittee(await readText(committeeFile), committeeFile);
  verifyCommitteeShape(members, committeeFile);
  for (const file of options.pk ?? []) {
    const key = parsePrivateKey(await readText(file), file);
    verifyPrivateKey(key, key.pid, members, file, committeeFile);
  }
  out.line(`keys: ${committeeFile} OK — ${describe(members)}; ${options.pk?.length ?? 0} member file(s) match their lines`);
}

async function readText(file: string): Promise<string> {
  if (!(await exists(file))) throw new InputError(file, undefined, 'no such file', 'check the path');
  return fs.readFile(file, 'utf8');
}

function describe(members: readonly Member[]): string {
  const first = members[0]!;
  return `${members.length} nodes, ${first.addresses.length} address and ${first.setupAddresses.length} setup-address columns`;
}

export async function keysShow(options: { dir: string; json?: boolean }, out: Output): Promise<void> {
  const { members } = await requireCommitteeFile(options.dir);
  const rows = members.map((m, pid) => ({
    pid,
    host: m.addresses[0]!.replace(/:\d+$/, ''),
    addresses: m.addresses,
    setupAddresses: m.setupAddresses,
    publicKey: encodeBase64(m.publicKey),
    publicKeyFingerprint: shortFingerprint(m.publicKey),
    verificationKeyFingerprint: shortFingerprint(m.verificationKey.subarray(1)),
  }));
  if (options.json) {
    out.line(JSON.stringify(rows, null, 2));
    return;
  }
  out.line(['pid', 'host', 'addresses', 'signing pk', 'rmc vk'].join('\t'));
  for (const r of rows) out.line([r.pid, r.host, [...r.setupAddresses.map((a) => `setup:${a}`), ...r.addresses].join(' '), r.publicKeyFingerprint, r.verificationKeyFingerprint].join('\t'));
}
