// SIGTERM of the daemon at a random point of a burst (a node drain, a `kubectl delete pod`), then a
// restart. The daemon drains the calls in flight (DRAIN_TIMEOUT) and refuses new ones; the shim
// then cleans up what was refused with StopVM, as it does after any failed StartVM.
import type { Scenario } from "../scenario.ts";
import { restartRounds } from "./restart-rounds.ts";

export const sigterm: Scenario = {
  name: "sigterm",
  fault: "SIGTERM of the daemon at a random point of a burst, then a restart",
  full: { rounds: 5, burst: 50, concurrency: 10 },
  short: { rounds: 1, burst: 8, concurrency: 4 },
  run: (ctx) => restartRounds(ctx, "SIGTERM", () => ctx.daemon.sigterm()),
};
