// The agent relay: every shim connection's calls go out on one multiplexed upstream connection (to the
// VM's forwarder, or from the forwarder to the kata agent). Frames are relayed as they arrive: only the
// stream id in the header changes; each frame is copied once into a buffer of its own and leaves in
// one write (frames.ts), so no read buffer is held. Calls with a registered edit (CreateContainer, CreateSandbox)
// are decoded, edited and re-encoded. Towards the shim the relay answers like containerd's ttrpc
// server (shim-rules.ts; 8 for oversized frames); a dropped upstream is re-dialled by the next call.
//
// Flow control: a shim is not read while the upstream has UPSTREAM_HIGH_WATER unsent, and the
// upstream is not read while a shim has DOWNSTREAM_HIGH_WATER of answers unread, so a slow end slows
// the other end down instead of filling this process. The upstream is shared: a shim that stops
// reading holds up the others of its sandbox (in practice one, the kata shim's agent connection).
import type { Duplex } from "node:stream";
import { FrameType, oversizeMessage } from "../ttrpc/frame.ts";
import { Code, TtrpcError } from "../ttrpc/status.ts";
import { DialTimeoutError, withBackoff } from "./dial.ts";
import { applyEdit } from "./edit.ts";
import { applyRelayGcFlag } from "./gc.ts";
import { readResponseOutcome, statusResponse, type ResponseOutcome } from "./envelope.ts";
import { FrameSplitter, ownFrame, writeFrame, type RelayFrame } from "./frames.ts";
import { adoptReusedReads } from "./reused-reads.ts";
import { admit } from "./shim-rules.ts";
import { settle, type Downstream, type Pending, type Upstream } from "./calls.ts";
import { raceAbort } from "../util/race-abort.ts";
import type { RelayOptions } from "./types.ts";

export type { CallObserver, PayloadEdit, RelayOptions, SyncPayloadEdit } from "./types.ts";

applyRelayGcFlag();

/** Stop reading shims while this much waits to go upstream. */
const UPSTREAM_HIGH_WATER = 1 << 20;
/** Stop reading the upstream while a shim has this much unread. */
const DOWNSTREAM_HIGH_WATER = 1 << 20;
/** Past this, flow control has failed for that shim (it cannot while it works): drop the shim. */
const DOWNSTREAM_HARD_LIMIT = 32 << 20;
const MAX_STREAM_ID = 0xffffffff;
const MAX_TIMER_MS = 2 ** 31 - 1;

export class AgentRelay {
  readonly #opts: RelayOptions;
  readonly #closing = new AbortController();
  readonly #downstreams = new Set<Downstream>();
  /** Shims with DOWNSTREAM_HIGH_WATER unread; the upstream is paused while there is one. */
  readonly #congested = new Set<Downstream>();
  #up: Upstream | undefined;
  #dialing: Promise<Upstream> | undefined;

  constructor(opts: RelayOptions) {
    this.#opts = opts;
  }

  get connected(): boolean {
    return this.#up !== undefined && !this.#up.closed;
  }

