// A rolling upgrade on one node: a second daemon starts on the same state directory while a burst
// runs (DaemonSet maxSurge: 1); the old one hands over and is then stopped. Stricter than the other
// faults: no call may fail because of a handover (they wait, or are forwarded to the new daemon).
// On a cloud target with injected faults, a StartVM the cloud refused is counted apart, by the
// shape of its error (the target's isInjectedFault): every other failure is a violation.
import { pause, type Scenario } from "../scenario.ts";

export const handover: Scenario = {
  name: "handover",
  fault:
    "a second daemon starting during a burst (rolling upgrade), the old one stopped after it handed over",
  full: { rounds: 10, burst: 30, concurrency: 10 },
  short: { rounds: 1, burst: 8, concurrency: 4 },
  // StartVMs take a few seconds, so that the old daemon has some in flight when it is asked.
  targetOptions: { bootDelayMs: 3000 },
  async run(ctx) {
    for (let round = 1; round <= ctx.params.rounds; round++) {
      const origin = `handover-${round}`;
      const burst = ctx.burst(origin);
      const at = ctx.rng.int(1, burst.calls - 1);
      const jitter = ctx.rng.int(0, 500);
      await burst.whenAnswered(at);
      await pause(jitter);
      const began = burst.answered;
      ctx.log(`round ${round}: second daemon after ${began}/${burst.calls} answers`);
      await ctx.daemon.handover();
      ctx.ledger.inject(`handover begun after ${began}/${burst.calls} answers, done after ${burst.answered}`);
      await burst.done;
      for (const e of ctx.ledger.entries.values()) {
        if (!e.origin.startsWith(`${origin}#`) || e.error === undefined) continue;
        // A create the cloud refused (the target's injected faults) fails with or without a handover.
        if (ctx.target.isInjectedFault?.(e.error))
          ctx.ledger.faultFailed.push({ sandbox: e.id, what: e.error });
        else ctx.ledger.violate({ sandbox: e.id, what: `a call failed across the handover: ${e.error}` });
      }
      await ctx.settle();
    }
  },
};
