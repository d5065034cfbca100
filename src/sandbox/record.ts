// CreateVM's input turned into a sandbox record (docs/upstream-compat.md §3.1): validate, choose the
// instance type, render user-data. Pure functions: the side effects of CreateVM (a tunnel index,
// the netns inspection, the certificate) are made and undone by the lifecycle (lifecycle.ts), which
// hands their results in.
import { join } from "node:path";
import type { InstanceType } from "../../providers/types.ts";
import { buildUserData } from "../userdata/build.ts";
import { encodeInitdata } from "../userdata/initdata.ts";
import { parsePodIdentity, parseSandboxResources, type SandboxResources } from "./annotations.ts";
import type { CloudVolume } from "./cloud-volumes.ts";
import { LifecycleError } from "./errors.ts";
import { selectInstanceType } from "./instance-type.ts";
import type { SandboxRecord } from "./model.ts";
import type { ApfTlsFields, PodNetwork } from "./ports.ts";
import { validateSandboxId } from "./validate.ts";
import { vmName } from "./vm-name.ts";

export interface CreateVMInput {
  id: string;
  annotations: Record<string, string>;
  netnsPath: string;
}

export interface RecordConfig {
  podsDir: string;
  /** Global default initdata (INITDATA), already gzip+base64. */
  initdata: string;
  enableScratchSpace: boolean;
  /** EXTERNAL_NETWORK_VIA_PODVM: ask the provider for a second NIC (upstream InstanceTypeSpec.MultiNic). */
  multiNic?: boolean;
}

/** The instance types selection chooses from (from the provider, after its start()). */
export interface TypeCatalog {
  types: readonly InstanceType[];
  defaultType: string;
  allowList: readonly string[];
}

/** A unix socket path must fit in sun_path (108 bytes with the terminating NUL). */
export const MAX_SOCKET_PATH = 107;
export const AGENT_SOCKET_NAME = "agent.ttrpc";

export function agentSocketPath(podsDir: string, id: string): string {
  return join(podsDir, id, AGENT_SOCKET_NAME);
}

/** A checked CreateVM: everything the record needs except what side effects produce. */
export type SandboxPlan = Pick<
  SandboxRecord,
  "id" | "podName" | "podNamespace" | "netnsPath" | "vmName" | "spec" | "podDir" | "agentSocketPath"
> & {
  /** The pod's cc_init_data ("" = none). */
  initdata: string;
};

function invalid(err: unknown): LifecycleError {
  return new LifecycleError("invalid-argument", (err as Error).message, { cause: err });
}

/** Validate CreateVM's input and choose the instance type. Throws invalid-argument. */
export function planSandbox(input: CreateVMInput, podsDir: string, catalog: TypeCatalog): SandboxPlan {
  const { id, annotations, netnsPath } = input;
  try {
    validateSandboxId(id);
  } catch (err) {
    throw invalid(err);
  }
  const socketPath = agentSocketPath(podsDir, id);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    throw new LifecycleError(
      "invalid-argument",
      `invalid sandbox id "${id}": agent socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes`,
    );
  }
  let identity: { podName: string; podNamespace: string };
  let resources: SandboxResources;
  let instanceType: string;
  try {
    identity = parsePodIdentity(annotations);
    resources = parseSandboxResources(annotations);
    instanceType = selectInstanceType(resources, catalog.types, catalog.defaultType, catalog.allowList);
  } catch (err) {
    throw invalid(err);
  }
  return {
    id,
    podName: identity.podName,
    podNamespace: identity.podNamespace,
    netnsPath,
    vmName: vmName(identity.podName, id),
    spec: {
      instanceType,
      vcpus: resources.vcpus,
      memoryMiB: resources.memoryMiB,
      gpus: resources.gpus,
      image: resources.image,
    },
    podDir: join(podsDir, id),
    agentSocketPath: socketPath,
    initdata: resources.initdata,
  };
}

/** What CreateVM's side effects produced. */
export interface Made {
  tunnelIndex?: number;
  podNetwork?: PodNetwork;
  tls: ApfTlsFields;
  /** Merged registry credentials for /run/peerpod/auth.json (src/k8s/pull-secrets.ts). */
  authJson?: string;
  /** The pod's cloud_volumes annotation, parsed (src/sandbox/cloud-volumes.ts). */
  cloudVolumes?: CloudVolume[];
}

/** The record of a new sandbox, with upstream's user-data rendered. */
export function renderRecord(plan: SandboxPlan, made: Made, config: RecordConfig): SandboxRecord {
  const apf = {
    "pod-network": made.podNetwork ?? null,
    "pod-namespace": plan.podNamespace,
    "pod-name": plan.podName,
    ...made.tls,
  };
  // The pod's cc_init_data takes precedence over the global INITDATA (docs/upstream-compat.md §3.1 step 6).
  const initdata = plan.initdata !== "" ? encodeInitdata(plan.initdata) : config.initdata;
  const userData = buildUserData({
    apf,
    authJson: made.authJson,
    initdata: initdata === "" ? undefined : initdata,
    scratchSpace: config.enableScratchSpace,
  });
  const now = new Date().toISOString();
  return {
    id: plan.id,
    podName: plan.podName,
    podNamespace: plan.podNamespace,
    netnsPath: plan.netnsPath,
    vmName: plan.vmName,
    spec: {
      ...plan.spec,
      ...(config.multiNic ? { multiNic: true } : {}),
      ...(made.cloudVolumes?.length
        ? { volumes: made.cloudVolumes.map(({ name, diskId, lun }) => ({ name, diskId, lun })) }
        : {}),
    },
    podDir: plan.podDir,
    agentSocketPath: plan.agentSocketPath,
    tunnelIndex: made.tunnelIndex,
    podNetwork: made.podNetwork,
    ...(made.cloudVolumes?.length ? { cloudVolumes: made.cloudVolumes } : {}),
    userData,
    stage: "created",
    createdAt: now,
    updatedAt: now,
    timings: {},
  };
}
