// The relay's bookkeeping: a shim connection, the upstream connection, and a call between them.
import type { Duplex } from "node:stream";
import type { FrameSplitter } from "./frames.ts";

export interface Downstream {
  socket: Duplex;
  splitter: FrameSplitter;
  lastStreamId: number;
  /** Calls not answered yet. */
  calls: Set<Pending>;
  /** The shim sent FIN: answer its calls, then end. */
  ended: boolean;
  closed: boolean;
}

export interface Pending {
  down: Downstream;
  streamId: number;
  method: string;
  start: number;
  bytesIn: number;
  timer: NodeJS.Timeout | undefined;
  /** Its stream id upstream once sent (0 before). */
  upId: number;
  /** Answered (by the upstream, a timeout or an error); later answers are dropped. */
  done: boolean;
}

export interface Upstream {
  socket: Duplex;
  splitter: FrameSplitter;
  nextStreamId: number;
  pending: Map<number, Pending>;
  closed: boolean;
}

/** Marks a call answered; false when it already was (a late answer is then dropped). */
export function settle(pending: Pending): boolean {
  if (pending.done) return false;
  pending.done = true;
  clearTimeout(pending.timer);
  pending.down.calls.delete(pending);
  return true;
}
