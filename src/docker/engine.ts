// The Docker Engine seam: every Engine API call gomelctl makes goes through
// here, and this is the only file that constructs Dockerode. Dockerode reads
// DOCKER_HOST (and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) like the docker CLI.
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type Docker from 'dockerode';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { HEARTBEAT_PERIOD_NS, parseHostStateChanges, type HostStateChange } from '../core/deploy/host-events.js';
import { quoted } from '../core/bounded.js';
import { EnvironmentError, UsageError } from '../core/errors.js';
import type { ProgressEvent } from '../core/image/build-progress.js';
import { demuxAll, FrameReader } from './frames.js';

export type { ProgressEvent };

type ProgressHandler = (event: ProgressEvent) => void;

function engineTarget(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

/**
 * How long an engine call may stay silent, in ms: GOMELCTL_ENGINE_TIMEOUT seconds,
 * 30 by default. An engine that accepts and never answers must not hang gomelctl (N91).
 */
function engineTimeoutMs(): number {
  const text = process.env.GOMELCTL_ENGINE_TIMEOUT;
  if (text === undefined) return 30_000;
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0)
    throw new UsageError(`GOMELCTL_ENGINE_TIMEOUT=${text}: expected seconds, e.g. 30`);
  return Number(text) * 1000;
}

/** Streams (build, push, logs, archives) are bounded by their activity: a build step may compile for minutes without a word. */
const STREAM_IDLE_FACTOR = 20;

/**
 * The engine took longer than its limit: not transient, except in a wait for the nodes whose policy
 * says so (RetryPolicy.timeouts: deploy's and up's): a listing asked again costs nothing there, and a
 * manager loaded by 256 containers starting (load 350 on 2 cores) answered the next after missing one.
 * Elsewhere (deploy status, a stuck engine) the first timeout stands.
 */
class EngineTimeout extends EnvironmentError {
  override name = 'EngineTimeout';
}

const silentFor = (ms: number) => `${+(ms / 1000).toFixed(1)} s`;

/** An answer without the shape gomelctl reads (N92): one line here, not a TypeError later. */
/**
 * At most this much of a node's output is read: what it prints, and its /extract shipped at exit
 * (base64 of gzip, ~1.4 MB for a 6 MB log). Eight nodes are read at once: 0.5 GB at most.
 */
export const MAX_SERVICE_OUTPUT = 64 * 2 ** 20;

/**
 * The longest progress line (one JSON event of a build or a push) kept, in characters. An event is a
 * push's status or one write of a build step's output, which the engine copies in pieces of 32 KiB
 * (Go's io.Copy) and JSON-escapes at most 6 bytes a byte (\u003c): under 200 KiB. A broken or hostile
 * engine's endless line costs no more than this; one joined anew with every chunk cost time growing
 * with the square of its length.
 */
export const MAX_PROGRESS_LINE = 2 ** 20;

/**
 * The most of a runOnNetwork container's output read, in bytes. Its one user, fault's messenger, prints a
 * line per node asked: the host and the last line of that node's answer (a faults.log line, under 200 bytes),
 * so 256 nodes make ~50 KiB. More is no messenger's answer, and it is not held.
 */
export const MAX_MESSENGER_OUTPUT = 2 ** 20;

/**
 * The most of one JSON answer (a listing, an inspection, an error's body) read, in bytes. The largest real
 * ones are a 256-node deployment's: its services list 3.0 MB of specs (measured: deploy spawn's 256 specs
 * against test/support/memory-engine.ts, 11.6 KB each, most of it the committee's host list in labels),
 * twice that with the PreviousSpec the engine keeps after fault's label update; its task list, with the
 * 6 KB TaskTemplate each task carries and 5 tasks kept per slot (swarm's task history), ~10 MB, ~20 MB
 * while a replaced run's tasks still stop. A 625 MB answer was read whole (an uncaught
 * ERR_STRING_TOO_LONG at 2.3 GB, hostile pass 8); past this it is refused, read no further.
 */
export const MAX_ANSWER = 64 * 2 ** 20;

/** An answer past MAX_ANSWER: one line naming the engine, what gomelctl asked and the cap; not read further. */
export class AnswerTooLarge extends EnvironmentError {
  override name = 'AnswerTooLarge';
  constructor(
    readonly maxBytes: number,
    doing?: string,
  ) {
    super(
      `Docker Engine at ${engineTarget()} sent an answer larger than ${+(maxBytes / 2 ** 20).toFixed(1)} MiB${doing ? ` while trying to ${doing}` : ''}, far more than a 256-node deployment's answers; it was not read — check that DOCKER_HOST points at a Docker Engine`,
    );
  }
}

