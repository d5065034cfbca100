import assert from "node:assert/strict";
import { test } from "node:test";
import { StartVMRequest } from "../../src/gen/hypervisor/hypervisor.ts";
import { Request, Response } from "../../src/gen/ttrpc/request.ts";
import { FrameDecoder, FrameType, MAX_DATA_LENGTH, encodeFrame } from "../../src/ttrpc/frame.ts";
import type { Frame, FrameEvent } from "../../src/ttrpc/frame.ts";

const hex = (s: string): Buffer => Buffer.from(s.replace(/[^0-9a-f]/gi, ""), "hex");
const ascii = (s: string): string => Buffer.from(s).toString("hex");

// docs/upstream-compat.md §1.4 worked example: StartVM{id:"abc"}, 600 s deadline, stream 1.
const startVmFrame = hex(
  "0000002e 00000001 01 00" +
    `0a15 ${ascii("hypervisor.Hypervisor")} 1207 ${ascii("StartVM")} 1a05 0a03616263 20 80e0a596bb11`,
);
const emptyOkFrame = hex("00 00 00 00 00 00 00 01 02 00");
const boomFrame = hex("00 00 00 0a 00 00 00 03 02 00 0a 08 08 02 12 04 62 6f 6f 6d");
// docs/testing.md: captured from containerd's Go client (10 s deadline) and the Go server's OK reply.
const goClientFrame = hex(
  `0000002f 00000001 01 00 0a16 ${ascii("grpc.HypervisorService")} 1208 ${ascii("CreateVM")} 1a05 0a03616263 20 ccb9aea025`,
);
const goServerReply = hex("0000000a 00000001 02 00 0a00 1206 0a046f6b2121");

function frames(events: FrameEvent[]): Frame[] {
  return events.map((e) => {
    assert.equal(e.kind, "frame");
    return (e as { frame: Frame }).frame;
  });
}

test("StartVM request with a 600 s deadline encodes to the §1.4 golden bytes", () => {
  const payload = StartVMRequest.encode({ id: "abc" }).finish();
  const req = Request.encode({
    service: "hypervisor.Hypervisor",
    method: "StartVM",
    payload: Buffer.from(payload),
    timeoutNano: 600e9,
    metadata: [],
  }).finish();
  assert.deepEqual(encodeFrame(1, FrameType.Request, req), startVmFrame);
});

test("StartVM golden bytes decode back to the request", () => {
  const [frame] = frames(new FrameDecoder().push(startVmFrame));
  assert.deepEqual(
    { ...frame, data: undefined },
    { streamId: 1, type: FrameType.Request, flags: 0, data: undefined },
  );
  const req = Request.decode(frame.data);
  assert.equal(req.service, "hypervisor.Hypervisor");
  assert.equal(req.method, "StartVM");
  assert.equal(req.timeoutNano, 600e9);
  assert.equal(StartVMRequest.decode(req.payload).id, "abc");
});

test("an empty success response (status omitted) is a 0-length Response frame", () => {
  const data = Response.encode({ status: undefined, payload: Buffer.alloc(0) }).finish();
  assert.deepEqual(encodeFrame(1, FrameType.Response, data), emptyOkFrame);
  const [frame] = frames(new FrameDecoder().push(emptyOkFrame));
  assert.equal(frame.data.length, 0);
  assert.equal(Response.decode(frame.data).status, undefined);
});

test('a code-2 "boom" error on stream 3 matches the golden bytes both ways', () => {
  const data = Response.encode({
    status: { code: 2, message: "boom", details: [] },
    payload: Buffer.alloc(0),
  }).finish();
  assert.deepEqual(encodeFrame(3, FrameType.Response, data), boomFrame);
  const [frame] = frames(new FrameDecoder().push(boomFrame));
  assert.equal(frame.streamId, 3);
  assert.deepEqual(Response.decode(frame.data).status, {
    code: 2,
    message: "boom",
    details: [],
    _unknownFields: {},
  });
});

test("the Go client capture decodes, including its ~10 s timeout_nano", () => {
  const [frame] = frames(new FrameDecoder().push(goClientFrame));
  const req = Request.decode(frame.data);
  assert.equal(req.service, "grpc.HypervisorService");
  assert.equal(req.method, "CreateVM");
  assert.ok(req.timeoutNano > 9.9e9 && req.timeoutNano <= 10e9, String(req.timeoutNano));
  const [reply] = frames(new FrameDecoder().push(goServerReply));
  const resp = Response.decode(reply.data);
  assert.equal(resp.status?.code, 0);
  assert.equal(Buffer.from(resp.payload).toString("hex"), "0a046f6b2121");
});

test("the decoder reassembles frames fed one byte at a time", () => {
  const stream = Buffer.concat([startVmFrame, emptyOkFrame, boomFrame]);
  const decoder = new FrameDecoder();
  const got: Frame[] = [];
  for (const byte of stream) got.push(...frames(decoder.push(Uint8Array.of(byte))));
  assert.deepEqual(
    got.map((f) => encodeFrame(f.streamId, f.type, f.data, f.flags)),
    [startVmFrame, emptyOkFrame, boomFrame],
  );
  assert.equal(decoder.buffered, 0);
  assert.equal(decoder.midFrame, false);
});

test("the decoder splits concatenated frames from a single chunk", () => {
  const got = frames(new FrameDecoder().push(Buffer.concat([boomFrame, emptyOkFrame, boomFrame])));
  assert.deepEqual(
    got.map((f) => f.streamId),
    [3, 1, 3],
  );
});

test("an oversized frame is skipped byte-exactly, reported with its stream id, and the next frame decodes", () => {
  const length = MAX_DATA_LENGTH + 1;
  const header = Buffer.alloc(10);
  header.writeUInt32BE(length, 0);
  header.writeUInt32BE(7, 4);
  header[8] = FrameType.Request;
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(header), []);
  // The skipped data arrives in pieces and is not held in memory.
  const piece = Buffer.alloc(1 << 20, 0xff);
  for (let sent = 0; sent + piece.length < length; sent += piece.length) {
    assert.deepEqual(decoder.push(piece), []);
    assert.equal(decoder.buffered, 0);
  }
  const rest = length % piece.length;
  const events = decoder.push(Buffer.concat([piece.subarray(0, rest), boomFrame]));
  assert.deepEqual(events[0], { kind: "oversize", streamId: 7, type: FrameType.Request, length });
  assert.equal(events.length, 2);
  assert.equal(frames(events.slice(1))[0].streamId, 3);
});

test("a frame of exactly the maximum length is accepted", () => {
  const big = encodeFrame(5, FrameType.Data, new Uint8Array(MAX_DATA_LENGTH));
  const [frame] = frames(new FrameDecoder().push(big));
  assert.equal(frame.data.length, MAX_DATA_LENGTH);
});
