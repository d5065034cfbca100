// ttrpc client: multiplexes unary calls over one connection by stream id (containerd/ttrpc client.go).
import net from "node:net";
import type { Duplex } from "node:stream";
import { Request, Response } from "../gen/ttrpc/request.ts";
import { FrameDecoder, FrameType, MAX_DATA_LENGTH, asBuffer, encodeFrame, oversizeMessage } from "./frame.ts";
import type { RawRequest, RawResult, RequestOf, ResponseOf, ServiceDefinition } from "./services.ts";
import { Code, TtrpcError, canceled, deadlineExceeded } from "./status.ts";

export interface CallOptions {
  /** Deadline for the call; also sent to the server as timeout_nano. Absent or 0 = none. */
  timeoutMs?: number;
  /** Aborting rejects the call; a TtrpcError reason is kept, anything else gives 1 Canceled. */
  signal?: AbortSignal;
  /** Sent as Request.metadata; keys are lower-cased as Go's ttrpc.MD.Set does. */
  metadata?: Record<string, string | string[]>;
}

interface Pending {
  resolve(result: RawResult): void;
  reject(err: TtrpcError): void;
}

const MAX_STREAM_ID = 0xffffffff;

export class TtrpcClient {
  private readonly socket: Duplex;
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private nextStreamId = 1;
  private closeError: TtrpcError | undefined;
  /** Settles once the connection is gone (closed by either side). */
  readonly done: Promise<void>;

  private constructor(socket: Duplex) {
    this.socket = socket;
    let resolveDone!: () => void;
    this.done = new Promise((resolve) => (resolveDone = resolve));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => this.close());
    socket.on("end", () => this.close());
    socket.on("close", () => {
      this.close();
      resolveDone();
    });
  }

  /** Dials a unix socket path, or wraps an already-connected stream (e.g. a TLS socket). */
  static async connect(target: string | { socket: Duplex }): Promise<TtrpcClient> {
    if (typeof target !== "string") return new TtrpcClient(target.socket);
    const socket = net.createConnection({ path: target });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", (err) =>
        reject(new TtrpcError(Code.Unavailable, `ttrpc: dial ${target}: ${err.message}`)),
      );
    });
    return new TtrpcClient(socket);
  }

  get closed(): boolean {
    return this.closeError !== undefined;
  }

  /** Rejects every pending and later call with 14 Unavailable and closes the connection. */
  close(): void {
    if (this.closeError) return;
    this.closeError = new TtrpcError(Code.Unavailable, "ttrpc: closed");
    for (const p of this.pending.values()) p.reject(this.closeError);
    this.pending.clear();
    this.socket.destroy();
  }

  /** One unary call. Resolves with the response payload; a non-OK status rejects with TtrpcError. */
  async call(
    service: string,
    method: string,
    payload: Uint8Array,
    opts: CallOptions = {},
  ): Promise<Uint8Array> {
    const metadata: RawRequest["metadata"] = [];
    for (const [key, values] of Object.entries(opts.metadata ?? {})) {
      for (const value of Array.isArray(values) ? values : [values])
        metadata.push({ key: key.toLowerCase(), value });
    }
    const timeoutNano = opts.timeoutMs ? Math.round(opts.timeoutMs * 1e6) : 0;
    const result = await this.callRaw({ service, method, payload, timeoutNano, metadata }, opts.signal);
    if ("status" in result) throw TtrpcError.fromStatus(result.status);
    return result.payload;
  }

  /** A typed call through a ts-proto generic definition, e.g. callMethod(HypervisorDefinition, "startVM", {id}). */
  async callMethod<D extends ServiceDefinition, K extends keyof D["methods"] & string>(
    def: D,
    key: K,
    request: RequestOf<D["methods"][K]>,
    opts?: CallOptions,
  ): Promise<ResponseOf<D["methods"][K]>> {
    const m = def.methods[key];
    const payload = await this.call(def.fullName, m.name, m.requestType.encode(request).finish(), opts);
    try {
      return m.responseType.decode(payload) as ResponseOf<D["methods"][K]>;
    } catch (err) {
      throw new TtrpcError(Code.Internal, `ttrpc: error unmarshalling response: ${String(err)}`);
    }
  }

  /**
   * Sends a call as given (timeout_nano and metadata verbatim) and resolves with whatever the server answered,
   * status or payload: what a relay needs. Rejects only when no answer arrives: the timeout_nano deadline
   * (4 DeadlineExceeded, as Go's ctx.Err()), the signal, or the connection closing (14 Unavailable).
   */
  callRaw(req: RawRequest, signal?: AbortSignal): Promise<RawResult> {
    if (this.closeError) return Promise.reject(this.closeError);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const data = Request.encode({ ...req, payload: asBuffer(req.payload) }).finish();
    if (data.length > MAX_DATA_LENGTH) {
      return Promise.reject(new TtrpcError(Code.ResourceExhausted, oversizeMessage(data.length)));
    }
    if (this.nextStreamId > MAX_STREAM_ID) {
      return Promise.reject(
        new TtrpcError(Code.Unavailable, "ttrpc: stream ids exhausted on this connection"),
      );
    }
    const streamId = this.nextStreamId;
    this.nextStreamId += 2;
    return new Promise<RawResult>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => finish(() => reject(abortError(signal!)));
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.pending.delete(streamId);
        settle();
      };
      this.pending.set(streamId, {
        resolve: (result) => finish(() => resolve(result)),
        reject: (err) => finish(() => reject(err)),
      });
      if (req.timeoutNano > 0 && req.timeoutNano / 1e6 < 2 ** 31) {
        timer = setTimeout(() => finish(() => reject(deadlineExceeded())), req.timeoutNano / 1e6);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.socket.write(encodeFrame(streamId, FrameType.Request, data));
    });
  }

  private onData(chunk: Buffer): void {
    try {
      for (const ev of this.decoder.push(chunk)) {
        const call = this.pending.get(ev.kind === "oversize" ? ev.streamId : ev.frame.streamId);
        if (!call) continue;
        if (ev.kind === "oversize") {
          call.reject(new TtrpcError(Code.ResourceExhausted, oversizeMessage(ev.length)));
        } else if (ev.frame.type !== FrameType.Response) {
          call.reject(new TtrpcError(Code.Internal, "unknown message type received"));
        } else {
          call.resolve(decodeResponse(ev.frame.data));
        }
      }
    } catch {
      this.close();
    }
  }
}

/** An absent status and code 0 both mean success (the Go server omits status on success). */
function decodeResponse(data: Uint8Array): RawResult {
  let response: Response;
  try {
    response = Response.decode(data);
  } catch (err) {
    return {
      status: {
        code: Code.Internal,
        message: `ttrpc: error unmarshalling response: ${String(err)}`,
        details: [],
      },
    };
  }
  if (response.status && response.status.code !== Code.OK) return { status: response.status };
  return { payload: response.payload };
}

function abortError(signal: AbortSignal): TtrpcError {
  return signal.reason instanceof TtrpcError ? signal.reason : canceled();
}
