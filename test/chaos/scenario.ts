// The one interface every fault scenario implements, for every target: a scenario gets the daemon
// under test, a seeded generator and the ledger, runs its rounds (a burst with a fault in it), and
// calls settle() after each round so the invariants are checked while the evidence is fresh.
import type { Burst } from "./burst.ts";
import type { Ledger } from "./ledger.ts";
import type { Rng } from "./rng.ts";
import type { ChaosTarget, DaemonUnderTest, TargetOptions } from "./target.ts";

export interface ScenarioParams {
  /** Rounds, each a burst with one injection (or as many as the scenario says). */
  rounds: number;
  /** Sandboxes per burst. */
  burst: number;
  /** Sandboxes being started at once. */
  concurrency: number;
}

export interface ScenarioContext {
  readonly target: ChaosTarget;
  readonly daemon: DaemonUnderTest;
  readonly rng: Rng;
  readonly ledger: Ledger;
  readonly params: ScenarioParams;
  /** Start a burst of `size` (default params.burst) sandboxes labelled `origin`. */
  burst(origin: string, size?: number): Burst;
  /**
   * Check the invariants now: every started sandbox answers through its agent socket (else lost);
   * then stop every sandbox as the shim would, and check that nothing is left (else leaked) and
   * that no record is torn. The daemon must be up.
   */
  settle(): Promise<void>;
  log(message: string): void;
}

export interface Scenario {
  readonly name: string;
  /** The fault, in a few words, for the report. */
  readonly fault: string;
  readonly full: ScenarioParams;
  readonly short: ScenarioParams;
  /** How the target must be set up (e.g. a small tmpfs under the state directory). */
  readonly targetOptions?: TargetOptions;
  /** Why this target cannot run the scenario, or undefined when it can. */
  unsupported?(target: ChaosTarget): string | undefined;
  run(ctx: ScenarioContext): Promise<void>;
}

/** Wait `ms`, for the scenarios' random offsets inside a burst. */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
