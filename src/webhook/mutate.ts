// The admission decision for one pod: nothing for pods of other runtime classes; for peer pods the
// `kata.peerpods.io/vm` request and limit on the first container (the node capacity CAA
// advertises, CAA src/webhook/pkg/mutating/mutate.go) and the instance-type annotations CreateVM
// reads. A pod that sets any sizing annotation itself keeps its own and gets none of ours.
import type { InstanceType } from "../../providers/types.ts";
import { ANNOTATION } from "../sandbox/annotations.ts";
import { sortInstanceTypes } from "../sandbox/instance-type.ts";
import { pointerSegment } from "../k8s/json-pointer.ts";
import { fargateSize, upstreamSize, vmShape, type ContainerLike, type PodSpecLike } from "./sizing.ts";

export type SizingRule = "fargate" | "upstream";

export interface MutateConfig {
  /** TARGET_RUNTIMECLASS: only pods of this runtime class are mutated. */
  runtimeClassName: string;
  /** POD_VM_EXTENDED_RESOURCE. */
  vmResource: string;
  sizing: SizingRule;
  /** The provider's allowed instance types with their sizes. */
  instanceTypes: readonly InstanceType[];
}

export interface PatchOp {
  op: "add";
  path: string;
  value: unknown;
}

export type Decision =
  | { allowed: true; patch: PatchOp[]; instanceType?: string }
  | { allowed: false; code: number; message: string };

interface PodLike {
  metadata?: { annotations?: Record<string, string> };
  spec?: PodSpecLike & { runtimeClassName?: string; containers?: ContainerLike[] };
}

const SIZING_ANNOTATIONS = [
  ANNOTATION.machineType,
  ANNOTATION.defaultVcpus,
  ANNOTATION.defaultMemory,
  ANNOTATION.defaultGpus,
];

export function mutatePod(object: unknown, cfg: MutateConfig): Decision {
  if (object === null || typeof object !== "object" || Array.isArray(object))
    return { allowed: false, code: 400, message: "request.object is not a Pod" };
  const pod = object as PodLike;
  if (pod.spec?.runtimeClassName !== cfg.runtimeClassName) return { allowed: true, patch: [] };
  const containers = pod.spec.containers;
  if (!Array.isArray(containers) || containers.length === 0)
    return { allowed: false, code: 400, message: "pod has no containers" };

  const own = pod.metadata?.annotations ?? {};
  const annotations: Record<string, string> = {};
  let instanceType: string | undefined;
  let size;
  try {
    size = vmShape(cfg.sizing === "fargate" ? fargateSize(pod.spec) : upstreamSize(pod.spec));
  } catch (err) {
    return { allowed: false, code: 400, message: (err as Error).message };
  }
  if (!SIZING_ANNOTATIONS.some((k) => own[k] !== undefined)) {
    if (cfg.sizing === "fargate") {
      const fit = smallestFit(cfg.instanceTypes, size);
      if (!fit) {
        return {
          allowed: false,
          code: 403,
          message:
            size.gpus > 0
              ? `no instance type found for the given GPUs (${size.gpus}), vCPUs (${size.vcpus}), and memory (${size.memoryMiB})`
              : `no instance type found for the given vcpus (${size.vcpus}) and memory (${size.memoryMiB})`,
        };
      }
      instanceType = fit.name;
      annotations[ANNOTATION.machineType] = fit.name;
    }
    // Upstream writes these; under the fargate rule they record the size the type was chosen for.
    if (size.vcpus > 0) annotations[ANNOTATION.defaultVcpus] = String(size.vcpus);
    if (size.memoryMiB > 0) annotations[ANNOTATION.defaultMemory] = String(size.memoryMiB);
    if (size.gpus > 0) annotations[ANNOTATION.defaultGpus] = String(size.gpus);
  }

  const patch: PatchOp[] = [];
  if (Object.keys(annotations).length > 0) {
    if (pod.metadata?.annotations === undefined) {
      if (pod.metadata === undefined) patch.push({ op: "add", path: "/metadata", value: {} });
      patch.push({ op: "add", path: "/metadata/annotations", value: annotations });
    } else {
      for (const [k, v] of Object.entries(annotations))
        patch.push({ op: "add", path: `/metadata/annotations/${pointerSegment(k)}`, value: v });
    }
  }
  const strip = cfg.sizing === "upstream";
  // `add` on an existing member replaces it (RFC 6902), so whole container lists are rewritten.
  patch.push({
    op: "add",
    path: "/spec/containers",
    value: containers.map((c, i) => withVm(c, i === 0, strip, cfg)),
  });
  if (strip && Array.isArray(pod.spec.initContainers) && pod.spec.initContainers.length > 0)
    patch.push({
      op: "add",
      path: "/spec/initContainers",
      value: pod.spec.initContainers.map((c) => ({ ...c, resources: {} })),
    });
  return { allowed: true, patch, instanceType };
}

/** First type in upstream's (GPUs, memory, vCPUs) order that holds the pod; GPU types only for GPU pods. */
export function smallestFit(
  types: readonly InstanceType[],
  size: { vcpus: number; memoryMiB: number; gpus: number },
): InstanceType | undefined {
  return sortInstanceTypes(types).find(
    (t) =>
      t.vcpus >= size.vcpus &&
      t.memoryMiB >= size.memoryMiB &&
      (size.gpus > 0 ? t.gpus >= size.gpus : t.gpus === 0),
  );
}

/** Extended resources must have request == limit; both are set on the first container. */
function withVm(c: ContainerLike, first: boolean, strip: boolean, cfg: MutateConfig): ContainerLike {
  const resources = strip ? {} : { ...c.resources };
  if (!first) return strip ? { ...c, resources } : c;
  return {
    ...c,
    resources: {
      ...resources,
      requests: { ...resources.requests, [cfg.vmResource]: "1" },
      limits: { ...resources.limits, [cfg.vmResource]: "1" },
    },
  };
}
