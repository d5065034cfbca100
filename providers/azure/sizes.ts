// VM sizes: the allow-list (or the default size alone) with cores and memory from the region's
// size list, sorted as upstream sorts instance types (GPUs, memory, vCPUs ascending; CAA
// src/cloud-providers/util.go). Azure's size list has no GPU count, so GPUs are 0 (upstream-caa.md §8).
import type { VirtualMachineSize } from "@azure/arm-compute";
import type { InstanceSpec, InstanceType } from "../types.ts";

export function wantedSizes(allowList: readonly string[], defaultSize: string): string[] {
  return allowList.length > 0 ? [...allowList] : [defaultSize];
}

export function sortInstanceTypes(types: InstanceType[]): InstanceType[] {
  return [...types].sort((a, b) => a.gpus - b.gpus || a.memoryMiB - b.memoryMiB || a.vcpus - b.vcpus);
}

export function allowedInstanceTypes(
  listed: readonly VirtualMachineSize[],
  wanted: readonly string[],
): InstanceType[] {
  const want = new Set(wanted.map((w) => w.toLowerCase()));
  const types = listed
    .filter((s) => s.name !== undefined && want.has(s.name.toLowerCase()))
    .map((s) => ({ name: s.name ?? "", vcpus: s.numberOfCores ?? 0, memoryMiB: s.memoryInMB ?? 0, gpus: 0 }));
  return sortInstanceTypes(types);
}

export function missingSizes(listed: readonly VirtualMachineSize[], wanted: readonly string[]): string[] {
  const have = new Set(listed.map((s) => s.name?.toLowerCase()));
  return wanted.filter((w) => !have.has(w.toLowerCase()));
}

/**
 * Sizes to try, in order, when Azure has no capacity for the chosen one: the chosen size first,
 * then allowed sizes at least as large as both the request and the chosen size, smallest first.
 */
export function sizesToTry(
  types: readonly InstanceType[],
  chosen: string,
  spec: InstanceSpec,
  max: number,
): string[] {
  const chosenType = types.find((t) => t.name.toLowerCase() === chosen.toLowerCase());
  const needCpu = Math.max(spec.vcpus, chosenType?.vcpus ?? 0);
  const needMem = Math.max(spec.memoryMiB, chosenType?.memoryMiB ?? 0);
  const others = types
    .filter(
      (t) => t.name.toLowerCase() !== chosen.toLowerCase() && t.vcpus >= needCpu && t.memoryMiB >= needMem,
    )
    .map((t) => t.name);
  return [chosen, ...others].slice(0, max);
}
