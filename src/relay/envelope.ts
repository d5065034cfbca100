// Just enough of the ttrpc envelopes (containerd/ttrpc request.proto; docs/upstream-compat.md §1.4) for a relay
// that forwards frames without re-encoding them: the routing fields of a Request, the outcome of a
// Response, and status-only Responses of its own. Both readers skip the payload without copying it.
import { Response } from "../gen/ttrpc/request.ts";
import { PartsReader, WireType } from "./fields.ts";

export interface RequestHead {
  service: string;
  method: string;
  /** Where the payload lies in the frame data. */
  payloadOffset: number;
  payloadLength: number;
  /** 0 = no deadline. */
  timeoutNano: number;
}

/** Reads service, method, payload position and timeout_nano; other fields (metadata) are skipped. Throws on bad input. */
export function readRequestHead(parts: readonly Uint8Array[], length: number): RequestHead {
  const r = new PartsReader(parts, length);
  const head: RequestHead = { service: "", method: "", payloadOffset: 0, payloadLength: 0, timeoutNano: 0 };
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.LengthDelimited) head.service = r.string();
    else if (field === 2 && type === WireType.LengthDelimited) head.method = r.string();
    else if (field === 3 && type === WireType.LengthDelimited) {
      const { offset, length: n } = r.skipBytes();
      head.payloadOffset = offset;
      head.payloadLength = n;
    } else if (field === 4 && type === WireType.Varint) head.timeoutNano = r.varint();
    else r.skip(type);
  }
  return head;
}

export interface ResponseOutcome {
  /** 0 when the status is absent (the Go server omits it on success). */
  code: number;
  payloadBytes: number;
}

export function readResponseOutcome(parts: readonly Uint8Array[], length: number): ResponseOutcome {
  const r = new PartsReader(parts, length);
  const out: ResponseOutcome = { code: 0, payloadBytes: 0 };
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.LengthDelimited) out.code = statusCode(r.bytes());
    else if (field === 2 && type === WireType.LengthDelimited) out.payloadBytes = r.skipBytes().length;
    else r.skip(type);
  }
  return out;
}

function statusCode(status: Uint8Array): number {
  const r = new PartsReader([status], status.length);
  let code = 0;
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.Varint) code = r.int32();
    else r.skip(type);
  }
  return code;
}

/** A Response carrying only a status, as a Go ttrpc server sends for a failed call. */
export function statusResponse(code: number, message: string): Uint8Array {
  return Response.encode({ status: { code, message, details: [] }, payload: Buffer.alloc(0) }).finish();
}
