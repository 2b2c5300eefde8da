// The Docker Engine seam: every Engine API call gomelctl makes goes through
// here, and this is the only file that constructs Dockerode. Dockerode reads
// DOCKER_HOST (and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) like the docker CLI.
import { Writable } from 'node:stream';
import Docker from 'dockerode';
import { EnvironmentError } from '../core/errors.js';
import type { ProgressEvent } from '../core/progress.js';

export type { ProgressEvent };

export type ProgressHandler = (event: ProgressEvent) => void;

export function engineTarget(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

/** The engine answered with an error status. */
export class EngineError extends EnvironmentError {
  override name = 'EngineError';
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

/**
 * Errors worth another try: under load (2 cores, 64 starting containers) the
 * engine answers listings with HTTP 500 "DeadlineExceeded" for a while.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof EngineError) return error.statusCode >= 500;
  const e = error as NodeJS.ErrnoException;
  return e?.code === 'ECONNRESET' || e?.code === 'EPIPE' || /socket hang up|DeadlineExceeded|deadline exceeded/i.test(e?.message ?? '');
}

export interface RetryPolicy {
  /** How long to keep trying, in ms, before the error stands. */
  budgetMs: number;
  /** First back-off, doubled per attempt (at most 5 s). */
  firstDelayMs: number;
  /** Told of each failed attempt that will be retried. */
  onRetry?: (error: Error, attempt: number) => void;
}

export const DEFAULT_RETRY: RetryPolicy = { budgetMs: 120_000, firstDelayMs: 500 };

/** Runs `fn`, retrying transient engine errors with back-off for a bounded time. */
export async function retryTransient<T>(fn: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<T> {
  const giveUp = Date.now() + policy.budgetMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransient(error) || Date.now() >= giveUp) throw error;
      policy.onRetry?.(error as Error, attempt);
      await new Promise((r) => setTimeout(r, Math.min(policy.firstDelayMs * 2 ** (attempt - 1), 5000)));
    }
  }
}

/** Maps transport failures to one line that says how to start the engine. */
export function engineError(error: unknown, doing: string): Error {
  const e = error as NodeJS.ErrnoException & { statusCode?: number; json?: { message?: string }; reason?: string };
  if (e && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'EACCES' || e.code === 'ECONNRESET' || e.code === 'EHOSTUNREACH')) {
    const hint = process.env.DOCKER_HOST ? 'start that engine, or unset DOCKER_HOST' : 'start one with `bash docker/setup.sh` (or point DOCKER_HOST at an engine)';
    return new EnvironmentError(`Docker Engine not reachable at ${engineTarget()} (${e.code}) while trying to ${doing}: ${hint}`);
  }
  if (e && typeof e.statusCode === 'number') {
    const message = (e.json?.message ?? e.reason ?? e.message ?? '').toString().trim();
    return new EngineError(`Docker Engine refused to ${doing} (HTTP ${e.statusCode}): ${message}`, e.statusCode);
  }
  return error instanceof Error ? error : new Error(String(error));
}

export const isNotFound = (error: unknown) => (error as { statusCode?: number })?.statusCode === 404;

export async function call<T>(doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw engineError(error, doing);
  }
}

/** Removal is idempotent: what is already gone is fine. */
async function removeIfPresent(doing: string, remove: () => Promise<unknown>): Promise<void> {
  try {
    await remove();
  } catch (error) {
    if (!isNotFound(error)) throw engineError(error, doing);
  }
}

export class Engine {
  readonly docker: Docker;

  constructor(docker?: Docker) {
    this.docker = docker ?? new Docker();
  }

  async ping(): Promise<void> {
    await call('answer a ping', () => this.docker.ping());
  }

  info(): Promise<{ Swarm: { LocalNodeState: string; NodeID: string; ControlAvailable: boolean; NodeAddr: string; RemoteManagers?: { Addr: string }[] | null }; ServerVersion: string; Name: string }> {
    return call('report its state', () => this.docker.info());
  }

  /** Consumes a JSON progress stream; throws the engine's error message from it, if any. */
  async followProgress(stream: NodeJS.ReadableStream, onEvent: ProgressHandler): Promise<ProgressEvent[]> {
    const events: ProgressEvent[] = [];
    await new Promise<void>((resolve, reject) =>
      this.docker.modem.followProgress(
        stream,
        (err: Error | null) => (err ? reject(err) : resolve()),
        (event: ProgressEvent) => {
          events.push(event);
          onEvent(event);
        },
      ),
    );
    return events;
  }

