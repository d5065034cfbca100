// The shape of the kill -9 and SIGTERM scenarios: per round a burst, the fault at a random point
// of it (a count of answered calls plus a random delay, so it falls anywhere from before the first
// CreateVM to after the last StartVM), a restart, the end of the burst, the invariants.
import { pause, type ScenarioContext } from "../scenario.ts";

export async function restartRounds(
  ctx: ScenarioContext,
  label: string,
  fault: () => Promise<void>,
): Promise<void> {
  for (let round = 1; round <= ctx.params.rounds; round++) {
    const burst = ctx.burst(`${label}-${round}`);
    const at = ctx.rng.int(0, burst.calls - 1);
    const jitter = ctx.rng.int(0, 500);
    await burst.whenAnswered(at);
    await pause(jitter);
    ctx.ledger.inject(`${label} after ${burst.answered}/${burst.calls} answers (+${jitter} ms)`);
    ctx.log(`round ${round}: ${label} after ${burst.answered}/${burst.calls} answers`);
    await fault();
    await ctx.daemon.start();
    await burst.done;
    await ctx.settle();
  }
}
