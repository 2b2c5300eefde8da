// Docker's multiplexed output (src/docker/frames.ts): frames come out whole however the chunks cut them,
// and each byte is copied at most once (hostile pass N9: one 48 MB frame took `deploy logs` 14 s, its
// unfinished tail copied again with every chunk).
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { Engine } from '../src/docker/engine.js';
import { demuxAll, FrameReader } from '../src/docker/frames.js';
import { tempDir } from './helpers.js';

/** A frame of stream 1 (stdout): stream, three zero bytes, the size (u32 big-endian), the payload. */
function frame(payload: Buffer, stream = 1): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** `bytes` cut into chunks of the sizes given, cycling through them. */
function cut(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

test('frames come out whole and in order however the chunks cut them, a large one copied once', () => {
  const large = Buffer.alloc(4 * 2 ** 20, 'x');
  const payloads = [Buffer.from('hello '), Buffer.alloc(0), large, Buffer.from('world\n'), Buffer.from('err\n')];
  const stream = Buffer.concat(payloads.map((p, i) => frame(p, i === 4 ? 2 : 1)));
  // Chunks of 1, 3 and 4096 bytes: headers straddle chunks, the large frame comes in ~3000 of them.
  for (const sizes of [[stream.length], [1, 3, 4096], [7], [65_536]]) {
    const reader = new FrameReader();
    const out = cut(stream, sizes).flatMap((chunk) => reader.push(chunk));
    assert.deepEqual(
      out.map((p) => p.toString()),
      payloads.map((p) => p.toString()),
      `chunks of ${sizes.join(', ')}`,
    );
    // Each byte copied at most once: joining the tail to every chunk copied the large frame ~3000 times over.
    assert.ok(reader.copiedBytes <= stream.length, `chunks of ${sizes.join(', ')}: ${reader.copiedBytes} bytes copied`);
    assert.equal(reader.unfinished().length, 0);
  }
  // Whole in one chunk: every payload a view of it, nothing copied.
  const whole = new FrameReader();
  whole.push(stream);
  assert.equal(whole.copiedBytes, 0);
  // A stream cut inside a frame: what arrived of its payload, as the whole output's reading keeps it.
  assert.equal(
    demuxAll(Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('bcdef')).subarray(0, 11)])).toString(),
    'abcd',
  );
});

test("a service's output of one 8 MiB frame in the socket's chunks is copied once, not once a chunk (N9)", async (t) => {
  const dir = await tempDir(t);
  const payload = Buffer.alloc(8 * 2 ** 20, 'y');
  const body = frame(payload);
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
    res.end(body);
  });
  const socket = path.join(dir, 'logs.sock');
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = `unix://${socket}`;
  t.after(() => (saved === undefined ? delete process.env.DOCKER_HOST : (process.env.DOCKER_HOST = saved)));
  // A count, not a clock: every byte Buffer.concat and Buffer#copy move while the logs are read.
  let copied = 0;
  const { concat } = Buffer;
  const { copy } = Buffer.prototype;
  Buffer.concat = (list: readonly Uint8Array[], length?: number) => {
    const joined = concat(list, length);
    copied += joined.length;
    return joined;
  };
  Buffer.prototype.copy = function (this: Buffer, ...args: Parameters<Buffer['copy']>) {
    const n = copy.apply(this, args);
    copied += n;
    return n;
  };
  const received: Buffer[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, done) => (received.push(c), done()) });
  try {
    await new Engine().serviceLogs('s1', false, sink, 60_000);
  } finally {
    Buffer.concat = concat;
    Buffer.prototype.copy = copy;
  }
  assert.equal(received.length, 1, 'one frame, one write');
  assert.ok(received[0]!.equals(payload));
  assert.ok(copied <= payload.length + 8, `${copied} bytes copied for a frame of ${payload.length}`);
});