  /**
   * Bytes this relay holds: unsent to the upstream and to shims, and frames partly received. Flow
   * control keeps it near the high-water marks plus one frame per connection, however fast a peer sends.
   */
  get bufferedBytes(): number {
    let n = this.#up ? this.#up.socket.writableLength + this.#up.splitter.buffered : 0;
    for (const d of this.#downstreams) n += d.socket.writableLength + d.splitter.buffered;
    return n;
  }

  /** Dial now (with backoff) and keep the connection; DialTimeoutError when `timeoutMs` passes. */
  async connect(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.#acquire(timeoutMs, signal);
  }

  /**
   * Relays the calls of one shim connection until either side closes it. On a socket that allows
   * half-open connections, a shim's FIN lets its calls in flight finish before the relay ends too.
   * Called from a server's connection listener, the socket then reads into a buffer of its own.
   */
  serve(socket: Duplex): void {
    if (this.#closing.signal.aborted) {
      socket.destroy();
      return;
    }
    adoptReusedReads(socket);
    const down: Downstream = {
      socket,
      splitter: new FrameSplitter(),
      lastStreamId: 0,
      calls: new Set(),
      ended: false,
      closed: false,
    };
    this.#downstreams.add(down);
    const close = (): void => this.#closeDownstream(down);
    socket.on("data", (chunk: Buffer) => this.#onDownstreamData(down, chunk));
    socket.on("drain", () => this.#uncongest(down));
    socket.on("end", () => {
      down.ended = true;
      if (socket.allowHalfOpen) this.#endIfIdle(down);
      else close();
    });
    socket.on("error", close);
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
      for (const ev of down.splitter.push(chunk)) {
        if (ev.kind === "oversize")
          this.#reply(down, ev.streamId, Code.ResourceExhausted, oversizeMessage(ev.length));
        else this.#onDownstreamFrame(down, ev);
      }
    } catch {
      this.#closeDownstream(down);
    }
  }

  #onDownstreamFrame(down: Downstream, frame: RelayFrame): void {
    const admission = admit(frame, down, this.#opts.services);
    if (!admission.ok) {
      if (admission.code !== undefined) this.#reply(down, frame.streamId, admission.code, admission.message);
      return;
    }
    const { head } = admission;
    const pending: Pending = {
      down,
      streamId: frame.streamId,
      method: head.method,
      // Timed only for an observer: performance.now() loads perf_hooks, ~0.5 MiB in a pod VM.
      start: this.#opts.onCall ? performance.now() : 0,
      bytesIn: head.payloadLength,
      timer: undefined,
      upId: 0,
      done: false,
    };
    down.calls.add(pending);
    if (head.timeoutNano > 0) {
      const ms = head.timeoutNano / 1e6;
      if (ms <= MAX_TIMER_MS) pending.timer = setTimeout(() => this.#expire(pending), ms);
    }
    const edit = this.#opts.edits?.get(`${head.service}/${head.method}`);
    if (!edit) return this.#forward(pending, frame);
    applyEdit(edit, frame, head, this.#opts.logger, {
      send: (edited) => this.#forward(pending, edited),
      refuse: (err: TtrpcError) => this.#finish(pending, err.code, err.message),
    });
  }

  #forward(pending: Pending, frame: RelayFrame): void {
    if (pending.done) return;
    const up = this.#up;
    if (up && !up.closed) this.#sendUpstream(up, pending, frame);
    else void this.#sendAfterDial(pending, frame);
  }

  async #sendAfterDial(pending: Pending, frame: RelayFrame): Promise<void> {
    let up: Upstream;
    try {
      up = await this.#acquire(this.#opts.redialTimeoutMs);
    } catch (err) {
      const detail = err instanceof DialTimeoutError ? err.message : String(err);
      return this.#finish(pending, Code.Unavailable, `cannot reach ${this.#opts.target}: ${detail}`);
    }
    if (!pending.done) this.#sendUpstream(up, pending, frame);
  }

