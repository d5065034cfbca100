// Dial with retries, as upstream's retry.Do loops (CAA pkg/adaptor/proxy/proxy.go dial; forwarder
// interceptor.go dial): unlimited attempts with exponential backoff plus jitter, each delay capped,
// the whole loop bounded by a timeout and an abort signal; sooner while nobody listens yet (below).
// The loop is src/util/backoff.ts.
import { backoffDelay, retry, type Backoff, type RetryDecision } from "../util/backoff.ts";

export interface BackoffOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** First delay; doubles per attempt (retry-go's default 100 ms). */
  initialDelayMs?: number;
  /** Cap of one delay (upstream's MaxDelay 5 s). */
  maxDelayMs?: number;
  /** Called after each failed attempt, e.g. to log it, with the delay before the next one. */
  onRetry?: (err: Error, attempt: number, delayMs: number) => void;
}

/**
 * The backoff after an attempt that found nobody listening: a refused connection (the VM is up and
 * answered; its forwarder has not opened its port yet) or an agent socket not made yet. The port
 * opens within moments then, so the next attempt comes sooner: 25, 50, 100, then every 200 ms,
 * where the usual schedule would wait 100, 200, 400 ms, … (a local VM's forwarder listens ~150 ms
 * after its start: it was reached at ~300-500 ms, now at ~175 ms). An attempt costs a SYN and its
 * RST, or a failed connect(2) on a unix socket.
 */
export const NOT_LISTENING_BACKOFF: Backoff = { attempts: Infinity, baseMs: 25, capMs: 200, jitter: 0 };

/** When to try again after `err`: sooner while nobody listens, at once after an unanswered connect. */
function nextAttempt(err: unknown, attempt: number): RetryDecision {
  const code = (err as { code?: unknown }).code;
  if (code === "ECONNREFUSED" || code === "ENOENT")
    return { retry: true, afterMs: backoffDelay(NOT_LISTENING_BACKOFF, attempt) };
  // The attempt itself waited for an answer (a connect that timed out, src/agentproxy/proxy.ts).
  if (code === "ETIMEDOUT") return { retry: true, afterMs: 0 };
  return { retry: true };
}

/** The loop gave up: time ran out. `lastError` is the last attempt's failure. */
export class DialTimeoutError extends Error {
  readonly lastError: Error | undefined;
  readonly elapsedMs: number;
  constructor(elapsedMs: number, lastError: Error | undefined) {
    super(lastError ? lastError.message : "timed out before the first attempt finished");
    this.name = "DialTimeoutError";
    this.elapsedMs = elapsedMs;
    this.lastError = lastError;
  }
}

/**
 * Runs `attempt(signal)` until it succeeds. Each attempt gets a signal that fires at the overall
 * deadline or on the caller's abort. On abort the caller's reason is thrown; at the deadline a
 * DialTimeoutError.
 */
export async function withBackoff<T>(
  attempt: (signal: AbortSignal) => Promise<T>,
  opts: BackoffOptions,
): Promise<T> {
  const start = Date.now();
  const deadline = AbortSignal.timeout(Math.max(1, opts.timeoutMs));
  const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
  let lastError: Error | undefined;
  try {
    return await retry(
      async () => {
        try {
          return await attempt(signal);
        } catch (err) {
          // An attempt cut off by the deadline says nothing new: keep the failure before it.
          if (!(deadline.aborted && lastError !== undefined && isAbort(err)))
            lastError = err instanceof Error ? err : new Error(String(err));
          throw err;
        }
      },
      { attempts: Infinity, baseMs: opts.initialDelayMs ?? 100, capMs: opts.maxDelayMs ?? 5000, jitter: 100 },
      {
        signal,
        decide: nextAttempt,
        onRetry: ({ attempt: n, delayMs }) => {
          if (lastError) opts.onRetry?.(lastError, n, delayMs);
        },
      },
    );
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (deadline.aborted) throw new DialTimeoutError(Date.now() - start, lastError);
    throw err;
  }
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError");
}
