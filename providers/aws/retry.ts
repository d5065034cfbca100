// The one retry wrapper for every EC2 call, as SDK middleware (STYLE.md: cross-cutting behaviour
// on the stack, not in each call). The client itself runs with maxAttempts 1 so retries never
// stack. Exponential backoff with full jitter inside a total time budget, as AWS advises for
// RequestLimitExceeded (users-and-clouds.md §0). Every attempt is reported for metrics.
import { setTimeout as sleep } from "node:timers/promises";
import type {
  HandlerExecutionContext,
  InitializeHandler,
  InitializeHandlerArguments,
  InitializeMiddleware,
  Pluggable,
} from "@smithy/types";
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
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

function retrying<I extends object, O extends object>(hooks: CallHooks): InitializeMiddleware<I, O> {
  const random = hooks.random ?? Math.random;
  return (next: InitializeHandler<I, O>, context: HandlerExecutionContext) =>
    async (args: InitializeHandlerArguments<I>) => {
      const operation = operationOf(context);
      const signal = abortSignalOf(context);
      const reconcile = hooks.reconcilers?.[operation];
      const started = Date.now();
      for (let attempt = 1; ; attempt++) {
        try {
          const out = await next(args);
          hooks.onAttempt?.(operation, "ok");
          return out;
        } catch (err) {
          const code = awsCode(err);
          hooks.onAttempt?.(operation, code);
          const kind = signal?.aborted ? "final" : classify(err);
          const delayMs =
            kind === "throttle" && hooks.paced ? 0 : backoffDelay(hooks.policy, attempt, random);
          const spent = Date.now() - started - (hooks.paced?.queuedMs(context) ?? 0);
          const giveUp =
            kind === "final" ||
            attempt >= hooks.policy.maxAttempts ||
            spent + delayMs > hooks.policy.budgetMs;
          if (giveUp) {
            recordAttempts(err, attempt);
            throw err;
          }
          hooks.onRetry?.({ operation, code, attempt, delayMs });
          if (delayMs > 0) await sleep(delayMs, undefined, { signal });
          if (kind === "ambiguous" && reconcile) {
            // If the lookup itself fails, whether the call took effect stays unknown: give up
            // with the original failure rather than risk a second effect.
            const found = await reconcile(args.input, signal).catch(() => {
              recordAttempts(err, attempt);
              throw err;
            });
            if (found) return { output: found as O, response: undefined };
          }
        }
      }
    };
}

export function retryPlugin<I extends object, O extends object>(hooks: CallHooks): Pluggable<I, O> {
  return {
    applyToStack(stack) {
      stack.add(retrying<I, O>(hooks), { step: "initialize", priority: "high", name: "peerpodRetry" });
    },
  };
}