  #reply(down: Downstream, streamId: number, code: number, message: string): void {
    this.#writeDownstream(down, streamId, ownFrame(statusResponse(code, message)));
  }

  #writeDownstream(down: Downstream, streamId: number, frame: RelayFrame): void {
    if (down.closed) return;
    writeFrame(down.socket, frame, streamId, FrameType.Response);
    const unread = down.socket.writableLength;
    if (unread > DOWNSTREAM_HARD_LIMIT) this.#closeDownstream(down);
    else if (unread > DOWNSTREAM_HIGH_WATER && !this.#congested.has(down)) {
      this.#congested.add(down);
      this.#up?.socket.pause();
    }
  }

  #uncongest(down: Downstream): void {
    if (this.#congested.delete(down) && this.#congested.size === 0) this.#up?.socket.resume();
  }

  /** A shim that sent FIN and has no call left gets its answers flushed, then FIN. */
  #endIfIdle(down: Downstream): void {
    if (!down.ended || down.closed || down.calls.size > 0) return;
    this.#forget(down);
    down.socket.end();
  }

  #closeDownstream(down: Downstream): void {
    if (down.closed) return;
    this.#forget(down);
    down.socket.destroy();
  }

  #forget(down: Downstream): void {
    down.closed = true;
    this.#downstreams.delete(down);
    this.#uncongest(down);
    // Its calls still in flight upstream are answered into the void; forget them now.
    for (const p of down.calls) {
      if (this.#up?.pending.get(p.upId) === p) this.#up.pending.delete(p.upId);
      p.done = true;
      clearTimeout(p.timer);
    }
    down.calls.clear();
  }

  // ---- upstream side ---------------------------------------------------------------------------

  #sendUpstream(up: Upstream, pending: Pending, frame: RelayFrame): void {
    if (up.nextStreamId > MAX_STREAM_ID) {
      this.#closeUpstream(up, "stream ids exhausted");
      void this.#sendAfterDial(pending, frame);
      return;
    }
    const id = up.nextStreamId;
    up.nextStreamId += 2;
    pending.upId = id;
    up.pending.set(id, pending);
    writeFrame(up.socket, frame, id, FrameType.Request);
    if (up.socket.writableLength > UPSTREAM_HIGH_WATER) pending.down.socket.pause();
  }

  #resumeShims(): void {
    for (const down of this.#downstreams) if (!down.closed) down.socket.resume();
  }

  #onUpstreamData(up: Upstream, chunk: Buffer): void {
    try {
      for (const ev of up.splitter.push(chunk)) {
        const pending = up.pending.get(ev.streamId);
        if (!pending) continue;
        up.pending.delete(ev.streamId);
        if (ev.kind === "oversize") {
          this.#finish(pending, Code.ResourceExhausted, oversizeMessage(ev.length));
        } else if (ev.type !== FrameType.Response) {
          this.#finish(pending, Code.Internal, "unknown message type received");
        } else {
          this.#deliver(pending, ev);
        }
      }
    } catch {
      this.#closeUpstream(up, "undecodable data");
    }
  }

  #deliver(pending: Pending, frame: RelayFrame): void {
    if (!settle(pending)) return;
    let outcome: ResponseOutcome = { code: Code.Internal, payloadBytes: 0 };
    try {
      outcome = readResponseOutcome(frame.parts, frame.length);
    } catch {
      // Relayed as received: the shim's ttrpc client reports the undecodable response itself.
    }
    this.#observe(pending, outcome.code === Code.OK, outcome.payloadBytes);
    this.#writeDownstream(pending.down, pending.streamId, frame);
    this.#endIfIdle(pending.down);
  }

  /** Answers a call the upstream will not (or did not in time); a late answer is then dropped. */
  #finish(pending: Pending, code: number, message: string): void {
    if (!settle(pending)) return;
    this.#observe(pending, false, 0);
    this.#reply(pending.down, pending.streamId, code, message);
    this.#endIfIdle(pending.down);
  }

  #expire(pending: Pending): void {
    if (this.#up?.pending.get(pending.upId) === pending) this.#up.pending.delete(pending.upId);
    // Go's ctx.Err() text, as the shim would see from a Go relay.
    this.#finish(pending, Code.DeadlineExceeded, "context deadline exceeded");
  }

  #observe(pending: Pending, ok: boolean, bytesOut: number): void {
    this.#opts.onCall?.(pending.method, performance.now() - pending.start, ok, pending.bytesIn, bytesOut);
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
    this.#resumeShims();
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
      splitter: new FrameSplitter(),
      nextStreamId: 1,
      pending: new Map(),
      closed: false,
    };
    socket.on("data", (chunk: Buffer) => this.#onUpstreamData(up, chunk));
    socket.on("drain", () => this.#resumeShims());
    socket.on("error", (err: Error) => this.#closeUpstream(up, err.message));
    socket.on("end", () => this.#closeUpstream(up, "closed by peer"));
    socket.on("close", () => this.#closeUpstream(up, "closed"));
    if (this.#congested.size > 0) socket.pause();
    this.#up = up;
    logger.info({ target }, "established agent connection");
    return up;
  }
}
