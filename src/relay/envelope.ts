// Just enough of the ttrpc envelopes (containerd/ttrpc request.proto; docs/upstream-compat.md §1.4) for a relay
// that forwards frames without re-encoding them: the routing fields of a Request, the outcome of a
// Response, and status-only Responses of its own.
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { Response } from "../gen/ttrpc/request.ts";

export interface RequestHead {
  service: string;
  method: string;
  /** A view into the frame data, not a copy. */
  payload: Uint8Array;
  /** 0 = no deadline. */
  timeoutNano: number;
}

/** Reads service, method, payload and timeout_nano; other fields (metadata) are skipped. Throws on bad input. */
export function readRequestHead(data: Uint8Array): RequestHead {
  const r = new BinaryReader(data);
  const head: RequestHead = { service: "", method: "", payload: new Uint8Array(0), timeoutNano: 0 };
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.LengthDelimited) head.service = r.string();
    else if (field === 2 && type === WireType.LengthDelimited) head.method = r.string();
    else if (field === 3 && type === WireType.LengthDelimited) head.payload = r.bytes();
    else if (field === 4 && type === WireType.Varint) head.timeoutNano = Number(r.int64());
    else r.skip(type, field);
  }
  return head;
}

export interface ResponseOutcome {
  /** 0 when the status is absent (the Go server omits it on success). */
  code: number;
  payloadBytes: number;
}

export function readResponseOutcome(data: Uint8Array): ResponseOutcome {
  const r = new BinaryReader(data);
  const out: ResponseOutcome = { code: 0, payloadBytes: 0 };
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.LengthDelimited) out.code = statusCode(r.bytes());
    else if (field === 2 && type === WireType.LengthDelimited) out.payloadBytes = r.bytes().length;
    else r.skip(type, field);
  }
  return out;
}

function statusCode(status: Uint8Array): number {
  const r = new BinaryReader(status);
  let code = 0;
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.Varint) code = r.int32();
    else r.skip(type, field);
  }
  return code;
}

/** A Response carrying only a status, as a Go ttrpc server sends for a failed call. */
export function statusResponse(code: number, message: string): Uint8Array {
  return Response.encode({ status: { code, message, details: [] }, payload: Buffer.alloc(0) }).finish();
}