/** What docker-modem's dial takes and calls back with, in the fields read here. */
interface DialOptions {
  isStream?: boolean;
  hijack?: boolean;
  openStdin?: boolean;
  statusCodes?: Record<number, true | string>;
}
type DialCallback = (error: unknown, data?: unknown) => void;

/** Every status is a success to the modem: it hands over the answer unread, and `capAnswers` judges the status. */
const EVERY_STATUS = new Proxy({}, { get: () => true });

/**
 * Has `docker`'s modem read each JSON answer with MAX_ANSWER as its bound. docker-modem (5.0.7,
 * lib/modem.js buildRequest) gathers an answer that is not a stream whole, Buffer.concat and
 * toString, before anything may look at it: such a call is dialled as a stream here instead, read up to
 * the cap, then parsed and judged as the modem would (buildPayload: the JSON, or the bytes when not
 * JSON; an error with statusCode, reason and json when the status is not the call's). The request, its
 * socket's idle timeout (a stalled answer resets, as before) and streams' own calls are the modem's.
 */
function capAnswers(docker: Docker, maxBytes = MAX_ANSWER): Docker {
  const modem = docker.modem as { dial(options: DialOptions, callback: DialCallback): void };
  const dial = modem.dial.bind(modem);
  modem.dial = (options, callback) => {
    if (options.isStream || options.hijack || options.openStdin) return dial(options, callback);
    dial({ ...options, isStream: true, statusCodes: EVERY_STATUS }, (error, res) => {
      if (error) return callback(error);
      readAtMost(res as IncomingMessage, maxBytes).then((body) => {
        const text = body.toString();
        const json = parseJson(text) || body;
        const status = (res as IncomingMessage).statusCode ?? 0;
        const meaning = options.statusCodes?.[status];
        if (meaning === true) return callback(null, json);
        const cause = json as { message?: unknown; error?: unknown };
        callback(
          Object.assign(
            new Error(`(HTTP code ${status}) ${meaning || 'unexpected'} - ${cause.message || cause.error || text} `),
            { reason: meaning, statusCode: status, json },
          ),
        );
      }, callback);
    });
  };
  return docker;
}

