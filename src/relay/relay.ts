// The agent relay: every shim connection's calls go out on one multiplexed upstream connection (to the
// VM's forwarder, or from the forwarder to the kata agent). Frames are relayed as they are: only the
// stream id in the header changes, so a call passes byte for byte and costs one copy per hop. Calls
// with a registered edit (CreateContainer, CreateSandbox) are decoded, edited and re-encoded.
// Towards the shim the relay answers like containerd's ttrpc server (stream-id rules, 8 for oversized
// frames, 12 for other services); a dropped upstream is re-dialled by the next call.
import type { Duplex } from "node:stream";
import { Request } from "../gen/ttrpc/request.ts";
import type { Logger } from "../log/logger.ts";
import {
  FrameDecoder,
  FrameType,
  HEADER_LENGTH,
  encodeFrame,
  oversizeMessage,
  writeHeader,
} from "../ttrpc/frame.ts";
import { Code, TtrpcError } from "../ttrpc/status.ts";
import { DialTimeoutError, withBackoff } from "./dial.ts";
import { readRequestHead, readResponseOutcome, statusResponse, type ResponseOutcome } from "./envelope.ts";

/**
 * Rewrites a request payload; return it unchanged to relay the original bytes; throw (or reject
 * with) a TtrpcError to refuse. An edit that does I/O (the VM side mounting a cloud volume) returns
 * a promise: only that call waits for it.
 */
export type PayloadEdit = (payload: Uint8Array, logger: Logger) => Uint8Array | Promise<Uint8Array>;
/** An edit that only looks at or rewrites the bytes. */
export type SyncPayloadEdit = (payload: Uint8Array, logger: Logger) => Uint8Array;

export type CallObserver = (
  method: string,
  ms: number,
  ok: boolean,
  bytesIn: number,
  bytesOut: number,
) => void;

export interface RelayOptions {
  /** Where calls go, for logs and errors ("10.0.0.5:15150", "/run/kata-containers/agent.sock"). */
  target: string;
  /** One connection attempt; the stream must be ready to carry ttrpc frames. */
  dialOnce: (signal: AbortSignal) => Promise<Duplex>;
  /** Services relayed; any other gets 12 "service X" as from a Go ttrpc server. */
  services: readonly string[];
  /** Keyed "service/method". */
  edits?: ReadonlyMap<string, PayloadEdit>;
  /** Bound of a re-dial made for a call. */
  redialTimeoutMs: number;
  logger: Logger;
  onCall?: CallObserver;
}

/** A shim that lets this much response data pile up is not reading: drop it (as the ttrpc server does). */
const DOWNSTREAM_HARD_LIMIT = 32 << 20;
/** Stop reading shims while this much waits to go upstream. */
const UPSTREAM_HIGH_WATER = 4 << 20;
const MAX_STREAM_ID = 0xffffffff;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Frames up to this size are joined with their header into one write; bigger ones go out as a writev. */
const SMALL_FRAME = 16 << 10;

interface Downstream {
  socket: Duplex;
  decoder: FrameDecoder;
  lastStreamId: number;
  closed: boolean;
}

interface Pending {
  down: Downstream;
  streamId: number;
  method: string;
  start: number;
  bytesIn: number;
  timer: NodeJS.Timeout | undefined;
  /** Answered (by the upstream, a timeout or an error); later answers are dropped. */
  done: boolean;
}

interface Upstream {
  socket: Duplex;
  decoder: FrameDecoder;
  nextStreamId: number;
  pending: Map<number, Pending>;
  closed: boolean;
}

export class AgentRelay {
  readonly #opts: RelayOptions;
  readonly #closing = new AbortController();
  readonly #downstreams = new Set<Downstream>();
  #up: Upstream | undefined;
  #dialing: Promise<Upstream> | undefined;

  constructor(opts: RelayOptions) {
    this.#opts = opts;
  }

  get connected(): boolean {
    return this.#up !== undefined && !this.#up.closed;
  }

