// The one retry layer for every ARM request, installed as a pipeline policy in place of the SDK's
// default retry policy (so retries never stack). 429 waits exactly the Retry-After ARM sends
// (users-and-clouds.md §4.7) and holds back every other request of this provider until then;
// 5xx, 408 and dropped connections are retried only for GET and DELETE: a repeated PUT after an
// ambiguous failure is the provider's decision (it GETs the VM first). LRO polls are GETs, so
// they get the same treatment. With client-side buckets (rate-limit.ts) a 429 also holds the
// request class's queue until Retry-After, and the throttled request waits there, in its turn,
// rather than sleeping on its own; time spent queued does not count against the budget.
import { setTimeout as sleep } from "node:timers/promises";
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

export function armRetryPolicy(
  settings: RetrySettings,
  gate: ThrottleGate,
  hooks: RetryHooks = {},
  limiter?: ArmRateLimiter,
): PipelinePolicy {
  const random = settings.random ?? Math.random;
  const backoff = (attempt: number) =>
    Math.floor(random() * Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (attempt - 1)));
  return {
    name: ARM_RETRY_POLICY,
    async sendRequest(request: PipelineRequest, next): Promise<PipelineResponse> {
      const started = Date.now();
      const path = new URL(request.url).pathname;
      const signal = request.abortSignal as AbortSignal | undefined;
      // 429s count only against the time budget: ARM says when to come back.
      let countedAttempts = 0;
      let queuedMs = 0;
      let throttled = false;
      for (let attempt = 1; ; attempt++) {
        await gate.wait(signal);
        if (limiter) queuedMs += await limiter.take(request.method, signal, throttled);
        let response: PipelineResponse | undefined;
        let failure: unknown;
        try {
          response = await next(request);
        } catch (err) {
          failure = err;
        }
        const status = response?.status ?? "error";
        const detail = response ? response.bodyAsText : (failure as { code?: string } | undefined)?.code;
        hooks.onRequest?.({ method: request.method, path, status, detail: detail ?? undefined, attempt });
        const again = response
          ? retryable(request.method, response.status)
          : IDEMPOTENT.has(request.method) && isTransportError(failure);
        let delayMs = backoff(attempt);
        if (response && again) {
          const told = retryAfterMs(response.headers.get("retry-after") ?? undefined);
          if (told !== undefined) {
            // Waiting a little longer than told spreads the requests that were held back together.
            delayMs = told + Math.floor(random() * Math.min(1000, told / 10 + 1));
            if (response.status === 429) gate.block(told);
          }
          if (response.status === 429) limiter?.drain(request.method, told);
        }
        throttled = response?.status === 429;
        if (!throttled) countedAttempts++;
        if (response && !throttled && response.status < 400) limiter?.succeeded(request.method);
        const overBudget = Date.now() + delayMs - started - queuedMs > settings.budgetMs;
        if (!again || countedAttempts >= settings.maxAttempts || overBudget) {
          if (response) return response;
          throw failure;
        }
        hooks.onRetry?.({ method: request.method, path, status, attempt, delayMs });
        // A throttled request waits in its class's queue, which is held until Retry-After.
        if (!(throttled && limiter)) await sleep(delayMs, undefined, { signal });
      }
    },
  };
}
