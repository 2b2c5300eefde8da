// Worker thread of derive-pool.ts: one task, its result posted back.
// Structured cloning carries bigints and Uint8Arrays as they are.
import { parentPort, workerData } from 'node:worker_threads';
import type { PrivateKey } from '../core/keys/committee.js';
import { deriveNodes } from '../core/keys/derive.js';
import { derivePublicKeys } from '../core/keys/verify.js';

export type WorkerTask =
  { task: 'derive'; seed: Uint8Array; pids: number[] } | { task: 'derivePublic'; keys: PrivateKey[] };

const task = workerData as WorkerTask | undefined;
if (task && parentPort)
  parentPort.postMessage(task.task === 'derive' ? deriveNodes(task.seed, task.pids) : derivePublicKeys(task.keys));
