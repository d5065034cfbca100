// Who a cloud call is made for, so that the fair queue (fair-queue.ts) can take turns between
// sandboxes without every call site passing it down: a provider method runs its work inside
// asCaller(sandboxId or instanceId, ...), and the call layer reads it.
import { AsyncLocalStorage } from "node:async_hooks";

const store = new AsyncLocalStorage<string>();

/** Calls made outside any caller scope (start-up reads, the leak collector's lists). */
export const DAEMON_CALLER = "daemon";

export function asCaller<T>(caller: string, fn: () => Promise<T>): Promise<T> {
  return store.run(caller, fn);
}

export function currentCaller(): string {
  return store.getStore() ?? DAEMON_CALLER;
}

/** Why a signal aborted, as an Error (AbortSignal.reason may be any value). */
export function abortReason(signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r : new DOMException(typeof r === "string" ? r : "aborted", "AbortError");
}
