// VM sizes: the allow-list (or the default size alone) with cores and memory from the region's
// size list, in the core's selection order (src/sandbox/instance-type.ts, as CAA
// src/cloud-providers/util.go). Azure's size list has no GPU count, so GPUs are 0 (docs/upstream-compat.md §8).
import type { VirtualMachineSize } from "@azure/arm-compute";
import type { InstanceType } from "../types.ts";
import { sortInstanceTypes } from "../../src/sandbox/instance-type.ts";

export function wantedSizes(allowList: readonly string[], defaultSize: string): string[] {
  return allowList.length > 0 ? [...allowList] : [defaultSize];
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
