// The shim side of the relay answers like containerd/ttrpc server.go: its stream-id rules, in its
// order, and its refusal of services it does not serve. Every refusal keeps the connection.
import { FrameType } from "../ttrpc/frame.ts";
import { Code } from "../ttrpc/status.ts";
import { readRequestHead, type RequestHead } from "./envelope.ts";
import type { RelayFrame } from "./frames.ts";

export type Admission =
  | { ok: true; head: RequestHead }
  | { ok: false; code: number; message: string }
  /** Not a request (e.g. a stray Response frame): ignored, as server.go does. */
  | { ok: false; code: undefined };

/** Checks one frame from the shim; a request with a fresh stream id advances `conn.lastStreamId`. */
export function admit(
  frame: RelayFrame,
  conn: { lastStreamId: number },
  services: readonly string[],
): Admission {
  const { streamId, type } = frame;
  if (streamId % 2 !== 1)
    return refuse(Code.InvalidArgument, "StreamID must be odd for client initiated streams");
  if (type === FrameType.Data) return refuse(Code.InvalidArgument, "StreamID is no longer active");
  if (type !== FrameType.Request) return { ok: false, code: undefined };
  if (streamId <= conn.lastStreamId)
    return refuse(Code.InvalidArgument, "StreamID cannot be re-used and must increment");
  conn.lastStreamId = streamId;
  let head: RequestHead;
  try {
    head = readRequestHead(frame.parts, frame.length);
  } catch (err) {
    return refuse(Code.InvalidArgument, `unmarshal request error: ${String(err)}`);
  }
  if (!services.includes(head.service)) return refuse(Code.Unimplemented, `service ${head.service}`);
  return { ok: true, head };
}

function refuse(code: number, message: string): Admission {
  return { ok: false, code, message };
}
