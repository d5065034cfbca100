// A kata agent stand-in for flow-control tests, speaking raw ttrpc on a unix socket so a test can
// stall it: reading can be paused, answers are written with backpressure (as a Go or Rust agent
// blocks on a full socket), and a connection can be ended or dropped under a call.
// Methods (any service): Write — answers the payload length and records the payload's first
// 4 bytes (a sequence number); Read — payload {u32 seq, u32 size}, answers `size` bytes stamped
// with seq at both ends; Hold — answers nothing until release().
import net from "node:net";
import { Request, Response } from "../../src/gen/ttrpc/request.ts";
import { FrameDecoder, FrameType, encodeFrame } from "../../src/ttrpc/frame.ts";

export interface FlowAgent {
  /** Sequence numbers of Write payloads, in arrival order. */
  readonly written: number[];
  /** Bytes of Write payloads received. */
  readonly writtenBytes: () => number;
  /** Read answers handed to the socket (written or queued in it). */
  readonly readsAnswered: () => number;
  readonly connections: () => number;
  /** Requests received. */
  readonly requests: () => number;
  pause(): void;
  resume(): void;
  /** Answers every held call (an empty success). */
  release(): void;
  /** Ends (FIN) or closes abruptly (unread data discarded) every connection. */
  dropConnections(how: "end" | "destroy"): void;
  close(): Promise<void>;
}

export function readRequest(seq: number, size: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(seq, 0);
  b.writeUInt32BE(size, 4);
  return b;
}

export function stamped(seq: number, size: number): Buffer {
  const b = Buffer.alloc(size, seq & 0xff);
  b.writeUInt32BE(seq, 0);
  b.writeUInt32BE(seq, size - 4);
  return b;
}

export async function startFlowAgent(socketPath: string): Promise<FlowAgent> {
  const sockets = new Set<net.Socket>();
  const held: (() => void)[] = [];
  const written: number[] = [];
  let writtenBytes = 0;
  let readsAnswered = 0;
  let requests = 0;
  let paused = false;

  const serve = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    if (paused) socket.pause();
    const decoder = new FrameDecoder();
    // Answers go out one at a time, each after the socket took the previous one.
    let queue = Promise.resolve();
    const answer = (streamId: number, payload: () => Uint8Array): void => {
      queue = queue.then(async () => {
        if (socket.destroyed) return;
        const data = Response.encode({ status: undefined, payload: Buffer.from(payload()) }).finish();
        // A closed socket never drains: its queue just stops.
        if (!socket.write(encodeFrame(streamId, FrameType.Response, data)))
          await new Promise((resolve) => socket.once("drain", resolve));
      });
    };
    socket.on("data", (chunk: Buffer) => {
      for (const ev of decoder.push(chunk)) {
        if (ev.kind !== "frame") continue;
        requests++;
        const req = Request.decode(ev.frame.data);
        const id = ev.frame.streamId;
        const p = Buffer.from(req.payload);
        if (req.method === "Write") {
          written.push(p.readUInt32BE(0));
          writtenBytes += p.length;
          const n = Buffer.alloc(4);
          n.writeUInt32BE(p.length);
          answer(id, () => n);
        } else if (req.method === "Read") {
          answer(id, () => {
            readsAnswered++;
            return stamped(p.readUInt32BE(0), p.readUInt32BE(4));
          });
        } else if (req.method === "Hold") held.push(() => answer(id, () => new Uint8Array()));
        else answer(id, () => new Uint8Array());
      }
    });
  };
  const server = net.createServer(serve);
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    written,
    writtenBytes: () => writtenBytes,
    readsAnswered: () => readsAnswered,
    connections: () => sockets.size,
    requests: () => requests,
    pause: () => {
      paused = true;
      for (const s of sockets) s.pause();
    },
    resume: () => {
      paused = false;
      for (const s of sockets) s.resume();
    },
    release: () => held.splice(0).forEach((f) => f()),
    dropConnections: (how) => {
      for (const s of sockets)
        if (how === "end") s.end();
        else s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
