// How big a peer pod's VM must be. Two rules:
// - "fargate" (default): as AWS Fargate sizes a pod (EKS user guide, fargate-pod-configuration):
//   the larger of the largest init container and the sum of the long-running containers, plus the
//   pod overhead the RuntimeClass admission plugin put in spec.overhead. A container counts with the
//   larger of its request and its limit: the VM is the pod's alone, so it must hold what the limit
//   lets a container use. Sidecars (init containers with restartPolicy Always) run beside the app
//   containers, so they are summed with them.
// - "upstream": CAA src/webhook/pkg/mutating/mutate.go — requests and limits summed over containers
//   and init containers; where a request is set and the limit is at least as large, the limit.
import { parseQuantity } from "./quantity.ts";

export const GPU_RESOURCE = "nvidia.com/gpu";

export interface ResourceMap {
  [name: string]: unknown;
}

export interface ContainerLike {
  name?: string;
  restartPolicy?: string;
  resources?: { requests?: ResourceMap; limits?: ResourceMap };
}

export interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
  overhead?: ResourceMap;
}

/** CPU in millicores, memory in bytes, whole GPUs. */
export interface PodSize {
  milliCpu: number;
  memoryBytes: number;
  gpus: number;
}

const ZERO: PodSize = { milliCpu: 0, memoryBytes: 0, gpus: 0 };

function amount(map: ResourceMap | undefined, name: string): number {
  const v = map?.[name];
  return v === undefined || v === null ? 0 : parseQuantity(v);
}

function sizeOf(map: ResourceMap | undefined): PodSize {
  return {
    milliCpu: Math.ceil(amount(map, "cpu") * 1000),
    memoryBytes: Math.ceil(amount(map, "memory")),
    gpus: Math.ceil(amount(map, GPU_RESOURCE)),
  };
}

function combine(a: PodSize, b: PodSize, op: (x: number, y: number) => number): PodSize {
  return {
    milliCpu: op(a.milliCpu, b.milliCpu),
    memoryBytes: op(a.memoryBytes, b.memoryBytes),
    gpus: op(a.gpus, b.gpus),
  };
}

const sum = (x: number, y: number) => x + y;

/** One container under the fargate rule: the larger of request and limit, per resource. */
function containerSize(c: ContainerLike): PodSize {
  return combine(sizeOf(c.resources?.requests), sizeOf(c.resources?.limits), Math.max);
}

export function fargateSize(spec: PodSpecLike): PodSize {
  const sidecars = (spec.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
  const inits = (spec.initContainers ?? []).filter((c) => c.restartPolicy !== "Always");
  const running = [...(spec.containers ?? []), ...sidecars]
    .map(containerSize)
    .reduce((a, b) => combine(a, b, sum), ZERO);
  const largestInit = inits.map(containerSize).reduce((a, b) => combine(a, b, Math.max), ZERO);
  return combine(combine(running, largestInit, Math.max), sizeOf(spec.overhead), sum);
}

export function upstreamSize(spec: PodSpecLike): PodSize {
  const all = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
  const requests = all.map((c) => sizeOf(c.resources?.requests)).reduce((a, b) => combine(a, b, sum), ZERO);
  const limits = all.map((c) => sizeOf(c.resources?.limits)).reduce((a, b) => combine(a, b, sum), ZERO);
  return combine(requests, limits, (req, lim) => (req !== 0 && lim >= req ? lim : req));
}

/** Whole vCPUs and MiB, rounded up (upstream: Quantity.Value() for CPU, MiB for memory). */
export function vmShape(size: PodSize): { vcpus: number; memoryMiB: number; gpus: number } {
  return {
    vcpus: Math.ceil(size.milliCpu / 1000),
    memoryMiB: Math.ceil(size.memoryBytes / 2 ** 20),
    gpus: size.gpus,
  };
}
