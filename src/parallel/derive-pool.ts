// Key work on all cores: deriving new nodes' keys (keys gen) and deriving the
// public keys of existing member files to check them (keys verify, and the kept
// keys of a resize). A node's keys cost ~0.2 ms and a worker's start-up ~50 ms,
// so below ~500 nodes one thread is as fast (measured: 300 nodes 0.30 s on one
// thread, 0.38 s on two workers; 500 nodes the same).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { deriveNodes as deriveBatch, type DerivedNode } from '../core/keys/derive.js';
import { derivePublicKeys as derivePublicBatch, type DerivedPublicKeys } from '../core/keys/verify.js';
import type { PrivateKey } from '../core/keys/committee.js';
import type { WorkerTask } from './derive-worker.js';

const PARALLEL_THRESHOLD = 500;

/** Splits `items` into one chunk per worker and runs `task` on each; the results (R, one per item) in the items' order. */
async function onWorkers<T, R>(items: readonly T[], workers: number, task: (chunk: T[]) => WorkerTask): Promise<R[]> {
  const size = Math.ceil(items.length / workers);
  const chunks = Array.from({ length: workers }, (_, w) => items.slice(w * size, (w + 1) * size));
  const results = await Promise.all(
    chunks.map(
      (chunk) =>
        new Promise<R[]>((resolve, reject) => {
          const worker = new Worker(new URL('./derive-worker.js', import.meta.url), { workerData: task(chunk) });
          worker.once('message', (results: R[]) => resolve(results));
          worker.once('error', reject);
          // e.g. killed for memory: no 'error' and no result; once resolved, this rejection is a no-op
          worker.once('exit', (code) => reject(new Error(`a key worker exited (code ${code}) without its result`)));
        }),
    ),
  );
  return results.flat();
}

export async function deriveNodesInParallel(
  seed: Uint8Array,
  pids: readonly number[],
  workers = availableParallelism(),
): Promise<Map<number, DerivedNode>> {
  const nodes =
    pids.length < PARALLEL_THRESHOLD || workers < 2
      ? deriveBatch(seed, pids)
      : await onWorkers<number, DerivedNode>(pids, workers, (chunk) => ({ task: 'derive', seed, pids: chunk }));
  return new Map(nodes.map((n) => [n.privateKey.pid, n]));
}

/** derivePublicKeys (core/keys/verify.ts), on every core for many keys. */
export async function derivePublicKeysInParallel(
  keys: readonly PrivateKey[],
  workers = availableParallelism(),
): Promise<DerivedPublicKeys[]> {
  if (keys.length < PARALLEL_THRESHOLD || workers < 2) return derivePublicBatch(keys);
  return onWorkers<PrivateKey, DerivedPublicKeys>(keys, workers, (chunk) => ({ task: 'derivePublic', keys: chunk }));
}
