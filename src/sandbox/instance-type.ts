// Instance-type selection exactly as upstream SelectInstanceTypeToUse
// (CAA src/cloud-providers/util.go; docs/upstream-compat.md §6). The e2e suite asserts on the error texts.
import type { InstanceType } from "../../providers/types.ts";
import { goSearch, goSortSlice } from "./instance-type-sort.ts";

export class InstanceTypeError extends Error {
  override name = "InstanceTypeError";
}

export interface InstanceTypeRequest {
  instanceType: string;
  vcpus: number;
  memoryMiB: number;
  gpus: number;
}

/** Ascending by (GPUs, memory, vCPUs) with Go sort.Slice's tie order; returns a new array. */
export function sortInstanceTypes(types: readonly InstanceType[]): InstanceType[] {
  return goSortSlice([...types], (a, b) => {
    if (a.gpus !== b.gpus) return a.gpus < b.gpus;
    if (a.memoryMiB !== b.memoryMiB) return a.memoryMiB < b.memoryMiB;
    return a.vcpus < b.vcpus;
  });
}

/**
 * Pick the instance type for a sandbox. `types` is the allow-list with sizes (or the default
 * type alone) in the provider's listing order; it is sorted here as upstream sorts it at start-up.
 * Throws InstanceTypeError with upstream's message.
 */
export function selectInstanceType(
  spec: InstanceTypeRequest,
  types: readonly InstanceType[],
  defaultType: string,
  allowList: readonly string[],
): string {
  const sorted = sortInstanceTypes(types);
  let chosen = "";
  if (spec.instanceType !== "") {
    chosen = spec.instanceType;
  } else if (spec.gpus > 0) {
    chosen = bestFitWithGpu(sorted, spec.gpus, spec.vcpus, spec.memoryMiB);
  } else if (spec.vcpus !== 0 && spec.memoryMiB !== 0) {
    chosen = bestFit(sorted, spec.vcpus, spec.memoryMiB);
  }
  return verify(chosen, allowList, defaultType);
}

// The predicate is not monotonic over this order, so this must stay Go's binary search:
// a linear scan would pick a different type for some lists.
function bestFit(sorted: InstanceType[], vcpus: number, memory: number): string {
  const noGpu = sorted.filter((t) => t.gpus === 0);
  const i = goSearch(noGpu.length, (h) => noGpu[h].memoryMiB >= memory && noGpu[h].vcpus >= vcpus);
  const found = noGpu[i];
  if (found === undefined) {
    throw new InstanceTypeError(
      "failed to get instance type based on vCPU and memory annotations: " +
        `no instance type found for the given vcpus (${vcpus}) and memory (${memory})`,
    );
  }
  return found.name;
}

function bestFitWithGpu(sorted: InstanceType[], gpus: number, vcpus: number, memory: number): string {
  const i = goSearch(sorted.length, (h) => {
    const t = sorted[h];
    return t.gpus >= gpus && t.vcpus >= vcpus && t.memoryMiB >= memory;
  });
  const found = sorted[i];
  if (found === undefined) {
    throw new InstanceTypeError(
      "failed to get instance type based on GPU, vCPU, and memory annotations: " +
        `no instance type found for the given GPUs (${gpus}), vCPUs (${vcpus}), and memory (${memory})`,
    );
  }
  return found.name;
}

/** Upstream VerifyCloudInstanceType, with the caller's "failed to verify instance type: " wrap. */
function verify(instanceType: string, allowList: readonly string[], defaultType: string): string {
  if (instanceType === "") return defaultType;
  if (allowList.length === 0 && instanceType !== defaultType) {
    throw new InstanceTypeError(
      `failed to verify instance type: requested instance type (${goQuote(instanceType)}) ` +
        `is not default (${goQuote(defaultType)}) and supported instance types list is empty`,
    );
  }
  if (allowList.length > 0 && !allowList.includes(instanceType)) {
    throw new InstanceTypeError(
      `failed to verify instance type: requested instance type (${goQuote(instanceType)}) ` +
        "is not part of supported instance types list",
    );
  }
  return instanceType;
}

const SHORT_ESCAPES: Record<string, string> = {
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
  '"': '\\"',
  "\\": "\\\\",
};

/** Go's %q (strconv.Quote) for a valid UTF-8 string. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (cp === 0x20 || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch;
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return out + '"';
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}
