// Faults at a rate for the chaos harness's Azure target: each ARM request is hit with probability
// `rate` by one kind, picked by a seeded generator among the kinds that apply to it (capacity
// only to a VM create), so that a run is repeated from its seed. Counted in `fired` as
// "random.<kind>".
import { prng } from "../helpers/prng.ts";
import type { RandomFault, RandomFaultPlan } from "./types.ts";

const ALL: RandomFault[] = ["throttle", "unavailable", "drop-before", "drop-after", "capacity", "slow"];

export class RandomFaults {
  readonly plan: RandomFaultPlan;
  private readonly random: () => number;
  private readonly fired: Record<string, number>;

  constructor(plan: RandomFaultPlan, fired: Record<string, number>) {
    this.plan = plan;
    this.random = prng(plan.seed ?? 1);
    this.fired = fired;
  }

  /** The fault for one request of operation `op`, if it is hit (and counts it). */
  pick(op: string): RandomFault | undefined {
    if (this.random() >= this.plan.rate) return undefined;
    const kinds = (this.plan.kinds ?? ALL).filter((k) => k !== "capacity" || op === "vm.put");
    if (kinds.length === 0) return undefined;
    const kind = kinds[Math.floor(this.random() * kinds.length)];
    this.fired[`random.${kind}`] = (this.fired[`random.${kind}`] ?? 0) + 1;
    return kind;
  }
}
