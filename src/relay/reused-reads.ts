// Reads into one buffer per connection (net/tls `onread`) instead of a fresh allocation per read: a
// TLS socket otherwise hands out every read, however small, in its own 64 KiB buffer, and that
// external memory made V8 run a full GC every ~100 ms under a stream of small calls. Each read is
// emitted as a 'data' event whose chunk is valid only during the event (the relay copies what it
// keeps, frames.ts). Pausing the socket stops reading, so flow control works as before.
// Node offers `onread` only on sockets it dials; adoptReusedReads gives an accepted one the same.
import type { Duplex } from "node:stream";

const READ_BUFFER = 64 << 10;

export interface OnRead {
  buffer: Buffer;
  callback: (nread: number, buf: Buffer) => boolean;
}

/**
 * The `onread` option for `socketOf()`'s socket. A read that nobody can take — before the first
 * 'data' listener (a peer that talks right after the handshake), or while the socket is paused (a
 * TLS socket still hands out the records of a read it had begun) — is kept as a copy, reading
 * stops, and the copies are emitted in order, before any later read, once a listener comes or the
 * socket is resumed.
 */
export function reusedReads(socketOf: () => Duplex): OnRead {
  const held: Buffer[] = [];
  let waiting = false;
  const canTake = (socket: Duplex): boolean =>
    socket.listenerCount("data") > 0 && socket.readableFlowing !== false && !socket.destroyed;
  const flush = (): void => {
    waiting = false;
    const socket = socketOf();
    while (held.length > 0 && canTake(socket)) socket.emit("data", held.shift());
    if (held.length > 0) waitToFlush(socket);
  };
  const waitToFlush = (socket: Duplex): void => {
    if (waiting || socket.destroyed) return;
    waiting = true;
    const onListener = (event: string | symbol): void => {
      if (event !== "data") return;
      socket.off("newListener", onListener);
      socket.off("resume", onResume);
      process.nextTick(flush);
    };
    const onResume = (): void => {
      socket.off("newListener", onListener);
      flush();
    };
    socket.on("newListener", onListener);
    socket.once("resume", onResume);
  };
  return {
    buffer: Buffer.allocUnsafe(READ_BUFFER),
    callback: (nread, buf) => {
      const socket = socketOf();
      const chunk = buf.subarray(0, nread);
      if (held.length === 0 && canTake(socket)) {
        socket.emit("data", chunk);
        return true;
      }
      held.push(Buffer.from(chunk));
      waitToFlush(socket);
      // Stop reading until then; resuming the socket (which adding a 'data' listener does) reads on.
      return false;
    },
  };
}

interface UserBufferHandle {
  useUserBuffer?: (buffer: Uint8Array) => void;
}

/**
 * Gives an accepted socket (net.Server, or a tls.Server's TLSSocket) what `onread` gives a dialled
 * one; call it in the connection listener, before any read. In the upload direction every read of
 * the shim's socket and of the forwarder's mTLS socket was a fresh buffer taken through the stream
 * machinery: adopted, both relays spent ~30 % less CPU per MiB and ran a tenth of the GC (agent
 * bench, same run). It sets what Node's net.Socket constructor sets for `onread` (its kBuffer and
 * kBufferCb slots, then the handle's useUserBuffer), so it depends on Node's internals: where they
 * are not found (another Node) or bytes are already queued, it returns false and the socket reads
 * as before. test/unit/reused-reads.test.ts checks that it is taken on this Node.
 */
export function adoptReusedReads(socket: Duplex): boolean {
  const slots = socket as unknown as Record<symbol, unknown> & { _handle?: UserBufferHandle | null };
  const symbols = Object.getOwnPropertySymbols(socket);
  const kBuffer = symbols.find((s) => s.description === "kBuffer");
  const kBufferCb = symbols.find((s) => s.description === "kBufferCb");
  const handle = slots._handle;
  if (kBuffer === undefined || kBufferCb === undefined || slots[kBuffer] || slots[kBufferCb]) return false;
  if (typeof handle?.useUserBuffer !== "function" || socket.destroyed || socket.readableLength > 0)
    return false;
  const onread = reusedReads(() => socket);
  handle.useUserBuffer(onread.buffer);
  slots[kBuffer] = onread.buffer;
  slots[kBufferCb] = onread.callback;
  return true;
}
