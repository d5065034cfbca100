// What the users of the relay hand it: where to dial, which services pass, which calls get edited.
import type { Duplex } from "node:stream";
import type { Logger } from "../log/logger.ts";

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
