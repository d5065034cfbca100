// The one retry layer for every ARM request, installed as a pipeline policy in place of the SDK's
// default retry policy (so retries never stack). 429 waits exactly the Retry-After ARM sends
// (docs/background.md §4.7) and holds back every other request of this provider until then;
// 5xx, 408 and dropped connections are retried only for GET and DELETE: a repeated PUT after an
// ambiguous failure is the provider's decision (it GETs the VM first). LRO polls are GETs, so
// they get the same treatment. The loop itself is src/util/backoff.ts. With client-side buckets
// (rate-limit.ts) a 429 also holds the request class's queue until Retry-After, and the throttled
// request waits there, in its turn, rather than sleeping on its own; time spent queued does not
// count against the budget.
import { setTimeout as sleep } from "node:timers/promises";
import { retry, type Backoff } from "../../src/util/backoff.ts";
import type { ComputeManagementClient } from "@azure/arm-compute";
import type { ArmRateLimiter } from "./rate-limit.ts";

type Pipeline = ComputeManagementClient["pipeline"];
export type PipelinePolicy = Parameters<Pipeline["addPolicy"]>[0];
type PipelineRequest = Parameters<PipelinePolicy["sendRequest"]>[0];
type PipelineResponse = Awaited<ReturnType<PipelinePolicy["sendRequest"]>>;

/** The SDK's own retry policy (core-rest-pipeline defaultRetryPolicy). */
export const SDK_RETRY_POLICY = "defaultRetryPolicy";
export const ARM_RETRY_POLICY = "peerpodArmRetryPolicy";

export interface RetrySettings {
  /** Attempts per request after 5xx and dropped connections, the first included (429s count only against the budget). */
  maxAttempts: number;
  /** No retry starts later than this many ms after the first attempt. */
  budgetMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  random?: () => number;
}

export interface ArmRequestEvent {
  method: string;
  /** URL path without query. */
  path: string;
  /** HTTP status, or "error" when no response came. */
  status: number | "error";
  /** The response body (ARM error bodies name the code), or the transport error's code. */
  detail: string | undefined;
  attempt: number;
}

export interface RetryHooks {
  onRequest?(event: ArmRequestEvent): void;
  onRetry?(info: {
    method: string;
    path: string;
    status: number | "error";
    attempt: number;
    delayMs: number;
  }): void;
}

/** Shared by every request of one provider: after a 429, nobody sends before Retry-After. */
export class ThrottleGate {
  private until = 0;

  block(ms: number): void {
    this.until = Math.max(this.until, Date.now() + ms);
  }

  async wait(signal?: AbortSignal): Promise<void> {
    for (let left = this.until - Date.now(); left > 0; left = this.until - Date.now()) {
      await sleep(left, undefined, { signal });
    }
  }
}

const IDEMPOTENT = new Set(["GET", "HEAD", "DELETE", "OPTIONS"]);

/** Retry-After in ms: ARM sends whole seconds (async-api-reference.md); an HTTP date is accepted too. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function isTransportError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { name?: string; code?: string };
  if (e.name === "AbortError") return false;
  return (
    e.code === "REQUEST_SEND_ERROR" ||
    ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"].includes(e.code ?? "")
  );
}

function retryable(method: string, status: number): boolean {
  if (status === 429) return true;
  return IDEMPOTENT.has(method) && (status === 408 || status >= 500);
}

/** A response the loop may retry; thrown inside it, returned as is when it gives up. */
class RetryableResponse extends Error {
  readonly response: PipelineResponse;
  constructor(response: PipelineResponse) {
    super(`HTTP ${response.status}`);
    this.response = response;
  }
}

export function armRetryPolicy(
  settings: RetrySettings,
  gate: ThrottleGate,
  hooks: RetryHooks = {},
  limiter?: ArmRateLimiter,
): PipelinePolicy {
  const random = settings.random ?? Math.random;
  const backoff: Backoff = {
    attempts: settings.maxAttempts,
    budgetMs: settings.budgetMs,
    baseMs: settings.baseDelayMs,
    capMs: settings.maxDelayMs,
    jitter: "full",
    random,
  };
  return {
    name: ARM_RETRY_POLICY,
    async sendRequest(request: PipelineRequest, next): Promise<PipelineResponse> {
      const path = new URL(request.url).pathname;
      const signal = request.abortSignal as AbortSignal | undefined;
      const statusOf = (err: unknown): number | "error" =>
        err instanceof RetryableResponse ? err.response.status : "error";
      let queuedMs = 0;
      let throttled = false;
      try {
        return await retry(
          async (attempt) => {
            await gate.wait(signal);
            if (limiter) queuedMs += await limiter.take(request.method, signal, throttled);
            throttled = false;
            let response: PipelineResponse;
            try {
              response = await next(request);
            } catch (err) {
              const detail = (err as { code?: string } | undefined)?.code;
              hooks.onRequest?.({ method: request.method, path, status: "error", detail, attempt });
              throw err;
            }
            const detail = response.bodyAsText ?? undefined;
            hooks.onRequest?.({ method: request.method, path, status: response.status, detail, attempt });
            if (response.status === 429) {
              const told = retryAfterMs(response.headers.get("retry-after") ?? undefined);
              if (told !== undefined) gate.block(told);
              limiter?.drain(request.method, told);
              throttled = true;
            } else if (response.status < 400) {
              limiter?.succeeded(request.method);
            }
            if (!retryable(request.method, response.status)) return response;
            throw new RetryableResponse(response);
          },
          backoff,
          {
            signal,
            decide: (err) => {
              if (!(err instanceof RetryableResponse))
                return IDEMPOTENT.has(request.method) && isTransportError(err);
              // 429s count only against the time budget: ARM says when to come back. With buckets,
              // the class's queue holds the request until then.
              const is429 = err.response.status === 429;
              const told = retryAfterMs(err.response.headers.get("retry-after") ?? undefined);
              return { retry: true, afterMs: told, counts: !is429, queued: is429 && limiter !== undefined };
            },
            onRetry: ({ err, attempt, delayMs }) =>
              hooks.onRetry?.({ method: request.method, path, status: statusOf(err), attempt, delayMs }),
            excludedMs: () => queuedMs,
          },
        );
      } catch (err) {
        if (err instanceof RetryableResponse) return err.response;
        throw err;
      }
    },
  };
}
