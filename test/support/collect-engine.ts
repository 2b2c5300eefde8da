// An engine for `deploy logs` without Docker: finished nodes, each container's
// /extract an archive of the given files, each service carrying `labels`.
import tar from 'tar-stream';
import type { Engine } from '../../src/docker/engine.js';

/** A tar as the engine's archive endpoint returns /extract: `files` under extract/. */
export async function extractArchive(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', resolve));
  for (const [name, text] of Object.entries(files))
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: `extract/${name}` }, text, (err) => (err ? reject(err) : resolve())),
    );
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface CollectEngineOptions {
  labels?: Record<string, string>;
  /** Awaited before each node's archive is returned (a test holds a run half-way). */
  beforeArchive?: () => Promise<void>;
  /** Awaited when the services are listed (a run begins). */
  beforeList?: () => Promise<void>;
}

/** A stub engine running `extract`'s nodes, each container's /extract holding `extract[node]`. */
export function collectEngine(
  extract: Record<string, Record<string, string>>,
  { labels = {}, beforeArchive, beforeList }: CollectEngineOptions = {},
): Engine {
  const nodes = Object.keys(extract);
  return {
    // As an engine that honours its label filter: every service carries the labels asked for.
    listServices: async (wanted: Record<string, string>) => {
      await beforeList?.();
      return nodes.map((n) => ({
        ID: `s-${n}`,
        Spec: {
          Name: n,
          Labels: { ...wanted, ...labels },
          TaskTemplate: { ContainerSpec: { Command: ['run.sh', 'config'] } },
        },
      }));
    },
    listTasks: async () =>
      nodes.map((n) => ({
        ServiceID: `s-${n}`,
        CreatedAt: '1',
        Status: { State: 'complete', ContainerStatus: { ExitCode: 0, ContainerID: `c-${n}` } },
      })),
    listNodes: async () => [],
    serviceOutput: async () => 'hi\n',
    containerArchive: async (id: string) => {
      await beforeArchive?.();
      return extractArchive(extract[id.slice(2)]!);
    },
  } as unknown as Engine;
}