  /** Dial now (with backoff) and keep the connection; DialTimeoutError when `timeoutMs` passes. */
  async connect(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.#acquire(timeoutMs, signal);
  }

  /** Relays the calls of one shim connection until either side closes it. */
  serve(socket: Duplex): void {
    if (this.#closing.signal.aborted) {
      socket.destroy();
      return;
    }
    const down: Downstream = { socket, decoder: new FrameDecoder(), lastStreamId: 0, closed: false };
    this.#downstreams.add(down);
    const close = (): void => this.#closeDownstream(down);
    socket.on("data", (chunk: Buffer) => this.#onDownstreamData(down, chunk));
    socket.on("error", close);
    socket.on("end", close);
    socket.on("close", close);
  }

  /** Drops the upstream and every shim connection. */
  close(): void {
    this.#closing.abort(new TtrpcError(Code.Unavailable, `relay to ${this.#opts.target} closed`));
    if (this.#up) this.#closeUpstream(this.#up, "relay closed");
    for (const down of this.#downstreams) this.#closeDownstream(down);
  }

  // ---- shim side -------------------------------------------------------------------------------

  #onDownstreamData(down: Downstream, chunk: Buffer): void {
    if (down.closed) return;
    try {
      for (const ev of down.decoder.push(chunk)) {
        if (ev.kind === "oversize") {
          this.#reply(down, ev.streamId, Code.ResourceExhausted, oversizeMessage(ev.length));
        } else {
          this.#onDownstreamFrame(down, ev.frame.streamId, ev.frame.type, ev.frame.data);
        }
      }
    } catch {
      this.#closeDownstream(down);
    }
  }

  /** containerd/ttrpc server.go's stream rules, in its order; every refusal keeps the connection. */
  #onDownstreamFrame(down: Downstream, streamId: number, type: number, data: Uint8Array): void {
    if (streamId % 2 !== 1)
      return this.#reply(
        down,
        streamId,
        Code.InvalidArgument,
        "StreamID must be odd for client initiated streams",
      );
    if (type === FrameType.Data)
      return this.#reply(down, streamId, Code.InvalidArgument, "StreamID is no longer active");
    if (type !== FrameType.Request) return;
    if (streamId <= down.lastStreamId)
      return this.#reply(
        down,
        streamId,
        Code.InvalidArgument,
        "StreamID cannot be re-used and must increment",
      );
    down.lastStreamId = streamId;
    let head;
    try {
      head = readRequestHead(data);
    } catch (err) {
      return this.#reply(down, streamId, Code.InvalidArgument, `unmarshal request error: ${String(err)}`);
    }
    if (!this.#opts.services.includes(head.service)) {
      return this.#reply(down, streamId, Code.Unimplemented, `service ${head.service}`);
    }
    const start = performance.now();
    const edit = this.#opts.edits?.get(`${head.service}/${head.method}`);
    if (!edit) return this.#forward(down, streamId, head, data, start);
    const refuse = (err: unknown): void => {
      const e = err instanceof TtrpcError ? err : new TtrpcError(Code.Unknown, String(err));
      this.#opts.onCall?.(head.method, performance.now() - start, false, head.payload.length, 0);
      this.#reply(down, streamId, e.code, e.message);
    };
    const withEdit = (edited: Uint8Array): void => {
      if (edited === head.payload) return this.#forward(down, streamId, head, data, start);
      const req = Request.decode(data);
      const out = Request.encode({
        ...req,
        payload: Buffer.from(edited.buffer, edited.byteOffset, edited.length),
      }).finish();
      this.#forward(down, streamId, head, out, start);
    };
    let edited: Uint8Array | Promise<Uint8Array>;
    try {
      edited = edit(head.payload, this.#opts.logger);
    } catch (err) {
      return refuse(err);
    }
    if (edited instanceof Promise) edited.then(withEdit, refuse);
    else withEdit(edited);
  }

