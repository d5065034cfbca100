// A call with a registered edit: its payload is handed to the edit, and the request re-encoded
// around what comes back (or relayed as received when the edit returns the payload unchanged).
import { Request } from "../gen/ttrpc/request.ts";
import type { Logger } from "../log/logger.ts";
import { Code, TtrpcError } from "../ttrpc/status.ts";
import type { RequestHead } from "./envelope.ts";
import { sliceParts } from "./fields.ts";
import { joined, ownFrame, type RelayFrame } from "./frames.ts";
import type { PayloadEdit } from "./types.ts";

export interface EditOutcome {
  /** The request frame to relay. */
  send(frame: RelayFrame): void;
  refuse(err: TtrpcError): void;
}

export function applyEdit(
  edit: PayloadEdit,
  frame: RelayFrame,
  head: RequestHead,
  logger: Logger,
  out: EditOutcome,
): void {
  const payload = sliceParts(frame.parts, head.payloadOffset, head.payloadLength);
  const refuse = (err: unknown): void =>
    out.refuse(err instanceof TtrpcError ? err : new TtrpcError(Code.Unknown, String(err)));
  const withEdit = (edited: Uint8Array): void => {
    if (edited === payload) return out.send(frame);
    const req = Request.decode(joined(frame.parts, frame.length));
    const data = Request.encode({
      ...req,
      payload: Buffer.from(edited.buffer, edited.byteOffset, edited.length),
    }).finish();
    out.send(ownFrame(data));
  };
  let edited: Uint8Array | Promise<Uint8Array>;
  try {
    edited = edit(payload, logger);
  } catch (err) {
    return refuse(err);
  }
  if (edited instanceof Promise) edited.then(withEdit).catch(refuse);
  else withEdit(edited);
}
