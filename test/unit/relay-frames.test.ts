// The relay's framing: frames split out of arbitrary chunkings into buffers of their own (so a
// reused read buffer cannot change them), big frame buffers reused once written, and the routing
// fields of a request / outcome of a response read across chunk boundaries without joining.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Request, Response } from "../../src/gen/ttrpc/request.ts";
import { readRequestHead, readResponseOutcome } from "../../src/relay/envelope.ts";
import { sliceParts } from "../../src/relay/fields.ts";
import { Writable } from "node:stream";
import {
  FrameSplitter,
  joined,
  writeFrame,
  type OversizeFrame,
  type RelayFrame,
} from "../../src/relay/frames.ts";
import { FrameType, MAX_DATA_LENGTH, encodeFrame, writeHeader } from "../../src/ttrpc/frame.ts";

function splitAt(bytes: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

function feed(chunks: Buffer[]): (RelayFrame | OversizeFrame)[] {
  const s = new FrameSplitter();
  return chunks.flatMap((c) => s.push(c));
}

const request = Request.encode({
  service: "grpc.AgentService",
  method: "WriteStdin",
  payload: Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff)),
  timeoutNano: 9_999_999_999,
  metadata: [{ key: "k", value: "v" }],
}).finish();

test("frames come out whole from any chunking, zero-length frames included", () => {
  const stream = Buffer.concat([
    encodeFrame(1, FrameType.Request, request),
    encodeFrame(3, FrameType.Request, new Uint8Array()),
    encodeFrame(5, FrameType.Response, Buffer.alloc(70_000, 7)),
  ]);
  for (const sizes of [[1], [3, 7], [10], [4096], [stream.length]]) {
    const frames = feed(splitAt(stream, sizes)) as RelayFrame[];
    assert.deepEqual(
      frames.map((f) => [f.kind, f.streamId, f.type, f.length]),
      [
        ["frame", 1, FrameType.Request, request.length],
        ["frame", 3, FrameType.Request, 0],
        ["frame", 5, FrameType.Response, 70_000],
      ],
    );
    assert.ok(joined(frames[0].parts, frames[0].length).equals(request));
    assert.ok(joined(frames[2].parts, frames[2].length).equals(Buffer.alloc(70_000, 7)));
  }
});

test("an oversized frame is skipped and reported; the next frame splits out", () => {
  const header = Buffer.alloc(10);
  writeHeader(header, 0, 9, FrameType.Request, MAX_DATA_LENGTH + 1);
  const stream = Buffer.concat([
    header,
    Buffer.alloc(MAX_DATA_LENGTH + 1),
    encodeFrame(11, FrameType.Request, request),
  ]);
  const events = feed(splitAt(stream, [65536]));
  assert.deepEqual(
    events.map((e) => [e.kind, e.streamId, e.length]),
    [
      ["oversize", 9, MAX_DATA_LENGTH + 1],
      ["frame", 11, request.length],
    ],
  );
});

test("a request's routing fields and payload position read the same at every chunk boundary", () => {
  const payloadAt = Buffer.from(request).indexOf(Buffer.from([0, 1, 2, 3, 4]));
  for (let cut = 0; cut <= request.length; cut++) {
    const parts = [request.subarray(0, cut), request.subarray(cut)];
    const head = readRequestHead(parts, request.length);
    assert.deepEqual(
      [head.service, head.method, head.timeoutNano, head.payloadOffset, head.payloadLength],
      ["grpc.AgentService", "WriteStdin", 9_999_999_999, payloadAt, 300],
    );
    const payload = sliceParts(parts, head.payloadOffset, head.payloadLength);
    assert.deepEqual(Buffer.from(payload), Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff)));
  }
});

test("a response's outcome reads across boundaries; a negative code keeps its sign; truncation throws", () => {
  const res = Response.encode({
    status: { code: -3, message: "odd", details: [] },
    payload: Buffer.alloc(1000),
  }).finish();
  for (let cut = 0; cut <= res.length; cut += 7) {
    const parts = [res.subarray(0, cut), res.subarray(cut)];
    assert.deepEqual(readResponseOutcome(parts, res.length), { code: -3, payloadBytes: 1000 });
  }
  assert.throws(() => readRequestHead([request.subarray(0, 40)], 40), /premature EOF/);
});

test("frames are copies: a read buffer reused for the next chunk leaves earlier frames intact", () => {
  const stream = Buffer.concat([
    encodeFrame(1, FrameType.Request, request),
    encodeFrame(3, FrameType.Request, Buffer.alloc(50_000, 3)),
  ]);
  const reused = Buffer.alloc(4096);
  const s = new FrameSplitter();
  const frames: RelayFrame[] = [];
  for (let at = 0; at < stream.length; at += reused.length) {
    const n = stream.copy(reused, 0, at, at + reused.length);
    frames.push(...(s.push(reused.subarray(0, n)) as RelayFrame[]));
    reused.fill(0xee);
  }
  assert.equal(frames.length, 2);
  assert.ok(joined(frames[0].parts, frames[0].length).equals(request));
  assert.ok(joined(frames[1].parts, frames[1].length).equals(Buffer.alloc(50_000, 3)));
});

/** A sink that keeps a copy of what it is given and completes each write on the next tick. */
function sink(): { stream: Writable; written: Buffer[] } {
  const written: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      written.push(Buffer.from(chunk));
      process.nextTick(done);
    },
  });
  return { stream, written };
}

test("a relayed frame goes out in one write under its new header; its big buffer is reused only once written", async () => {
  const data = Buffer.alloc(200_000, 9);
  const splitOne = (): RelayFrame =>
    new FrameSplitter().push(encodeFrame(5, FrameType.Request, data))[0] as RelayFrame;
  const first = splitOne();
  const held = splitOne();
  assert.notEqual(held.wire.buffer, first.wire.buffer, "a buffer still held is not handed out again");

  const { stream, written } = sink();
  await new Promise<void>((resolve) => {
    writeFrame(stream, first, 7, FrameType.Response);
    stream.end(() => resolve());
  });
  assert.equal(written.length, 1);
  assert.ok(written[0].equals(encodeFrame(7, FrameType.Response, data)));
  const next = splitOne();
  assert.equal(
    next.wire.buffer,
    first.wire.buffer,
    "the written frame's buffer serves the next frame of its size",
  );
  assert.ok(joined(next.parts, next.length).equals(data));
  assert.ok(joined(held.parts, held.length).equals(data));
});

test("small frames are written whole too, header rewritten", () => {
  const { stream, written } = sink();
  const [frame] = new FrameSplitter().push(encodeFrame(1, FrameType.Request, request)) as RelayFrame[];
  writeFrame(stream, frame, 41, FrameType.Request);
  assert.ok(written[0].equals(encodeFrame(41, FrameType.Request, request)));
});
