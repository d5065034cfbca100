// One server-side connection: reads frames, runs handlers concurrently, writes responses
// (containerd/ttrpc server.go serverConn.run).
import type { Duplex } from "node:stream";
import type { Status } from "../gen/google/rpc/status.ts";
import { Request, Response } from "../gen/ttrpc/request.ts";
import { FrameDecoder, FrameType, MAX_DATA_LENGTH, asBuffer, encodeFrame, oversizeMessage } from "./frame.ts";
import type { CallContext, RawRequest, RawResult, ServiceSet } from "./services.ts";
import { Code, canceled, deadlineExceeded } from "./status.ts";

/** Stop reading requests while this much response data waits for the peer to read it. */
const WRITE_HIGH_WATER = 1 << 20;
/** A peer that lets this much pile up is not reading at all: drop it rather than grow without bound. */
const WRITE_HARD_LIMIT = 32 << 20;
/**
 * Handlers one connection may have running at once. Go has no such bound (a goroutine per request); beyond it we
 * answer 8 ResourceExhausted rather than stop reading, because a paused socket would not notice its peer leave.
 */
export const MAX_INFLIGHT = 1024;
/** setTimeout's maximum; a longer timeout_nano is as good as none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const invalidArgument = (message: string): Status => ({ code: Code.InvalidArgument, message, details: [] });

export class ServerConnection {
  private readonly decoder = new FrameDecoder();
  private readonly inflight = new Set<AbortController>();
  /** Highest request stream id seen; server.go's lastStreamID. */
  private lastStreamId = 0;
  private closed = false;
  private readonly socket: Duplex;
  private readonly services: ServiceSet;
  /** Settles when the socket has closed. */
  readonly done: Promise<void>;

  constructor(socket: Duplex, services: ServiceSet) {
    this.socket = socket;
    this.services = services;
    let resolveDone!: () => void;
    this.done = new Promise((resolve) => (resolveDone = resolve));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.throttle());
    socket.on("error", () => this.close());
    socket.on("end", () => this.close());
    socket.on("close", () => {
      this.close();
      resolveDone();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ac of this.inflight) ac.abort(canceled());
    this.inflight.clear();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      for (const ev of this.decoder.push(chunk)) {
        if (ev.kind === "oversize") {
          this.sendStatus(ev.streamId, {
            code: Code.ResourceExhausted,
            message: oversizeMessage(ev.length),
            details: [],
          });
        } else {
          this.onFrame(ev.frame.streamId, ev.frame.type, ev.frame.data);
        }
      }
    } catch {
      this.close();
    }
  }

  /**
   * Stream-id and frame-type rules of containerd/ttrpc server.go (upstream commit 027f9814), in its order:
   * 1. an even stream id, whatever the frame type → 3 "StreamID must be odd for client initiated streams";
   * 2. a Data frame → 3 "StreamID is no longer active" (we serve unary methods only, so no stream takes data;
   *    upstream sends the same status and then dereferences a nil handler, which we do not copy);
   * 3. any other non-Request type is ignored "for future compat";
   * 4. a Request whose id is not greater than the last one → 3 "StreamID cannot be re-used and must increment";
   *    otherwise the id becomes the last one, before the envelope is decoded;
   * 5. an undecodable envelope → 3 "unmarshal request error: …".
   * Every status goes back on the offending stream id and the connection stays open.
   */
  private onFrame(streamId: number, type: number, data: Uint8Array): void {
    if (streamId % 2 !== 1) {
      return this.sendStatus(streamId, invalidArgument("StreamID must be odd for client initiated streams"));
    }
    if (type === FrameType.Data)
      return this.sendStatus(streamId, invalidArgument("StreamID is no longer active"));
    if (type !== FrameType.Request) return;
    if (streamId <= this.lastStreamId) {
      return this.sendStatus(streamId, invalidArgument("StreamID cannot be re-used and must increment"));
    }
    this.lastStreamId = streamId;
    let req: Request;
    try {
      req = Request.decode(data);
    } catch (err) {
      return this.sendStatus(streamId, invalidArgument(`unmarshal request error: ${String(err)}`));
    }
    if (this.inflight.size >= MAX_INFLIGHT) {
      const message = `ttrpc: more than ${MAX_INFLIGHT} concurrent requests on one connection`;
      return this.sendStatus(streamId, { code: Code.ResourceExhausted, message, details: [] });
    }
    void this.run(streamId, {
      service: req.service,
      method: req.method,
      payload: req.payload,
      timeoutNano: req.timeoutNano,
      metadata: req.metadata.map(({ key, value }) => ({ key, value })),
    }).catch(() => this.close());
  }

  private async run(streamId: number, req: RawRequest): Promise<void> {
    const ac = new AbortController();
    this.inflight.add(ac);
    const metadata: Record<string, string[]> = {};
    for (const { key, value } of req.metadata) (metadata[key] ??= []).push(value);
    const ctx: CallContext = { service: req.service, method: req.method, metadata, signal: ac.signal };
    let timer: NodeJS.Timeout | undefined;
    if (req.timeoutNano !== 0) {
      // server.go getRequestContext: context.WithTimeout(timeout_nano); a negative value is already expired.
      const ms = req.timeoutNano / 1e6;
      ctx.deadline = Date.now() + ms;
      if (ms <= 0) ac.abort(deadlineExceeded());
      else if (ms <= MAX_TIMER_MS) timer = setTimeout(() => ac.abort(deadlineExceeded()), ms);
    }
    let result: RawResult;
    try {
      result = await this.services.call(req, ctx);
    } finally {
      clearTimeout(timer);
      this.inflight.delete(ac);
    }
    if ("status" in result) this.sendStatus(streamId, result.status);
    else if (result.payload.length > MAX_DATA_LENGTH) {
      const message = oversizeMessage(result.payload.length);
      this.sendStatus(streamId, { code: Code.ResourceExhausted, message, details: [] });
    } else this.send(streamId, { status: undefined, payload: asBuffer(result.payload) });
  }

  private sendStatus(streamId: number, status: Status): void {
    this.send(streamId, { status, payload: Buffer.alloc(0) });
  }

  /** On success the status is omitted, as the Go server does, so an empty message is a 0-length frame. */
  private send(streamId: number, response: Response): void {
    if (this.closed) return;
    const data = Response.encode(response).finish();
    this.socket.write(encodeFrame(streamId, FrameType.Response, data));
    if (this.socket.writableLength > WRITE_HARD_LIMIT) this.close();
    else this.throttle();
  }

  /**
   * Back-pressure: like Go's server, whose reader blocks while its replies cannot be written, we stop reading while
   * replies wait for the peer, so one that never reads holds bounded memory. A peer that leaves is still noticed:
   * the pending write fails.
   */
  private throttle(): void {
    if (this.closed) return;
    if (this.socket.writableLength > WRITE_HIGH_WATER) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }
}
