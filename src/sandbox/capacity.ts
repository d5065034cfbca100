// Capacity fallback, the same for every provider: when the cloud has no capacity for the selected
// type (a failure of kind InsufficientCapacity, providers/errors.ts), try the next allowed type in
// selection order that still fits both the request and the selected type — upstream's order
// (CAA src/cloud-providers/util.go SortInstanceTypesOnResources), at most MAX_CAPACITY_ATTEMPTS
// types per StartVM. Upstream has no fallback at all; a provider only ever gets one concrete type.
// A type that just had no capacity (the unavailable-offerings memory, src/capacity/) is skipped
// at selection by every following sandbox and the next one is tried at once, as Karpenter does.
import { errorCode, failureKind, messageOf, InsufficientCapacityError } from "../../providers/errors.ts";
import type { CreateRequest, Instance, InstanceSpec, InstanceType, Provider } from "../../providers/types.ts";
import { sortInstanceTypes } from "./instance-type.ts";

/** Types tried per StartVM, the selected one included. */
export const MAX_CAPACITY_ATTEMPTS = 3;

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * The selected type, then the larger allowed types after it in selection order that fit the
 * request and the selected type and that the provider can create (InstanceType.creatable).
 * Type names compare case-insensitively (Azure's sizes are). A type outside the list is tried alone.
 */
export function capacityCandidates(
  selected: string,
  types: readonly InstanceType[],
  spec: Pick<InstanceSpec, "vcpus" | "memoryMiB" | "gpus">,
  max = MAX_CAPACITY_ATTEMPTS,
): string[] {
  const sorted = sortInstanceTypes(types);
  const at = sorted.findIndex((t) => same(t.name, selected));
  if (at < 0) return [selected];
  const base = sorted[at];
  const fits = (t: InstanceType): boolean =>
    t.creatable !== false &&
    t.vcpus >= Math.max(spec.vcpus, base.vcpus) &&
    t.memoryMiB >= Math.max(spec.memoryMiB, base.memoryMiB) &&
    t.gpus >= Math.max(spec.gpus, base.gpus);
  const larger = sorted.slice(at + 1).filter((t) => !same(t.name, selected) && fits(t));
  return [selected, ...larger.map((t) => t.name)].slice(0, max);
}

/** What the core remembers of types without capacity (src/capacity/unavailable-offerings.ts). */
export interface OfferingsMemory {
  /** The code that marked the type unavailable while the entry is fresh (counts a skip), else undefined. */
  skip(instanceType: string): string | undefined;
  mark(instanceType: string, code: string): void;
}

export interface FallbackHooks {
  signal?: AbortSignal;
  /** Types that just had no capacity: skipped, and told of each new capacity failure. */
  offerings?: OfferingsMemory;
  /** A type had no capacity; the next one is tried. */
  onNoCapacity?(instanceType: string, code: string | undefined): void;
}

/**
 * provider.create for the request's type, then for each candidate after it while the cloud answers
 * InsufficientCapacity. Any other failure ends the loop as it is (a partial instance included).
 * When every candidate had no capacity: an InsufficientCapacityError with the first failure's
 * message, the code, and the types tried after it.
 */
export async function createWithFallback(
  provider: Provider,
  req: CreateRequest,
  hooks: FallbackHooks = {},
): Promise<Instance> {
  const { types, skipped } = typesToTry(req, provider.instanceTypes(), hooks.offerings);
  const remembered = skipped.map((s) => `${s.type} (${s.code})`);
  const note = remembered.length > 0 ? `; skipped ${remembered.join(", ")} (no capacity a moment ago)` : "";
  if (types.length === 0)
    throw new InsufficientCapacityError(
      `StartVM for sandbox ${req.owner.sandboxId}: no capacity for any fitting instance type a moment ago: ` +
        `${remembered.join(", ")}; not asked again until the entries expire`,
      { code: skipped[0].code },
    );
  const failures: { type: string; err: unknown }[] = [];
  for (const instanceType of types) {
    try {
      return await provider.create({ ...req, spec: { ...req.spec, instanceType } }, hooks.signal);
    } catch (err) {
      if (failureKind(err) !== "InsufficientCapacity") throw err;
      failures.push({ type: instanceType, err });
      hooks.offerings?.mark(instanceType, errorCode(err) ?? "InsufficientCapacity");
      hooks.onNoCapacity?.(instanceType, errorCode(err));
    }
  }
  const [first, ...rest] = failures;
  const tried = rest.map((f) => `${f.type} (${errorCode(f.err) ?? "InsufficientCapacity"})`);
  const last = failures[failures.length - 1].err;
  throw new InsufficientCapacityError(
    `${messageOf(first.err)}${tried.length > 0 ? `; tried ${tried.join(", ")}` : ""}${note}`,
    { code: errorCode(last) ?? "InsufficientCapacity", cause: last },
  );
}

/**
 * The candidates in order without the remembered ones, at most MAX_CAPACITY_ATTEMPTS; a skipped
 * type makes room for the next one. Only the types looked at count a skip.
 */
function typesToTry(
  req: CreateRequest,
  all: readonly InstanceType[],
  offerings: OfferingsMemory | undefined,
): { types: string[]; skipped: { type: string; code: string }[] } {
  const types: string[] = [];
  const skipped: { type: string; code: string }[] = [];
  for (const type of capacityCandidates(req.spec.instanceType, all, req.spec, Infinity)) {
    if (types.length >= MAX_CAPACITY_ATTEMPTS) break;
    const code = offerings?.skip(type);
    if (code) skipped.push({ type, code });
    else types.push(type);
  }
  return { types, skipped };
}
