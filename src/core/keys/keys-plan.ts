// Plans a `keys gen`: which nodes are kept, added, removed or re-addressed.
// Existing keys are never replaced unless `regenerate` is set (docs/keys.md, "Resizing").
import type { AddressLine, Member, PrivateKey } from './committee.js';
import { deriveNode, memberOf, type DerivedNode } from './derive.js';
import { quoted } from '../bounded.js';
import { InputError } from '../errors.js';
import { z } from 'zod';
import { readJsonAs } from '../json-input.js';

interface ExistingCommittee {
  members: Member[];
  privateKeys: Map<number, PrivateKey>;
}

interface KeysPlanInput {
  existing: ExistingCommittee | undefined;
  seed: Uint8Array;
  addresses: AddressLine[]; // one per node of the new committee, pid order
  regenerate: boolean;
  keysDir: string; // only for messages
  /** Nodes derived ahead (e.g. on worker threads); the rest are derived here. */
  derived?: ReadonlyMap<number, DerivedNode>;
}

export interface KeysPlan {
  members: Member[];
  privateKeys: PrivateKey[];
  added: number[];
  kept: number[];
  removed: number[];
  readdressed: number[];
  regenerated: number[];
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function planKeys({ existing, seed, addresses, regenerate, keysDir, derived }: KeysPlanInput): KeysPlan {
  const plan: KeysPlan = {
    members: [],
    privateKeys: [],
    added: [],
    kept: [],
    removed: [],
    readdressed: [],
    regenerated: [],
  };
  const old = existing?.members ?? [];
  addresses.forEach((address, pid) => {
    const previous = old[pid];
    if (previous && !regenerate) {
      const key = existing!.privateKeys.get(pid);
      if (!key)
        throw new InputError(
          `${keysDir}/${pid}.pk`,
          undefined,
          'missing, but the committee lists this node',
          'restore the file, or replace every key with `keys gen --regenerate`',
        );
      plan.members.push({ ...previous, ...address });
      plan.privateKeys.push(key);
      plan.kept.push(pid);
      if (
        !sameList(previous.addresses, address.addresses) ||
        !sameList(previous.setupAddresses, address.setupAddresses)
      )
        plan.readdressed.push(pid);
      return;
    }
    const node = derived?.get(pid) ?? deriveNode(seed, pid);
    plan.members.push(memberOf(node, address));
    plan.privateKeys.push(node.privateKey);
    (previous ? plan.regenerated : plan.added).push(pid);
  });
  for (let pid = addresses.length; pid < old.length; pid++) plan.removed.push(pid);
  return plan;
}

/** The pids whose keys a plan will derive: new nodes, or all of them with --regenerate. */
export function pidsToDerive(existing: ExistingCommittee | undefined, n: number, regenerate: boolean): number[] {
  const kept = regenerate ? 0 : Math.min(existing?.members.length ?? 0, n);
  return Array.from({ length: n - kept }, (_, i) => kept + i);
}

export function planChanges(plan: KeysPlan): boolean {
  return plan.added.length + plan.removed.length + plan.readdressed.length + plan.regenerated.length > 0;
}

/** Addresses `<prefix><pid+1>:<port>` per column, as gomel's docker-distributed test names its nodes. */
export function patternAddresses(
  n: number,
  hostPrefix: string,
  ports: readonly number[],
  setupPorts: readonly number[],
): AddressLine[] {
  return Array.from({ length: n }, (_, pid) => ({
    setupAddresses: setupPorts.map((p) => `${hostPrefix}${pid + 1}:${p}`),
    addresses: ports.map((p) => `${hostPrefix}${pid + 1}:${p}`),
  }));
}

/** Default ports: one per Sync entry, 9000, 10000, 11000, …; setup ports continue after them. */
export function defaultPorts(syncCount: number, setupCount: number): { ports: number[]; setupPorts: number[] } {
  const ports = Array.from({ length: syncCount }, (_, i) => 9000 + 1000 * i);
  const setupPorts = Array.from({ length: setupCount }, (_, i) => 9000 + 1000 * (syncCount + i));
  return { ports, setupPorts };
}

/**
 * The address columns a gomel config asks for: one per Sync entry, one setup
 * column per SyncSetup entry. Reads just those two lists, so `keys gen` need not
 * load the config checker; the rest of the config is `config check`'s business.
 * Undefined when they are not both lists.
 */
export function configColumns(text: string): { sync: number; syncSetup: number } | undefined {
  const lists = readJsonAs(text, z.looseObject({ Sync: z.array(z.unknown()), SyncSetup: z.array(z.unknown()) }));
  return lists && { sync: lists.Sync.length, syncSetup: lists.SyncSetup.length };
}

/**
 * An --addresses file as gomel needs it, checked before anything is written:
 * every line with line 1's columns (gomel wires Sync[i] to column i of every
 * line: A12), and no address twice (two nodes cannot listen on one: N100).
 */
export function checkAddressLines(lines: AddressLine[], file: string): AddressLine[] {
  const first = lines[0];
  const seen = new Map<string, number>();
  lines.forEach((line, i) => {
    if (
      line.addresses.length !== first!.addresses.length ||
      line.setupAddresses.length !== first!.setupAddresses.length
    ) {
      throw new InputError(
        file,
        `${i + 1}`,
        `${line.setupAddresses.length} setup and ${line.addresses.length} address columns, line 1 has ${first!.setupAddresses.length} and ${first!.addresses.length}`,
        'give every node the same columns (one per Sync and SyncSetup entry)',
      );
    }
    for (const address of [...line.setupAddresses, ...line.addresses]) {
      const other = seen.get(address);
      if (other !== undefined)
        throw new InputError(
          file,
          `${i + 1}`,
          `address ${quoted(address)} is also on line ${other}; two services cannot listen on one address`,
          'give each node and column its own host:port',
        );
      seen.set(address, i + 1);
    }
  });
  return lines;
}

/** A compact "1..8" style rendering of node numbers (pid+1). */
export function nodeRanges(pids: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < pids.length) {
    let j = i;
    while (j + 1 < pids.length && pids[j + 1] === pids[j]! + 1) j++;
    parts.push(i === j ? `node${pids[i]! + 1}` : `node${pids[i]! + 1}..node${pids[j]! + 1}`);
    i = j + 1;
  }
  return parts.join(', ');
}