/** The modem's utils.parseJSON: the value, or null when the text is not JSON. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A stream's bytes, refused (and the stream dropped) once past `maxBytes`. */
async function readAtMost(stream: NodeJS.ReadableStream, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let read = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    read += chunk.length;
    if (read > maxBytes) throw new AnswerTooLarge(maxBytes); // leaving the loop destroys the stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A node's output past MAX_SERVICE_OUTPUT: an environment problem of that node, named, not a crash. */
export class OutputTooLarge extends EnvironmentError {
  override name = 'OutputTooLarge';
}

/** A task as the Engine API describes it, in the fields gomelctl reads (core/deploy/plan.ts viewTask). */
const TASK = z.looseObject({
  ServiceID: z.string().optional(),
  NodeID: z.string().optional(),
  DesiredState: z.string().optional(),
  CreatedAt: z.string().optional(),
  Version: z.looseObject({ Index: z.number().optional() }).optional(),
  Status: z
    .looseObject({
      State: z.string().optional(),
      Err: z.string().optional(),
      Message: z.string().optional(),
      Timestamp: z.string().optional(),
      ContainerStatus: z
        .looseObject({ ContainerID: z.string().optional(), ExitCode: z.number().optional() })
        .optional(),
    })
    .optional(),
});

function malformed(doing: string, problem: string): EnvironmentError {
  return new EnvironmentError(
    `Docker Engine at ${engineTarget()} sent a malformed answer while trying to ${doing}: ${problem} — check that DOCKER_HOST points at a Docker Engine`,
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
const kindOf = (v: unknown) =>
  Buffer.isBuffer(v)
    ? 'text that is not JSON'
    : Array.isArray(v)
      ? 'a list'
      : v === null
        ? 'null'
        : typeof v === 'object'
          ? 'an object'
          : `a ${typeof v}`;
const fieldOf = (v: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (isRecord(o) ? o[k] : undefined), v);
const hasStrings = (v: unknown, fields: readonly string[]) =>
  isRecord(v) && fields.every((f) => typeof fieldOf(v, f) === 'string');

/** An object with these string fields, or one line naming the engine. */
function expectObject<T>(doing: string, value: unknown, fields: readonly string[]): T {
  if (!hasStrings(value, fields))
    throw malformed(
      doing,
      `expected an object with ${fields.join(', ')}, got ${isRecord(value) ? 'an object without them' : kindOf(value)}`,
    );
  return value as T;
}

/** A list of objects with these string fields (of `what`), or one line naming the engine. */
function expectList<T>(doing: string, value: unknown, what = 'objects', fields: readonly string[] = []): T[] {
  if (!Array.isArray(value)) throw malformed(doing, `expected a list, got ${kindOf(value)}`);
  if (!value.every((item) => hasStrings(item, fields)))
    throw malformed(
      doing,
      `expected a list of ${what}${fields.length ? ` with ${fields.join(' and ')}` : ''}, got an entry without them`,
    );
  return value as T[];
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
function isTransient(error: unknown): boolean {
  if (error instanceof EngineError) return error.statusCode >= 500;
  const e = error as NodeJS.ErrnoException;
  return (
    e?.code === 'ECONNRESET' ||
    e?.code === 'EPIPE' ||
    /socket hang up|DeadlineExceeded|deadline exceeded/i.test(e?.message ?? '')
  );
}

export interface RetryPolicy {
  /** How long to keep trying, in ms, before the error stands. */
  budgetMs: number;
  /** First back-off, doubled per attempt (at most 5 s). */
  firstDelayMs: number;
  /** Told of each failed attempt that will be retried. */
  onRetry?: (error: Error, attempt: number) => void;
  /** An engine that did not answer in time is asked again too (reads only: a write may have happened). */
  timeouts?: boolean;
}

export const DEFAULT_RETRY: RetryPolicy = { budgetMs: 120_000, firstDelayMs: 500 };

/** Runs `fn`, retrying transient engine errors with back-off for a bounded time. */
export async function retryTransient<T>(fn: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<T> {
  const giveUp = Date.now() + policy.budgetMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const again = isTransient(error) || (policy.timeouts === true && error instanceof EngineTimeout);
      if (!again || Date.now() >= giveUp) throw error;
      policy.onRetry?.(error as Error, attempt);
      await new Promise((r) => setTimeout(r, Math.min(policy.firstDelayMs * 2 ** (attempt - 1), 5000)));
    }
  }
}

/** Maps transport failures to one line that says how to start the engine. */
function engineError(error: unknown, doing: string): Error {
  if (error instanceof AnswerTooLarge) return new AnswerTooLarge(error.maxBytes, doing);
  if (error instanceof EnvironmentError) return error; // already one line (a timeout, a malformed answer, an engine error)
  const e = error as NodeJS.ErrnoException & { statusCode?: number; json?: { message?: string }; reason?: string };
  if (
    e &&
    (e.code === 'ENOENT' ||
      e.code === 'ECONNREFUSED' ||
      e.code === 'EACCES' ||
      e.code === 'ECONNRESET' ||
      e.code === 'EHOSTUNREACH')
  ) {
    const hint = process.env.DOCKER_HOST
      ? 'start that engine, or unset DOCKER_HOST'
      : 'start one with `bash docker/setup.sh` (or point DOCKER_HOST at an engine)';
    return new EnvironmentError(
      `Docker Engine not reachable at ${engineTarget()} (${e.code}) while trying to ${doing}: ${hint}`,
    );
  }
  if (e && typeof e.statusCode === 'number') {
    // The engine's own words, quoted and clipped: a 5,000-character message with a newline and terminal
    // escapes was the whole of the final line (hostile pass 8). An rpc error naming an image digest fits.
    const message = (e.json?.message ?? e.reason ?? e.message ?? '').toString().trim();
    return new EngineError(
      `Docker Engine refused to ${doing} (HTTP ${e.statusCode}): ${quoted(message, ENGINE_MESSAGE_MAX)}`,
      e.statusCode,
    );
  }
  // Anything else from the transport (a broken connection, an unparseable HTTP answer) still names the engine.
  if (e && typeof e.code === 'string' && !isTransient(e))
    return new EnvironmentError(
      `Docker Engine at ${engineTarget()} failed while trying to ${doing} (${e.code}: ${e.message})`,
    );
  return error instanceof Error ? error : new Error(String(error));
}

/** How much of an engine's error message is quoted: "rpc error: code = … desc = …" with an image digest fits. */
const ENGINE_MESSAGE_MAX = 200;

const isNotFound = (error: unknown) => (error as { statusCode?: number })?.statusCode === 404;

/**
 * Runs one engine call. The modem drops a request whose socket stays silent for
 * `limitMs` (Dockerode's `timeout`), which surfaces as a reset: a reset that came
 * after that long is the limit, told as such.
 */
export async function call<T>(doing: string, fn: () => Promise<T>, limitMs = engineTimeoutMs()): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } catch (error) {
    if (isReset(error) && Date.now() - started >= limitMs) {
      throw new EngineTimeout(
        `Docker Engine at ${engineTarget()} did not answer within ${silentFor(limitMs)} while trying to ${doing}; is it overloaded or stuck? (GOMELCTL_ENGINE_TIMEOUT sets the limit in seconds)`,
      );
    }
    throw engineError(error, doing);
  }
}

const isReset = (error: unknown) => {
  const e = error as NodeJS.ErrnoException;
  return e?.code === 'ECONNRESET' || /socket hang up|aborted/i.test(e?.message ?? '');
};

/**
 * Reads a response stream to its end, handing each chunk on. A stream that stays
 * silent for `idleMs` is dropped by the modem; that is told as silence.
 */
async function consume(
  stream: NodeJS.ReadableStream,
  doing: string,
  idleMs: number,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  let last = Date.now();
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      last = Date.now();
      onChunk(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    }
  } catch (error) {
    if (error instanceof EnvironmentError) throw error;
    // 5% slack: the socket's own idle clock started a moment before this chunk reached us.
    if (isReset(error) && Date.now() - last >= idleMs * 0.95)
      throw new EngineTimeout(
        `Docker Engine at ${engineTarget()} sent nothing for ${silentFor(idleMs)} while trying to ${doing}; is it stuck? (GOMELCTL_ENGINE_TIMEOUT × ${STREAM_IDLE_FACTOR} sets the limit)`,
      );
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

/**
 * dockerode, loaded at the first engine call: with ssh2, grpc and protobufjs it takes 0.3 s, which a
 * command that refuses its flags (exit 2, the engine never asked) need not pay.
 */
function dockerode(options?: Docker.DockerOptions): Docker {
  const Dockerode = createRequire(import.meta.url)('dockerode') as new (o?: Docker.DockerOptions) => Docker;
  return capAnswers(new Dockerode(options));
}

export class Engine {
  private client: Docker | undefined;
  /** For streamed answers: the limit is on silence, not on length. */
  private streamClient: Docker | undefined;
  private readonly callMs: number;
  private readonly idleMs: number;

  constructor(private readonly given?: Docker) {
    this.callMs = engineTimeoutMs();
    this.idleMs = STREAM_IDLE_FACTOR * this.callMs;
  }

  // Dockerode's `timeout` (docker-modem) drops a request whose socket is silent that long.
  get docker(): Docker {
    return (this.client ??= this.given ?? dockerode({ timeout: this.callMs }));
  }

  private get streams(): Docker {
    return (this.streamClient ??= this.given ?? dockerode({ timeout: this.idleMs }));
  }

  private call<T>(doing: string, fn: () => Promise<unknown>): Promise<T> {
    return call(doing, fn, this.callMs) as Promise<T>;
  }

  async ping(): Promise<void> {
    const answer = await this.call<unknown>('answer a ping', () => this.docker.ping());
    if (String(answer) !== 'OK') throw malformed('answer a ping', `expected "OK", got ${kindOf(answer)}`);
  }

  async info(): Promise<{
    Swarm: {
      LocalNodeState: string;
      NodeID: string;
      ControlAvailable: boolean;
      NodeAddr: string;
      RemoteManagers?: { Addr: string }[] | null;
      /** On a manager: the swarm's spec (heartbeat period in nanoseconds). */
      Cluster?: { Spec?: { Dispatcher?: { HeartbeatPeriod?: number } } } | null;
    };
    ServerVersion: string;
    Name: string;
  }> {
    return expectObject('report its state', await this.call('report its state', () => this.docker.info()), [
      'Swarm.LocalNodeState',
    ]);
  }

  /** Consumes a JSON-lines progress stream (build, push); the engine's error message in it is the caller's to judge. */
  async followProgress(
    stream: NodeJS.ReadableStream,
    onEvent: ProgressHandler,
    doing = 'report progress',
  ): Promise<ProgressEvent[]> {
    const events: ProgressEvent[] = [];
    // The line so far, in the pieces it came in: joined once, when its newline arrives.
    let pieces: string[] = [];
    let length = 0;
    const decoder = new StringDecoder('utf8'); // a character may straddle two chunks
    const take = (line: string) => {
      if (!line.trim()) return;
      let event: unknown;
      try {
        event = JSON.parse(line);
      } catch {
        throw malformed(doing, 'a progress line that is not JSON');
      }
      if (!isRecord(event)) throw malformed(doing, `a progress line that is ${kindOf(event)}, not an object`);
      events.push(event as ProgressEvent);
      onEvent(event as ProgressEvent);
    };
    await consume(stream, doing, this.idleMs, (chunk) => {
      const text = decoder.write(chunk);
      for (let start = 0; ;) {
        const newline = text.indexOf('\n', start);
        const piece = newline < 0 ? text.slice(start) : text.slice(start, newline);
        length += piece.length;
        if (length > MAX_PROGRESS_LINE)
          throw malformed(doing, `a progress line longer than ${MAX_PROGRESS_LINE / 2 ** 20} MiB`);
        pieces.push(piece);
        if (newline < 0) break;
        take(pieces.join(''));
        pieces = [];
        length = 0;
        start = newline + 1;
      }
    });
    take(pieces.join('') + decoder.end());
    return events;
  }

  private async collect(stream: NodeJS.ReadableStream, doing: string, maxBytes = Infinity): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let read = 0;
    await consume(stream, doing, this.idleMs, (chunk) => {
      read += chunk.length;
      if (read > maxBytes) throw new AnswerTooLarge(maxBytes, doing); // leaving consume's loop drops the stream
      chunks.push(chunk);
    });
    return Buffer.concat(chunks);
  }

  async build(
    context: Buffer,
    options: { tag: string; noCache?: boolean },
    onEvent: ProgressHandler,
  ): Promise<ProgressEvent[]> {
    const doing = 'build an image';
    const stream = await call(
      doing,
      () =>
        this.streams.buildImage(
          context as unknown as NodeJS.ReadableStream,
          { t: options.tag, rm: true, forcerm: true, nocache: options.noCache ?? false } as Docker.ImageBuildOptions,
        ),
      this.idleMs,
    );
    return this.followProgress(stream, onEvent, doing);
  }

  async push(tag: string, onEvent: ProgressHandler): Promise<ProgressEvent[]> {
    const doing = `push ${tag}`;
    // The push endpoint wants an X-Registry-Auth header even for a registry without auth.
    const stream = await call(
      doing,
      () => this.streams.getImage(tag).push({ authconfig: {} } as never) as unknown as Promise<NodeJS.ReadableStream>,
      this.idleMs,
    );
    return this.followProgress(stream, onEvent, doing);
  }

  async inspectImage(ref: string): Promise<Docker.ImageInspectInfo | undefined> {
    try {
      return expectObject(
        `inspect image ${ref}`,
        await this.call(`inspect image ${ref}`, () => this.docker.getImage(ref).inspect()),
        ['Id'],
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async swarmInit(advertiseAddr: string | undefined): Promise<void> {
    await this.call('initialise swarm mode', () =>
      this.docker.swarmInit({
        ListenAddr: '0.0.0.0:2377',
        ...(advertiseAddr ? { AdvertiseAddr: advertiseAddr } : {}),
        Spec: { Dispatcher: { HeartbeatPeriod: HEARTBEAT_PERIOD_NS } },
      }),
    );
  }

  async swarmInspect(): Promise<{ ID: string; JoinTokens: { Worker: string; Manager: string } }> {
    return expectObject('report the swarm', await this.call('report the swarm', () => this.docker.swarmInspect()), [
      'JoinTokens.Worker',
    ]);
  }

  async findNetwork(name: string): Promise<Docker.NetworkInspectInfo | undefined> {
    const list = await this.networks({ filters: { name: [name] } });
    return list.find((n) => n.Name === name); // the name filter matches substrings
  }

  listNetworks(): Promise<Docker.NetworkInspectInfo[]> {
    return this.networks({});
  }

  private async networks(options: object): Promise<Docker.NetworkInspectInfo[]> {
    return expectList(
      'list networks',
      await this.call('list networks', () => this.docker.listNetworks(options)),
      'networks',
      ['Name'],
    );
  }

  async createNetwork(spec: Docker.NetworkCreateOptions): Promise<void> {
    await this.call(`create network ${spec.Name}`, () => this.docker.createNetwork(spec));
  }

  removeNetwork(name: string): Promise<void> {
    return removeIfPresent(`remove network ${name}`, () =>
      this.call(`remove network ${name}`, () => this.docker.getNetwork(name).remove()),
    );
  }

  /** `docker save` of one image: a tar of its config and layer tars. */
  async saveImage(ref: string): Promise<Buffer> {
    const doing = `save image ${ref}`;
    return this.collect(await call(doing, () => this.streams.getImage(ref).get(), this.idleMs), doing);
  }

  removeImage(ref: string): Promise<void> {
    return removeIfPresent(`remove image ${ref}`, () =>
      this.call(`remove image ${ref}`, () => this.docker.getImage(ref).remove({ force: true })),
    );
  }

  async listSecrets(labels: Record<string, string>): Promise<Docker.Secret[]> {
    return expectList(
      'list secrets',
      await this.call('list secrets', () => this.docker.listSecrets({ filters: { label: labelFilters(labels) } })),
      'secrets',
      ['ID', 'Spec.Name'],
    );
  }

  /**
   * POSTs `body` as JSON with nothing in the URL. dockerode's createSecret and createContainer send
   * their options as the query string too (docker-modem makes a query of them for any path ending in
   * '?'), and an engine at debug level logs each request's URI ("Calling POST /secrets/create?...";
   * it masks a secret's Data only in the body): a node's private key or the control token in a
   * container's Env would be in the engine's log (hostile pass 7, BAD3).
   */
  private postBody(doing: string, path: string, body: object, statusCodes: Record<number, true | string>) {
    return this.call<unknown>(
      doing,
      () =>
        new Promise((resolve, reject) =>
          this.docker.modem.dial(
            { path, method: 'POST', options: { _body: body }, statusCodes } as never,
            (error, data) => (error ? reject(error) : resolve(data)),
          ),
        ),
    );
  }

  async createSecret(name: string, data: Uint8Array, labels: Record<string, string>): Promise<string> {
    const doing = `create secret ${name}`;
    const created = await this.postBody(
      doing,
      '/secrets/create',
      { Name: name, Labels: labels, Data: Buffer.from(data).toString('base64') },
      {
        200: true,
        201: true,
        406: 'server error or node is not part of a swarm',
        409: 'name conflicts with an existing object',
        500: 'server error',
      },
    );
    return expectObject<{ ID: string }>(doing, created, ['ID']).ID;
  }

  removeSecret(id: string): Promise<void> {
    return removeIfPresent(`remove secret ${id}`, () =>
      this.call(`remove secret ${id}`, () => this.docker.getSecret(id).remove()),
    );
  }

  async listServices(labels: Record<string, string>): Promise<Docker.Service[]> {
    return expectList(
      'list services',
      await this.call('list services', () => this.docker.listServices({ filters: { label: labelFilters(labels) } })),
      'services',
      ['ID', 'Spec.Name'],
    );
  }

  async createService(spec: Docker.CreateServiceOptions): Promise<string> {
    const created = await this.call<{ id?: unknown }>(`create service ${spec.Name}`, () =>
      this.docker.createService(spec),
    );
    return expectObject<{ id: string }>(`create service ${spec.Name}`, created, ['id']).id;
  }

  removeService(id: string): Promise<void> {
    return removeIfPresent(`remove service ${id}`, () =>
      this.call(`remove service ${id}`, () => this.docker.getService(id).remove()),
    );
  }

  async listTasks(serviceIds: string[]): Promise<Docker.Task[]> {
    if (serviceIds.length === 0) return [];
    const tasks = expectList<Docker.Task>(
      'list tasks',
      await this.call('list tasks', () => this.docker.listTasks({ filters: { service: serviceIds } })),
      'tasks',
    );
    // Each field gomelctl reads, of the type it reads it as (a numeric CreatedAt once ended in a TypeError).
    const bad = tasks.findIndex((t) => !TASK.safeParse(t).success);
    if (bad >= 0) throw malformed('list tasks', `task ${bad + 1} has a field of the wrong type`);
    return tasks;
  }

  /** Every task of the swarm, also those of removed services whose containers still stop (a service filter no longer finds them). */
  async listAllTasks(): Promise<Docker.Task[]> {
    return expectList('list tasks', await this.call('list tasks', () => this.docker.listTasks()), 'tasks');
  }

  async listNodes(): Promise<
    {
      ID: string;
      Description?: { Hostname?: string };
      Status?: { State?: string; Addr?: string };
      Spec?: { Role?: string };
    }[]
  > {
    return expectList(
      'list swarm nodes',
      await this.call('list swarm nodes', () => this.docker.listNodes()),
      'swarm nodes',
      ['ID'],
    );
  }

  /**
   * The swarm's host state changes (node events "update" with state.old/state.new) from `sinceSeconds`
   * until now, as the manager's engine recorded them: when a host was declared down and came back.
   * The engine keeps a bounded number of recent events: an old change may be gone (an empty answer).
   */
  async hostStateChanges(sinceSeconds: number): Promise<HostStateChange[]> {
    const doing = 'read the swarm node events';
    const until = Math.ceil(Date.now() / 1000);
    const stream = await call(
      doing,
      () =>
        this.streams.getEvents({
          since: Math.floor(sinceSeconds),
          until,
          filters: { type: ['node'] },
        } as never) as unknown as Promise<NodeJS.ReadableStream>,
      this.idleMs,
    );
    // JSON lines, one per event: the engine replays at most its last 256 (moby daemon/events/events.go eventsLimit),
    // ~220 bytes each in test/fixtures/engine/swarm-shutdown-64.json: ~60 KB.
    return parseHostStateChanges((await this.collect(stream, doing, MAX_ANSWER)).toString('utf8'));
  }

  /** A service's output, stdout and stderr interleaved (the stream is multiplexed: no TTY). */
  async serviceLogs(
    id: string,
    follow: boolean,
    sink: NodeJS.WritableStream,
    timeoutMs?: number,
    tail?: number,
    maxBytes = Infinity,
  ): Promise<void> {
    const doing = `read the logs of service ${id}`;
    // The manager relays a task's output from the host that runs it; for a host that stopped answering it waits without end.
    const abortSignal = timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined;
    // Following waits for output as long as the user lets it: no idle limit then.
    const docker = follow ? (this.follower ??= dockerode()) : this.streams;
    // Always as a stream (dockerode's Service.logs buffers a finished one whole: 600 MB of output ended in
    // ERR_STRING_TOO_LONG), so that what is read is bounded by `maxBytes`.
    const stream = await call<NodeJS.ReadableStream>(
      doing,
      () =>
        new Promise<NodeJS.ReadableStream>((resolve, reject) =>
          docker.modem.dial(
            {
              path: `/services/${id}/logs?`,
              method: 'GET',
              isStream: true,
              abortSignal,
              statusCodes: {
                200: true,
                404: 'no such service',
                500: 'server error',
                503: 'node is not part of a swarm',
              },
              options: {
                stdout: true,
                stderr: true,
                follow,
                timestamps: false,
                ...(tail !== undefined ? { tail } : {}),
              },
            } as never,
            (error: unknown, data: unknown) => {
              if (!error) return resolve(data as NodeJS.ReadableStream);
              reject(
                abortSignal?.aborted
                  ? new EnvironmentError(
                      `the output of service ${id.slice(0, 12)} did not arrive within ${Math.round(timeoutMs! / 1000)} s (is its host down?)`,
                    )
                  : error,
              );
            },
          ),
        ),
      this.idleMs,
    );
    // Multiplexed frames may straddle chunks: the reader keeps an unfinished one for the next.
    const frames = new FrameReader();
    let read = 0;
    await consume(stream, doing, follow ? Infinity : this.idleMs, (chunk) => {
      read += chunk.length;
      if (read > maxBytes) {
        (stream as unknown as { destroy?: () => void }).destroy?.();
        throw new OutputTooLarge(
          `the output of service ${id.slice(0, 12)} is larger than ${Math.round(maxBytes / 2 ** 20)} MiB, far more than a node prints; it was not read`,
        );
      }
      const payloads = frames.push(chunk);
      if (payloads.length > 0) sink.write(payloads.length === 1 ? payloads[0]! : Buffer.concat(payloads));
    });
  }

  /** Following a service's output waits as long as it is followed: a client without a time limit. */
  private follower?: Docker;

  async serviceOutput(id: string, timeoutMs = 60_000, tail?: number, maxBytes = MAX_SERVICE_OUTPUT): Promise<string> {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    await this.serviceLogs(id, false, sink, timeoutMs, tail, maxBytes);
    return Buffer.concat(chunks).toString('utf8');
  }

  /**
   * Has the engine create a service's task anew (TaskTemplate.ForceUpdate + 1, as `docker service update
   * --force`), its spec unchanged otherwise.
   */
  async restartService(id: string): Promise<void> {
    const doing = `create the task of service ${id.slice(0, 12)} anew`;
    const service = this.docker.getService(id);
    const info = expectObject<{ Version?: { Index?: unknown }; Spec?: { TaskTemplate?: Record<string, unknown> } }>(
      doing,
      await this.call(doing, () => service.inspect()),
      [],
    );
    if (typeof info.Version?.Index !== 'number' || !isRecord(info.Spec) || !isRecord(info.Spec.TaskTemplate))
      throw malformed(doing, 'expected a service with Version.Index and Spec.TaskTemplate');
    const template = info.Spec.TaskTemplate;
    const force = typeof template.ForceUpdate === 'number' ? template.ForceUpdate : 0;
    await this.call(doing, () =>
      service.update({
        version: info.Version!.Index,
        ...info.Spec!,
        TaskTemplate: { ...template, ForceUpdate: force + 1 },
      } as never),
    );
  }

  /**
   * Sets some labels of a service's spec, nothing else. The engine restarts a task only when its
   * task template changes, so the nodes run on (`gomelctl fault` records live faults this way).
   */
  async setServiceLabels(id: string, labels: Record<string, string>): Promise<void> {
    const doing = `update the labels of service ${id.slice(0, 12)}`;
    const service = this.docker.getService(id);
    const info = expectObject<{ Version?: { Index?: unknown }; Spec?: { Labels?: Record<string, string> } }>(
      doing,
      await this.call(doing, () => service.inspect()),
      [],
    );
    if (typeof info.Version?.Index !== 'number' || !isRecord(info.Spec))
      throw malformed(doing, 'expected a service with Version.Index and Spec');
    await this.call(doing, () =>
      service.update({
        version: info.Version!.Index,
        ...info.Spec!,
        Labels: { ...info.Spec!.Labels, ...labels },
      } as never),
    );
  }

  /**
   * Runs `command` in a short-lived container of `image` on `network` (an attachable overlay
   * reaches every node of the swarm from the manager) and returns its exit code and output.
   * The container is removed, whatever happens.
   */
  async runOnNetwork(
    image: string,
    network: string,
    command: string[],
    env: string[],
    labels: Record<string, string>,
    timeoutMs: number,
    maxBytes = MAX_MESSENGER_OUTPUT,
  ): Promise<{ exitCode: number; output: string }> {
    const doing = `run a ${image} container on network ${network}`;
    // Env carries the control token: body only (postBody).
    const answer = await this.postBody(
      doing,
      '/containers/create',
      {
        Image: image,
        Entrypoint: [command[0]!],
        Cmd: command.slice(1),
        Env: env,
        Labels: labels,
        HostConfig: { NetworkMode: network },
      },
      {
        200: true,
        201: true,
        400: 'bad parameter',
        404: 'no such image',
        406: 'impossible to attach',
        500: 'server error',
      },
    );
    const created = this.docker.getContainer(expectObject<{ Id: string }>(doing, answer, ['Id']).Id);
    try {
      await this.call(doing, () => created.start());
      const waited = await call(
        doing,
        () =>
          Promise.race([
            created.wait(),
            new Promise((_, reject) =>
              setTimeout(
                () =>
                  reject(
                    new EnvironmentError(
                      `the ${image} container on ${network} did not end within ${Math.round(timeoutMs / 1000)} s`,
                    ),
                  ),
                timeoutMs,
              ).unref(),
            ),
          ]),
        timeoutMs + this.callMs,
      );
      const exitCode = expectObject<{ StatusCode?: unknown }>(doing, waited, []).StatusCode;
      if (typeof exitCode !== 'number') throw malformed(doing, 'expected the exit code of the container');
      // As a stream (with follow: false dockerode buffers the log whole: 300 MB of it held 1.6 GB, hostile
      // pass 7), cut at `maxBytes`. The container has ended, so following ends at its log's end (moby
      // daemon/logs.go: a stopped container's log is read by a reader made for the call, which does not follow).
      const stream = await call<NodeJS.ReadableStream>(
        doing,
        () => this.streams.getContainer(created.id).logs({ stdout: true, stderr: true, follow: true }),
        this.idleMs,
      );
      const chunks: Buffer[] = [];
      let read = 0;
      await consume(stream, doing, this.idleMs, (chunk) => {
        read += chunk.length;
        if (read > maxBytes) {
          (stream as unknown as { destroy?: () => void }).destroy?.();
          throw new OutputTooLarge(
            `the output of container ${created.id.slice(0, 12)} (${image} on ${network}) is larger than ${Math.round(maxBytes / 2 ** 20)} MiB, far more than its answers; it was not read`,
          );
        }
        chunks.push(chunk);
      });
      return { exitCode, output: demuxAll(Buffer.concat(chunks)).toString('utf8') };
    } finally {
      await removeIfPresent(`remove container ${created.id.slice(0, 12)}`, () =>
        this.call(`remove container ${created.id.slice(0, 12)}`, () => created.remove({ force: true })),
      );
    }
  }

  /** A tar of `path` in a container, running or exited. */
  async containerArchive(containerId: string, path: string): Promise<Buffer | undefined> {
    const doing = `copy ${path} out of container ${containerId.slice(0, 12)}`;
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.streams.getContainer(containerId).getArchive({ path });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw engineError(error, doing);
    }
    return this.collect(stream, doing);
  }
}

function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}
