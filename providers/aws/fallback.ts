// Which types to try when EC2 has no capacity for the selected one: the selected type, then the
// larger allowed types in selection order (upstream-caa.md §6: ascending GPUs, memory, vCPUs)
// that still fit both the request and the selected type, and support SEV-SNP when it is on.
import type { InstanceSpec } from "../types.ts";
import type { TypeInfo } from "./catalog.ts";

export function capacityCandidates(
  selected: string,
  sorted: readonly TypeInfo[],
  spec: Pick<InstanceSpec, "vcpus" | "memoryMiB" | "gpus">,
  requireSevSnp: boolean,
): string[] {
  const at = sorted.findIndex((t) => t.name === selected);
  if (at < 0) return [selected];
  const base = sorted[at];
  const fits = (t: TypeInfo): boolean =>
    t.vcpus >= Math.max(spec.vcpus, base.vcpus) &&
    t.memoryMiB >= Math.max(spec.memoryMiB, base.memoryMiB) &&
    t.gpus >= Math.max(spec.gpus, base.gpus) &&
    (!requireSevSnp || t.sevSnp);
  return [
    selected,
    ...sorted
      .slice(at + 1)
      .filter((t) => t.name !== selected && fits(t))
      .map((t) => t.name),
  ];
}
