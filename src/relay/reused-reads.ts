// Reads into one buffer per connection (net/tls `onread`) instead of a fresh allocation per read: a
// TLS socket otherwise hands out every read, however small, in its own 64 KiB buffer, and that
// external memory made V8 run a full GC every ~100 ms under a stream of small calls. Each read is
// emitted as a 'data' event whose chunk is valid only during the event (the relay copies what it
// keeps, frames.ts). Pausing the socket stops reading, so flow control works as before.
import type { Duplex } from "node:stream";

const READ_BUFFER = 64 << 10;

export interface OnRead {
  buffer: Buffer;
  callback: (nread: number, buf: Buffer) => boolean;
}

/**
 * The `onread` option for `socketOf()`'s socket. Reads before anyone listens for 'data' (e.g. a
 * peer that talks right after the handshake) are kept as copies and emitted to the first listener.
 */
export function reusedReads(socketOf: () => Duplex): OnRead {
  let early: Buffer[] | undefined;
  return {
    buffer: Buffer.allocUnsafe(READ_BUFFER),
    callback: (nread, buf) => {
      const socket = socketOf();
      const chunk = buf.subarray(0, nread);
      if (socket.listenerCount("data") > 0 && early === undefined) {
        socket.emit("data", chunk);
        return true;
      }
      if (early === undefined) {
        early = [];
        socket.once("newListener", (event: string) => {
          if (event !== "data") return;
          process.nextTick(() => {
            const held = early ?? [];
            early = undefined;
            for (const c of held) socket.emit("data", c);
          });
        });
      }
      early.push(Buffer.from(chunk));
      return true;
    },
  };
}