  #forward(
    down: Downstream,
    streamId: number,
    head: ReturnType<typeof readRequestHead>,
    out: Uint8Array,
    start: number,
  ): void {
    if (down.closed) return;
    const pending: Pending = {
      down,
      streamId,
      method: head.method,
      start,
      bytesIn: head.payload.length,
      timer: undefined,
      done: false,
    };
    if (head.timeoutNano > 0) {
      const ms = head.timeoutNano / 1e6;
      if (ms <= MAX_TIMER_MS) pending.timer = setTimeout(() => this.#expire(pending), ms);
    }
    const up = this.#up;
    if (up && !up.closed) this.#sendUpstream(up, pending, out);
    else void this.#sendAfterDial(pending, out);
  }

  async #sendAfterDial(pending: Pending, data: Uint8Array): Promise<void> {
    let up: Upstream;
    try {
      up = await this.#acquire(this.#opts.redialTimeoutMs);
    } catch (err) {
      const detail = err instanceof DialTimeoutError ? err.message : String(err);
      return this.#finish(pending, Code.Unavailable, `cannot reach ${this.#opts.target}: ${detail}`);
    }
    if (!pending.done && !pending.down.closed) this.#sendUpstream(up, pending, data);
  }

  #reply(down: Downstream, streamId: number, code: number, message: string): void {
    this.#writeDownstream(down, streamId, statusResponse(code, message));
  }

  #writeDownstream(down: Downstream, streamId: number, data: Uint8Array): void {
    if (down.closed) return;
    writeFrame(down.socket, streamId, FrameType.Response, data);
    if (down.socket.writableLength > DOWNSTREAM_HARD_LIMIT) this.#closeDownstream(down);
  }

  #closeDownstream(down: Downstream): void {
    if (down.closed) return;
    down.closed = true;
    this.#downstreams.delete(down);
    down.socket.destroy();
    // Its calls still in flight upstream are answered into the void; forget them now.
    const up = this.#up;
    if (up) {
      for (const [id, p] of up.pending) {
        if (p.down === down) {
          settle(p);
          up.pending.delete(id);
        }
      }
    }
  }

  // ---- upstream side ---------------------------------------------------------------------------

  #sendUpstream(up: Upstream, pending: Pending, data: Uint8Array): void {
    if (up.nextStreamId > MAX_STREAM_ID) {
      this.#closeUpstream(up, "stream ids exhausted");
      void this.#sendAfterDial(pending, data);
      return;
    }
    const id = up.nextStreamId;
    up.nextStreamId += 2;
    up.pending.set(id, pending);
    const flowing = writeFrame(up.socket, id, FrameType.Request, data);
    if (!flowing || up.socket.writableLength > UPSTREAM_HIGH_WATER) pending.down.socket.pause();
  }

  #resumeUpstreamReading(): void {
    for (const down of this.#downstreams) if (!down.closed) down.socket.resume();
  }

  #onUpstreamData(up: Upstream, chunk: Buffer): void {
    try {
      for (const ev of up.decoder.push(chunk)) {
        const id = ev.kind === "oversize" ? ev.streamId : ev.frame.streamId;
        const pending = up.pending.get(id);
        if (!pending) continue;
        up.pending.delete(id);
        if (ev.kind === "oversize") {
          this.#finish(pending, Code.ResourceExhausted, oversizeMessage(ev.length));
        } else if (ev.frame.type !== FrameType.Response) {
          this.#finish(pending, Code.Internal, "unknown message type received");
        } else {
          this.#deliver(pending, ev.frame.data);
        }
      }
    } catch {
      this.#closeUpstream(up, "undecodable data");
    }
  }

  #deliver(pending: Pending, data: Uint8Array): void {
    if (!settle(pending)) return;
    let outcome: ResponseOutcome = { code: Code.Internal, payloadBytes: 0 };
    try {
      outcome = readResponseOutcome(data);
    } catch {
      // Relayed as received: the shim's ttrpc client reports the undecodable response itself.
    }
    this.#observe(
      pending.method,
      pending.start,
      outcome.code === Code.OK,
      pending.bytesIn,
      outcome.payloadBytes,
    );
    this.#writeDownstream(pending.down, pending.streamId, data);
  }

  /** Answers a call the upstream will not (or did not in time); a late answer is then dropped. */
  #finish(pending: Pending, code: number, message: string): void {
    if (!settle(pending)) return;
    this.#observe(pending.method, pending.start, false, pending.bytesIn, 0);
    this.#reply(pending.down, pending.streamId, code, message);
  }

  #expire(pending: Pending): void {
    const up = this.#up;
    if (up) for (const [id, p] of up.pending) if (p === pending) up.pending.delete(id);
    // Go's ctx.Err() text, as the shim would see from a Go relay.
    this.#finish(pending, Code.DeadlineExceeded, "context deadline exceeded");
  }

  #observe(method: string, start: number, ok: boolean, bytesIn: number, bytesOut: number): void {
    this.#opts.onCall?.(method, performance.now() - start, ok, bytesIn, bytesOut);
  }

  #closeUpstream(up: Upstream, why: string): void {
    if (up.closed) return;
    up.closed = true;
    if (this.#up === up) this.#up = undefined;
    up.socket.destroy();
    const pending = [...up.pending.values()];
    up.pending.clear();
    for (const p of pending)
      this.#finish(p, Code.Unavailable, `ttrpc: connection to ${this.#opts.target} closed`);
    if (!this.#closing.signal.aborted)
      this.#opts.logger.warn(
        { target: this.#opts.target, why },
        "agent connection lost; the next call re-dials",
      );
    this.#resumeUpstreamReading();
  }

  async #acquire(timeoutMs: number, signal?: AbortSignal): Promise<Upstream> {
    if (this.#up && !this.#up.closed) return this.#up;
    if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
    this.#dialing ??= this.#dial(timeoutMs).finally(() => (this.#dialing = undefined));
    return signal ? raceAbort(this.#dialing, signal) : this.#dialing;
  }

  async #dial(timeoutMs: number): Promise<Upstream> {
    const { logger, target } = this.#opts;
    logger.info({ target }, "trying to establish agent connection");
    const socket = await withBackoff((signal) => this.#opts.dialOnce(signal), {
      timeoutMs,
      // Upstream caps its backoff at 5 s. A failed dial costs one SYN, so polling at most every
      // second cuts up to 4 s from the time to a running pod once the VM's forwarder is up.
      maxDelayMs: 1000,
      signal: this.#closing.signal,
      onRetry: (err, attempt) =>
        logger.debug({ target, attempt, err: err.message }, "retrying failed agent connection"),
    });
    if (this.#closing.signal.aborted) {
      socket.destroy();
      throw this.#closing.signal.reason;
    }
    const up: Upstream = {
      socket,
      decoder: new FrameDecoder(),
      nextStreamId: 1,
      pending: new Map(),
      closed: false,
    };
    socket.on("data", (chunk: Buffer) => this.#onUpstreamData(up, chunk));
    socket.on("drain", () => this.#resumeUpstreamReading());
    socket.on("error", (err: Error) => this.#closeUpstream(up, err.message));
    socket.on("end", () => this.#closeUpstream(up, "closed by peer"));
    socket.on("close", () => this.#closeUpstream(up, "closed"));
    this.#up = up;
    logger.info({ target }, "established agent connection");
    return up;
  }
}

function settle(pending: Pending): boolean {
  if (pending.done) return false;
  pending.done = true;
  clearTimeout(pending.timer);
  return true;
}

/** Header and data; small frames in one buffer, big ones as two writes flushed together (no copy). */
function writeFrame(socket: Duplex, streamId: number, type: number, data: Uint8Array): boolean {
  if (data.length <= SMALL_FRAME) return socket.write(encodeFrame(streamId, type, data));
  const header = Buffer.allocUnsafe(HEADER_LENGTH);
  writeHeader(header, 0, streamId, type, data.length);
  socket.cork();
  socket.write(header);
  const ok = socket.write(data);
  socket.uncork();
  return ok;
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.finally(() => signal.removeEventListener("abort", onAbort)).then(resolve, reject);
  });
}