  async build(context: Buffer, options: { tag: string; noCache?: boolean }, onEvent: ProgressHandler): Promise<ProgressEvent[]> {
    const stream = await call('build an image', () =>
      this.docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: options.tag, rm: true, forcerm: true, nocache: options.noCache ?? false } as Docker.ImageBuildOptions),
    );
    return this.followProgress(stream, onEvent);
  }

  async push(tag: string, onEvent: ProgressHandler): Promise<ProgressEvent[]> {
    // The push endpoint wants an X-Registry-Auth header even for a registry without auth.
    const stream = await call(`push ${tag}`, () => this.docker.getImage(tag).push({ authconfig: {} } as never) as unknown as Promise<NodeJS.ReadableStream>);
    return this.followProgress(stream, onEvent);
  }

  async inspectImage(ref: string): Promise<Docker.ImageInspectInfo | undefined> {
    try {
      return await this.docker.getImage(ref).inspect();
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw engineError(error, `inspect image ${ref}`);
    }
  }

  async swarmInit(advertiseAddr: string | undefined): Promise<void> {
    await call('initialise swarm mode', () => this.docker.swarmInit({ ListenAddr: '0.0.0.0:2377', ...(advertiseAddr ? { AdvertiseAddr: advertiseAddr } : {}) }));
  }

  swarmInspect(): Promise<{ ID: string; JoinTokens: { Worker: string; Manager: string } }> {
    return call('report the swarm', () => this.docker.swarmInspect());
  }

  async findNetwork(name: string): Promise<Docker.NetworkInspectInfo | undefined> {
    const list = await call('list networks', () => this.docker.listNetworks({ filters: { name: [name] } }));
    return list.find((n) => n.Name === name); // the name filter matches substrings
  }

  listNetworks(): Promise<Docker.NetworkInspectInfo[]> {
    return call('list networks', () => this.docker.listNetworks());
  }

  async createNetwork(spec: Docker.NetworkCreateOptions): Promise<void> {
    await call(`create network ${spec.Name}`, () => this.docker.createNetwork(spec));
  }

  removeNetwork(name: string): Promise<void> {
    return removeIfPresent(`remove network ${name}`, () => this.docker.getNetwork(name).remove());
  }

  /** `docker save` of one image: a tar of its config and layer tars. */
  async saveImage(ref: string): Promise<Buffer> {
    const stream = await call(`save image ${ref}`, () => this.docker.getImage(ref).get());
    const chunks: Buffer[] = [];
    for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  removeImage(ref: string): Promise<void> {
    return removeIfPresent(`remove image ${ref}`, () => this.docker.getImage(ref).remove({ force: true }));
  }

  listSecrets(labels: Record<string, string>): Promise<Docker.Secret[]> {
    return call('list secrets', () => this.docker.listSecrets({ filters: { label: labelFilters(labels) } }) as unknown as Promise<Docker.Secret[]>);
  }

  async createSecret(name: string, data: Uint8Array, labels: Record<string, string>): Promise<string> {
    const created = await call(`create secret ${name}`, () => this.docker.createSecret({ Name: name, Labels: labels, Data: Buffer.from(data).toString('base64') }));
    return (created as unknown as { id: string }).id;
  }

  removeSecret(id: string): Promise<void> {
    return removeIfPresent(`remove secret ${id}`, () => this.docker.getSecret(id).remove());
  }

  listServices(labels: Record<string, string>): Promise<Docker.Service[]> {
    return call('list services', () => this.docker.listServices({ filters: { label: labelFilters(labels) } }));
  }

  async createService(spec: Docker.CreateServiceOptions): Promise<string> {
    const created = await call(`create service ${spec.Name}`, () => this.docker.createService(spec));
    return (created as unknown as { id: string }).id;
  }

  removeService(id: string): Promise<void> {
    return removeIfPresent(`remove service ${id}`, () => this.docker.getService(id).remove());
  }

  listTasks(serviceIds: string[]): Promise<Docker.Task[]> {
    if (serviceIds.length === 0) return Promise.resolve([]);
    return call('list tasks', () => this.docker.listTasks({ filters: { service: serviceIds } }));
  }

  /** Every task of the swarm, also those of removed services whose containers still stop (a service filter no longer finds them). */
  listAllTasks(): Promise<Docker.Task[]> {
    return call('list tasks', () => this.docker.listTasks());
  }

  listNodes(): Promise<{ ID: string; Description?: { Hostname?: string }; Status?: { State?: string; Addr?: string }; Spec?: { Role?: string } }[]> {
    return call('list swarm nodes', () => this.docker.listNodes());
  }

  /** A service's output, stdout and stderr interleaved (the stream is multiplexed: no TTY). */
  async serviceLogs(id: string, follow: boolean, sink: NodeJS.WritableStream, timeoutMs?: number): Promise<void> {
    // The manager relays a task's output from the host that runs it; for a host that stopped answering it waits without end.
    const abortSignal = timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined;
    const stream: unknown = await call(`read the logs of service ${id}`, async () => {
      try {
        return await this.docker.getService(id).logs({ stdout: true, stderr: true, follow, timestamps: false, abortSignal } as never);
      } catch (error) {
        if (abortSignal?.aborted) throw new EnvironmentError(`the output of service ${id.slice(0, 12)} did not arrive within ${Math.round(timeoutMs! / 1000)} s (is its host down?)`);
        throw error;
      }
    });
    if (Buffer.isBuffer(stream)) {
      sink.write(demux(stream));
      return;
    }
    const readable = stream as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.demuxStream(readable, sink, sink);
      readable.on('end', resolve);
      readable.on('error', reject);
    });
  }

  /** A service's whole output so far, in memory (it holds the node's shipped /extract, a few MB at most). */
  async serviceOutput(id: string, timeoutMs = 60_000): Promise<string> {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    await this.serviceLogs(id, false, sink, timeoutMs);
    return Buffer.concat(chunks).toString('utf8');
  }

  /** A tar of `path` in a container, running or exited. */
  async containerArchive(containerId: string, path: string): Promise<Buffer | undefined> {
    try {
      const stream = await this.docker.getContainer(containerId).getArchive({ path });
      const chunks: Buffer[] = [];
      for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
      return Buffer.concat(chunks);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw engineError(error, `copy ${path} out of container ${containerId.slice(0, 12)}`);
    }
  }
}

function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

/** Docker's multiplexed stream format: 8-byte header (stream, 0, 0, 0, size u32be) per frame. */
export function demux(buffer: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts);
}
