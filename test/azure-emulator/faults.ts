// The fault plan a test sets: each fault fires a counted number of times, optionally only for
// some VM sizes, and the emulator reports how often each fired. A `random` plan adds faults at a
// rate (random-faults.ts).
import { RandomFaults } from "./random-faults.ts";
import type { CountedFault, FaultPlan, RandomFault } from "./types.ts";

type CountedKey = "lroFailure" | "conflict" | "errorAfterAccept";

export class Faults {
  private plan: FaultPlan = {};
  private readonly left = new Map<string, number>();
  readonly fired: Record<string, number> = {};
  private random?: RandomFaults;
  /** Set while a VM PUT the random plan hit with "capacity" is handled. */
  private capacityDue = false;

  set(plan: FaultPlan): void {
    this.plan = plan;
    this.random = plan.random ? new RandomFaults(plan.random, this.fired) : undefined;
    this.left.clear();
    for (const [name, fault] of Object.entries(plan) as Array<[keyof FaultPlan, { count?: number }]>) {
      this.left.set(name, fault.count ?? 1);
    }
  }

  private consume(name: keyof FaultPlan): boolean {
    const n = this.left.get(name) ?? 0;
    if (n <= 0) return false;
    this.left.set(name, n - 1);
    this.fired[name] = (this.fired[name] ?? 0) + 1;
    return true;
  }

  /** The fault for a VM PUT of this size, if one is due (and counts it). */
  take<K extends CountedKey>(name: K, size: string | undefined): FaultPlan[K] | undefined {
    if (name === "lroFailure" && this.capacityDue) {
      this.capacityDue = false;
      return {};
    }
    const fault: CountedFault | undefined = this.plan[name];
    if (!fault) return undefined;
    if (fault.sizes && !fault.sizes.some((s) => s.toLowerCase() === size?.toLowerCase())) return undefined;
    return this.consume(name) ? this.plan[name] : undefined;
  }

  /** Retry-After seconds when this request is to be throttled by the plan. */
  throttle(op: string): number | undefined {
    const t = this.plan.throttle;
    if (!t || (t.ops && !t.ops.includes(op))) return undefined;
    return this.consume("throttle") ? (t.retryAfterSec ?? 1) : undefined;
  }

  /** Kinds of cascaded resources the next VM delete leaves behind. */
  deleteLeaves(): Array<"nic" | "disk" | "publicIp"> {
    const d = this.plan.deleteLeaves;
    return d && this.consume("deleteLeaves") ? d.kinds : [];
  }

  /** The random plan's fault for one request of `op`, if any. */
  pickRandom(op: string): RandomFault | undefined {
    return this.random?.pick(op);
  }

  randomPlan(): FaultPlan["random"] {
    return this.random?.plan;
  }

  /** Run a VM PUT's handler so that a new VM's create ends AllocationFailed. */
  withCapacityFailure<T>(handle: () => T): T {
    this.capacityDue = true;
    try {
      return handle();
    } finally {
      this.capacityDue = false;
    }
  }
}
