// The control token of a deployment (gomelctl fault, templates/faults.sh control_request): a random
// secret, made when deploy spawn first deploys on a network, handed to every node as a Swarm secret,
// and kept here, 0600 beside the committee's keys: the Engine API never returns a secret's value, and
// `gomelctl fault` must put the token in each request. A file, not a secret mounted into the messenger:
// the messenger is a plain container, which cannot mount a Swarm secret, and a service in its place
// would be scheduled, waited for and removed on every fault. An unchanged token keeps an unchanged
// node's spec, so a redeploy keeps it, and it keeps answering.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { InputError } from '../core/errors.js';
import { writeFileAtomic } from './atomic.js';
import { readOptionalInput } from './input.js';

/** A kept token's file name: one of ours in the keys folder (keys gen carries it over, 0600). */
export const isControlTokenFile = (name: string) => /^\.gomelctl-control\.[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name);

/** Where the token of the deployment on `network` is kept (network names are [A-Za-z0-9_.-]). */
export const controlTokenFile = (keysDir: string, network: string) =>
  path.join(keysDir, `.gomelctl-control.${network}`);

/** 32 random bytes, hex: what every request must start with. */
export const newControlToken = (): string => randomBytes(32).toString('hex');

/** The kept token, or undefined when there is none yet. */
export async function readControlToken(keysDir: string, network: string): Promise<string | undefined> {
  const file = controlTokenFile(keysDir, network);
  const text = await readOptionalInput(file, 'control token file', 1024);
  if (text === undefined) return undefined;
  const token = text.trim();
  if (!/^[0-9a-f]{64}$/.test(token))
    throw new InputError(
      file,
      undefined,
      'not a control token gomelctl wrote',
      'delete it; the next deploy spawn writes a new one',
    );
  return token;
}

export async function writeControlToken(keysDir: string, network: string, token: string): Promise<void> {
  await writeFileAtomic(controlTokenFile(keysDir, network), `${token}\n`, 0o600);
}
