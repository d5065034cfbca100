// The one retry wrapper for every EC2 call, as SDK middleware (as the AWS SDK v3 does cross-cutting behaviour
// on the stack, not in each call). The client itself runs with maxAttempts 1 so retries never
// stack. Exponential backoff with full jitter inside a total time budget, as AWS advises for
// RequestLimitExceeded (docs/background.md §0), run by the one loop in src/util/backoff.ts.
// Every attempt is reported for metrics.
import type {
  HandlerExecutionContext,
  InitializeHandler,
  InitializeHandlerArguments,
  InitializeMiddleware,
  Pluggable,
} from "@smithy/types";
import { backoffDelay as computedDelay, retry, type Backoff } from "../../src/util/backoff.ts";
import { awsCode, classify, recordAttempts } from "./aws-errors.ts";

export interface RetryPolicy {
  /** Attempts per call, the first included. */
  maxAttempts: number;
  /** No retry starts later than this many ms after the first attempt. */
  budgetMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * For a call that must not simply be repeated after an ambiguous failure (RunInstances): look
 * for its effect and return the output it would have given, or undefined to repeat the call.
 */
export type Reconciler = (input: object, signal: AbortSignal | undefined) => Promise<object | undefined>;

export interface CallHooks {
  policy: RetryPolicy;
  reconcilers?: Readonly<Record<string, Reconciler>>;
  /** Once per attempt (HTTP call): the operation and "ok" or the AWS error code. */
  onAttempt?(operation: string, outcome: string): void;
  /** Before sleeping for a retry. */
  onRetry?(info: { operation: string; code: string; attempt: number; delayMs: number }): void;
  /** Uniform in [0, 1); Math.random by default. */
  random?: () => number;
  /**
   * Set when the call layer paces calls (budget-middleware.ts): a throttled call is repeated at
   * once (the layer's queue holds it until a token is there) and time spent queued does not count
   * against the budget.
   */
  paced?: { queuedMs(context: HandlerExecutionContext): number };
}

export function operationOf(context: HandlerExecutionContext): string {
  return (context.commandName ?? "Unknown").replace(/Command$/, "");
}

export function abortSignalOf(context: HandlerExecutionContext): AbortSignal | undefined {
  const smithy = (context as { __smithy_context?: { abortSignal?: AbortSignal } }).__smithy_context;
  return smithy?.abortSignal;
}

/** Full jitter: uniform in [0, min(max, base * 2^(attempt-1))]. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  return computedDelay(backoffOf(policy, random), attempt, random);
}

function backoffOf(policy: RetryPolicy, random: () => number): Backoff {
  return {
    attempts: policy.maxAttempts,
    budgetMs: policy.budgetMs,
    baseMs: policy.baseDelayMs,
    capMs: policy.maxDelayMs,
    jitter: "full",
    random,
  };
}

function retrying<I extends object, O extends object>(hooks: CallHooks): InitializeMiddleware<I, O> {
  const backoff = backoffOf(hooks.policy, hooks.random ?? Math.random);
  return (next: InitializeHandler<I, O>, context: HandlerExecutionContext) =>
    async (args: InitializeHandlerArguments<I>) => {
      const operation = operationOf(context);
      const signal = abortSignalOf(context);
      const reconcile = hooks.reconcilers?.[operation];
      let ambiguous: unknown;
      return retry(
        async () => {
          if (ambiguous !== undefined && reconcile) {
            // If the lookup itself fails, whether the call took effect stays unknown: give up
            // with the original failure rather than risk a second effect.
            const failure = ambiguous;
            const found = await reconcile(args.input, signal).catch(() => {
              throw new GiveUp(failure);
            });
            if (found) return { output: found as O, response: undefined };
          }
          try {
            const out = await next(args);
            hooks.onAttempt?.(operation, "ok");
            return out;
          } catch (err) {
            hooks.onAttempt?.(operation, awsCode(err));
            ambiguous = classify(err) === "ambiguous" ? err : undefined;
            throw err;
          }
        },
        backoff,
        {
          signal,
          decide: (err) => {
            const kind = classify(err);
            const retrying = !(err instanceof GiveUp) && !signal?.aborted && kind !== "final";
            return kind === "throttle" && hooks.paced
              ? { retry: retrying, afterMs: 0, queued: true }
              : retrying;
          },
          excludedMs: () => hooks.paced?.queuedMs(context) ?? 0,
          onRetry: ({ err, attempt, delayMs }) =>
            hooks.onRetry?.({ operation, code: awsCode(err), attempt, delayMs }),
          // A failed lookup ends the loop before its attempt made a call.
          onGiveUp: ({ err, attempts }) =>
            err instanceof GiveUp ? recordAttempts(err.failure, attempts - 1) : recordAttempts(err, attempts),
        },
      ).catch((err: unknown) => {
        throw err instanceof GiveUp ? err.failure : err;
      });
    };
}

/** Ends the loop with `failure` (the ambiguous error whose effect could not be looked up). */
class GiveUp extends Error {
  readonly failure: unknown;
  constructor(failure: unknown) {
    super("the effect of an ambiguous call could not be looked up");
    this.failure = failure;
  }
}

export function retryPlugin<I extends object, O extends object>(hooks: CallHooks): Pluggable<I, O> {
  return {
    applyToStack(stack) {
      stack.add(retrying<I, O>(hooks), { step: "initialize", priority: "high", name: "peerpodRetry" });
    },
  };
}
