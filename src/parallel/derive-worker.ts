// Worker thread: derives the keys of a range of pids (see derive-pool.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { deriveNodes } from '../core/keys/derive.js';

const { seed, pids } = workerData as { seed: Uint8Array; pids: number[] };
const nodes = deriveNodes(seed, pids).map((node) => {
  return { ...node, privateKey: { ...node.privateKey, rmcSecret: node.privateKey.rmcSecret.toString(16) } };
});
parentPort!.postMessage(nodes);
