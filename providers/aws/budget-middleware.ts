// The EC2 side of the cloud-call layer (providers/cloudapi/budget.ts): every attempt of every EC2
// call takes a token of its family's bucket first, in its caller's turn, and a throttled answer
// drains that bucket and holds the family's queue. It sits inside the retry middleware (retry.ts),
// which then repeats a throttled call without sleeping on its own: the queue does the waiting.
import type {
  HandlerExecutionContext,
  InitializeHandler,
  InitializeHandlerArguments,
  Pluggable,
} from "@smithy/types";
import type { CallBudget } from "../cloudapi/budget.ts";
import { currentCaller } from "../cloudapi/caller.ts";
import { ec2Family } from "./api-families.ts";
import { classify } from "./aws-errors.ts";
import { abortSignalOf, operationOf } from "./retry.ts";

interface CallState {
  attempts: number;
  queuedMs: number;
}

const states = new WeakMap<HandlerExecutionContext, CallState>();

/** Milliseconds this call has spent waiting for tokens so far (not counted against the retry budget). */
export function queuedMsOf(context: HandlerExecutionContext): number {
  return states.get(context)?.queuedMs ?? 0;
}

export function budgetPlugin<I extends object, O extends object>(budget: CallBudget): Pluggable<I, O> {
  return {
    applyToStack(stack) {
      stack.add(
        (next: InitializeHandler<I, O>, context: HandlerExecutionContext) =>
          async (args: InitializeHandlerArguments<I>) => {
            const family = ec2Family(operationOf(context), args.input);
            let state = states.get(context);
            if (!state) states.set(context, (state = { attempts: 0, queuedMs: 0 }));
            state.attempts++;
            state.queuedMs += await budget.acquire(
              family,
              currentCaller(),
              abortSignalOf(context),
              state.attempts > 1,
            );
            try {
              const out = await next(args);
              budget.succeeded(family);
              return out;
            } catch (err) {
              if (classify(err) === "throttle") budget.throttled(family);
              throw err;
            }
          },
        { step: "initialize", priority: "normal", name: "peerpodApiBudget" },
      );
    },
  };
}
