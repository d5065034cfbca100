// One multiplexed ttrpc client connection that relays every call it is given, shared by the agent
// proxy (daemon → pod VM) and the forwarder (pod VM → kata agent). Calls pass through byte for byte
// unless an edit is registered for their service/method (upstream's agentproto.Redirector plus the
// interceptors, upstream-caa.md §3.3 and §5.2). Unlike upstream's proxy, a dropped connection is
// re-dialled on the next call instead of failing every later call.
import type { Duplex } from "node:stream";
import type { Logger } from "../log/logger.ts";
import {
  Code,
  TtrpcClient,
  TtrpcError,
  type CallContext,
  type RawRequest,
  type RawResult,
} from "../ttrpc/index.ts";
import { DialTimeoutError, withBackoff } from "./dial.ts";

/** Rewrites a request payload; throw a TtrpcError to answer the call without relaying it. */
export type PayloadEdit = (payload: Uint8Array, logger: Logger) => Uint8Array;

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
  /** One connection attempt; the returned stream must be ready to carry ttrpc frames. */
  dialOnce: (signal: AbortSignal) => Promise<Duplex>;
  /** Services relayed; calls to any other service get 12 "service X", as a Go ttrpc server answers. */
  services: readonly string[];
  /** Keyed "service/method". */
  edits?: ReadonlyMap<string, PayloadEdit>;
  /** Bound of a re-dial made for a call (the call's own deadline also applies). */
  redialTimeoutMs: number;
  logger: Logger;
  onCall?: CallObserver;
}

export class AgentRelay {
  readonly #opts: RelayOptions;
  readonly #closing = new AbortController();
  #client: TtrpcClient | undefined;
  #dialing: Promise<TtrpcClient> | undefined;

  constructor(opts: RelayOptions) {
    this.#opts = opts;
  }

  get connected(): boolean {
    return this.#client !== undefined && !this.#client.closed;
  }

  /** Dial now (with backoff) and keep the connection; DialTimeoutError when `timeoutMs` passes. */
  async connect(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.#acquire(timeoutMs, signal);
  }

  /** The ttrpc server fallback: relays one call and reports it to onCall. */
  readonly handle = async (req: RawRequest, ctx: CallContext): Promise<RawResult> => {
    if (!this.#opts.services.includes(req.service))
      return { status: { code: Code.Unimplemented, message: `service ${req.service}`, details: [] } };
    const start = performance.now();
    let result: RawResult | undefined;
    try {
      result = await this.#relay(req, ctx);
      return result;
    } finally {
      const ms = performance.now() - start;
      const ok = result !== undefined && "payload" in result;
      const bytesOut = result !== undefined && "payload" in result ? result.payload.length : 0;
      this.#opts.onCall?.(req.method, ms, ok, req.payload.length, bytesOut);
    }
  };

  close(): void {
    this.#closing.abort(new TtrpcError(Code.Unavailable, `relay to ${this.#opts.target} closed`));
    this.#client?.close();
    this.#client = undefined;
  }

  async #relay(req: RawRequest, ctx: CallContext): Promise<RawResult> {
    const edit = this.#opts.edits?.get(`${req.service}/${req.method}`);
    const payload = edit ? edit(req.payload, this.#opts.logger) : req.payload;
    let client: TtrpcClient;
    try {
      client = await this.#acquire(this.#opts.redialTimeoutMs, ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      throw unavailable(this.#opts.target, err);
    }
    // Like Go's ctx propagation: the downstream call gets what is left of the caller's deadline.
    const timeoutNano =
      ctx.deadline !== undefined ? Math.max(1, Math.round((ctx.deadline - Date.now()) * 1e6)) : 0;
    return client.callRaw({ ...req, payload, timeoutNano }, ctx.signal);
  }

  async #acquire(timeoutMs: number, signal?: AbortSignal): Promise<TtrpcClient> {
    if (this.#client && !this.#client.closed) return this.#client;
    if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
    this.#dialing ??= this.#dial(timeoutMs).finally(() => (this.#dialing = undefined));
    return signal ? raceAbort(this.#dialing, signal) : this.#dialing;
  }

  async #dial(timeoutMs: number): Promise<TtrpcClient> {
    const { logger, target } = this.#opts;
    logger.info({ target }, "trying to establish agent connection");
    const socket = await withBackoff((signal) => this.#opts.dialOnce(signal), {
      timeoutMs,
      signal: this.#closing.signal,
      onRetry: (err, attempt) =>
        logger.debug({ target, attempt, err: err.message }, "retrying failed agent connection"),
    });
    const client = await TtrpcClient.connect({ socket });
    if (this.#closing.signal.aborted) {
      client.close();
      throw this.#closing.signal.reason;
    }
    this.#client = client;
    logger.info({ target }, "established agent connection");
    void client.done.then(() => {
      if (this.#client === client) this.#client = undefined;
      if (!this.#closing.signal.aborted)
        logger.warn({ target }, "agent connection lost; the next call re-dials");
    });
    return client;
  }
}

/** A dial that gave up, as the status a relayed call gets. */
export function unavailable(target: string, err: unknown): TtrpcError {
  const detail = err instanceof DialTimeoutError ? err.message : String(err);
  return new TtrpcError(Code.Unavailable, `cannot reach ${target}: ${detail}`);
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    promise
      .finally(() => signal.removeEventListener("abort", onAbort))
      .then(resolve, reject);
  });
}
