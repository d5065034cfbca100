// kill -9 of the daemon at a random point of a burst, then a restart (a crash, an OOM kill): inside
// StartVM's boot, between CreateVM and StartVM, between a VM's spawn and the save of its record.
import type { Scenario } from "../scenario.ts";
import { restartRounds } from "./restart-rounds.ts";

export const kill9: Scenario = {
  name: "kill9",
  fault: "kill -9 of the daemon at a random point of a burst, then a restart",
  full: { rounds: 20, burst: 50, concurrency: 10 },
  short: { rounds: 3, burst: 8, concurrency: 4 },
  run: (ctx) => restartRounds(ctx, "kill -9", () => ctx.daemon.kill9()),
};
