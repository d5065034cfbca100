// kill -9 of the daemon at a random point of a burst, then a restart (a crash, an OOM kill).
// The point is a count of answered calls plus a random delay, so it falls anywhere from before
// the first CreateVM to after the last StartVM: inside StartVM's boot, between CreateVM and
// StartVM, between the spawn of a VM and the save of its record.
import { pause, type Scenario } from "../scenario.ts";

export const kill9: Scenario = {
  name: "kill9",
  fault: "kill -9 of the daemon at a random point of a burst, then a restart",
  full: { rounds: 20, burst: 50, concurrency: 10 },
  short: { rounds: 3, burst: 8, concurrency: 4 },
  async run(ctx) {
    for (let round = 1; round <= ctx.params.rounds; round++) {
      const burst = ctx.burst(`kill9-${round}`);
      const at = ctx.rng.int(0, burst.calls - 1);
      const jitter = ctx.rng.int(0, 500);
      await burst.whenAnswered(at);
      await pause(jitter);
      ctx.ledger.inject(`kill -9 after ${burst.answered}/${burst.calls} answers (+${jitter} ms)`);
      ctx.log(`round ${round}: kill -9 after ${burst.answered}/${burst.calls} answers`);
      await ctx.daemon.kill9();
      await ctx.daemon.start();
      await burst.done;
      await ctx.settle();
    }
  },
};
