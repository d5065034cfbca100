// CreateVM annotation keys and their parsing, as upstream CAA reads them
// (docs/upstream-compat.md §1.3, §3.1, §6; CAA pkg/util/cloud.go and pkg/adaptor/cloud/cloud.go).
import { quoteBounded } from "../util/bounded-text.ts";

export const ANNOTATION = {
  sandboxName: "io.kubernetes.cri.sandbox-name",
  sandboxNamespace: "io.kubernetes.cri.sandbox-namespace",
  sandboxUid: "io.kubernetes.cri.sandbox-uid",
  criOKubeName: "io.kubernetes.cri-o.KubeName",
  criONamespace: "io.kubernetes.cri-o.Namespace",
  machineType: "io.katacontainers.config.hypervisor.machine_type",
  image: "io.katacontainers.config.hypervisor.image",
  defaultVcpus: "io.katacontainers.config.hypervisor.default_vcpus",
  defaultMemory: "io.katacontainers.config.hypervisor.default_memory",
  defaultGpus: "io.katacontainers.config.hypervisor.default_gpus",
  defaultGpuModel: "io.katacontainers.config.hypervisor.default_gpu_model",
  ccInitData: "io.katacontainers.config.hypervisor.cc_init_data",
  peerpodVolumesTargetPath: "io.confidentialcontainers.org.peerpodvolumes.target_path",
  cloudVolumes: "io.confidentialcontainers.org.cloud_volumes",
  cdiPeerPods: "cdi.k8s.io/peer-pods",
} as const;

export class AnnotationError extends Error {
  override name = "AnnotationError";
}

export const ANNOTATION_LIMITS = {
  maxCount: 256,
  /** A Kubernetes annotation key: a 253-byte DNS prefix, '/', a 63-byte name. */
  maxKeyBytes: 317,
  maxValueBytes: 64 * 1024,
  maxInitdataBytes: 256 * 1024,
  /** Instance type names are short (m6a.large, Standard_DC2as_v5); a refused one is quoted back. */
  maxMachineTypeBytes: 128,
  maxVcpus: 4096,
  maxMemoryMiB: 16 * 1024 * 1024,
  maxGpus: 64,
} as const;

export interface PodIdentity {
  podName: string;
  podNamespace: string;
}

export interface SandboxResources {
  instanceType: string;
  vcpus: number;
  memoryMiB: number;
  gpus: number;
  image: string;
  /** Raw initdata TOML from cc_init_data ("" if absent); encode with src/userdata/initdata.ts. */
  initdata: string;
}

/**
 * Pod name and namespace. The CRI keys come first; the CRI-O keys are the runtime-rs shim's
 * fallback. A CRI-O sandbox name `k8s_<pod>_<ns>_<uid>_<n>` yields `<pod>` (upstream GetPodName).
 */
export function parsePodIdentity(annotations: Record<string, string>): PodIdentity {
  const rawName =
    nonEmpty(annotations, ANNOTATION.sandboxName) ?? nonEmpty(annotations, ANNOTATION.criOKubeName);
  const podName = rawName === undefined ? "" : criOPodName(rawName);
  if (podName === "") {
    throw new AnnotationError(`pod name ${ANNOTATION.sandboxName} is missing in annotations`);
  }
  const podNamespace =
    nonEmpty(annotations, ANNOTATION.sandboxNamespace) ??
    nonEmpty(annotations, ANNOTATION.criONamespace) ??
    "";
  if (podNamespace === "") {
    throw new AnnotationError(`namespace name ${ANNOTATION.sandboxNamespace} is missing in annotations`);
  }
  return { podName, podNamespace };
}

function criOPodName(name: string): string {
  const parts = name.split("_");
  return parts.length > 1 && parts[0] === "k8s" ? (parts[1] ?? "") : name;
}

function nonEmpty(annotations: Record<string, string>, key: string): string | undefined {
  const v = annotations[key];
  return v === undefined || v === "" ? undefined : v;
}

/** Refuse annotation maps too large to be anything but an attack or a bug. */
export function checkAnnotationLimits(annotations: Record<string, string>): void {
  const keys = Object.keys(annotations);
  if (keys.length > ANNOTATION_LIMITS.maxCount) {
    throw new AnnotationError(
      `too many annotations: ${keys.length} (at most ${ANNOTATION_LIMITS.maxCount} are accepted)`,
    );
  }
  for (const key of keys) {
    const keyBytes = Buffer.byteLength(key, "utf8");
    if (keyBytes > ANNOTATION_LIMITS.maxKeyBytes) {
      throw new AnnotationError(
        `annotation key ${quoteBounded(key)} is too long: ${keyBytes} bytes (limit ${ANNOTATION_LIMITS.maxKeyBytes})`,
      );
    }
    const limit =
      key === ANNOTATION.ccInitData
        ? ANNOTATION_LIMITS.maxInitdataBytes
        : key === ANNOTATION.machineType
          ? ANNOTATION_LIMITS.maxMachineTypeBytes
          : ANNOTATION_LIMITS.maxValueBytes;
    const size = Buffer.byteLength(annotations[key] ?? "", "utf8");
    if (size > limit) {
      throw new AnnotationError(
        `annotation ${quoteBounded(key)} is too large: ${size} bytes (limit ${limit})`,
      );
    }
  }
}

/** Sizing, image and initdata from the annotations, with upstream's "0 on parse error" rule. */
export function parseSandboxResources(annotations: Record<string, string>): SandboxResources {
  checkAnnotationLimits(annotations);
  return {
    instanceType: annotations[ANNOTATION.machineType] ?? "",
    vcpus: boundedInt(annotations, ANNOTATION.defaultVcpus, ANNOTATION_LIMITS.maxVcpus),
    memoryMiB: boundedInt(annotations, ANNOTATION.defaultMemory, ANNOTATION_LIMITS.maxMemoryMiB),
    gpus: boundedInt(annotations, ANNOTATION.defaultGpus, ANNOTATION_LIMITS.maxGpus),
    image: annotations[ANNOTATION.image] ?? "",
    initdata: annotations[ANNOTATION.ccInitData] ?? "",
  };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go strconv.ParseInt(s, 10, 64): optional sign, ASCII digits, int64 range; undefined on error. */
export function goParseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

function boundedInt(annotations: Record<string, string>, key: string, max: number): number {
  const raw = annotations[key];
  if (raw === undefined) return 0;
  // Upstream logs and uses 0 when the value does not parse (pkg/util/cloud.go).
  const v = goParseInt64(raw);
  if (v === undefined) return 0;
  if (v < 0n) throw new AnnotationError(`annotation ${key} must not be negative: ${raw}`);
  if (v > BigInt(max)) throw new AnnotationError(`annotation ${key} is too large: ${raw} (at most ${max})`);
  return Number(v);
}
