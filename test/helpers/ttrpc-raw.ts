// A raw byte-level ttrpc peer for protocol and hostile-input tests: writes arbitrary bytes, collects the
// Response frames that come back.
import net from "node:net";
import { Request, Response } from "../../src/gen/ttrpc/request.ts";
import { FrameDecoder, FrameType, encodeFrame } from "../../src/ttrpc/frame.ts";
import type { Frame } from "../../src/ttrpc/frame.ts";

export interface DecodedResponse {
  streamId: number;
  /** Absent status decodes as code 0. */
  code: number;
  message: string;
  payload: Buffer;
  /** The frame's data length (0 for an empty success). */
  length: number;
}

export class RawConn {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  readonly closed: Promise<void>;
  private readonly decoder = new FrameDecoder();
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      for (const ev of this.decoder.push(chunk)) if (ev.kind === "frame") this.frames.push(ev.frame);
      for (const w of this.waiters) w();
    });
    socket.on("error", () => undefined);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  static async open(path: string): Promise<RawConn> {
    const socket = net.createConnection({ path });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawConn(socket);
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Sends a Request frame on the given stream id (any type/id: the test decides what is valid). */
  request(
    streamId: number,
    service: string,
    method: string,
    payload: Uint8Array = new Uint8Array(),
    type: number = FrameType.Request,
  ): void {
    const data = Request.encode({
      service,
      method,
      payload: Buffer.from(payload),
      timeoutNano: 0,
      metadata: [],
    }).finish();
    this.write(encodeFrame(streamId, type, data));
  }

  /** Waits until `n` frames have arrived in total; rejects after timeoutMs with what did arrive. */
  async waitFrames(n: number, timeoutMs = 5000): Promise<DecodedResponse[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < n) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`expected ${n} frames, got ${this.frames.length}: ${JSON.stringify(this.decoded())}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
      this.waiters = [];
    }
    return this.decoded();
  }

  /** Waits quietly for `ms`, then returns every frame received so far. */
  async settle(ms: number): Promise<DecodedResponse[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.decoded();
  }

  decoded(): DecodedResponse[] {
    return this.frames.map((f) => {
      const r = Response.decode(f.data);
      return {
        streamId: f.streamId,
        code: r.status?.code ?? 0,
        message: r.status?.message ?? "",
        payload: Buffer.from(r.payload),
        length: f.data.length,
      };
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
