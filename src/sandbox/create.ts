// CreateVM (upstream-caa.md §3.1): validate, read the pod network, choose the instance type,
// render user-data. No cloud call is made.
import { join } from "node:path";
import type { InstanceSpec } from "../../providers/types.ts";
import { buildUserData } from "../userdata/build.ts";
import { encodeInitdata } from "../userdata/initdata.ts";
import { parsePodIdentity, parseSandboxResources } from "./annotations.ts";
import { LifecycleError } from "./errors.ts";
import { selectInstanceType } from "./instance-type.ts";
import type { ManagerDeps } from "./manager.ts";
import type { SandboxRecord } from "./model.ts";
import { validateSandboxId } from "./validate.ts";
import { vmName } from "./vm-name.ts";

export interface CreateVMInput {
  id: string;
  annotations: Record<string, string>;
  netnsPath: string;
}

/** A unix socket path must fit in sun_path (108 bytes with the terminating NUL). */
export const MAX_SOCKET_PATH = 107;
export const AGENT_SOCKET_NAME = "agent.ttrpc";

export function agentSocketPath(podsDir: string, id: string): string {
  return join(podsDir, id, AGENT_SOCKET_NAME);
}

export async function buildSandboxRecord(input: CreateVMInput, deps: ManagerDeps): Promise<SandboxRecord> {
  const { config, provider, network, agent, store } = deps;
  const { id, annotations, netnsPath } = input;
  try {
    validateSandboxId(id);
  } catch (err) {
    throw new LifecycleError("invalid-argument", (err as Error).message, { cause: err });
  }
  const podDir = join(config.podsDir, id);
  const socketPath = agentSocketPath(config.podsDir, id);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    throw new LifecycleError(
      "invalid-argument",
      `invalid sandbox id "${id}": agent socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes`,
    );
  }
  let identity: { podName: string; podNamespace: string };
  let resources: ReturnType<typeof parseSandboxResources>;
  try {
    identity = parsePodIdentity(annotations);
    resources = parseSandboxResources(annotations);
  } catch (err) {
    throw new LifecycleError("invalid-argument", (err as Error).message, { cause: err });
  }

  let instanceType: string;
  try {
    instanceType = selectInstanceType(
      resources,
      provider.instanceTypes(),
      provider.defaultInstanceType(),
      provider.allowList ? provider.allowList() : provider.instanceTypes().map((t) => t.name),
    );
  } catch (err) {
    throw new LifecycleError("invalid-argument", (err as Error).message, { cause: err });
  }
  const spec: InstanceSpec = {
    instanceType,
    vcpus: resources.vcpus,
    memoryMiB: resources.memoryMiB,
    gpus: resources.gpus,
    image: resources.image,
  };
  const name = vmName(identity.podName, id);

  let tunnelIndex: number | undefined;
  let podNetwork: unknown;
  if (network && netnsPath !== "") {
    tunnelIndex = store.reserveTunnelIndex();
    try {
      podNetwork = await network.inspect(netnsPath, tunnelIndex);
    } catch (err) {
      store.releaseTunnelIndex(tunnelIndex);
      throw new LifecycleError("failed", (err as Error).message, { cause: err });
    }
  }

  const tls = agent ? await agent.apfTls(name) : {};
  const apf = {
    "pod-network": podNetwork ?? null,
    "pod-namespace": identity.podNamespace,
    "pod-name": identity.podName,
    ...tls,
  };
  // The pod's cc_init_data takes precedence over the global INITDATA (upstream-caa.md §3.1 step 6).
  const initdata = resources.initdata !== "" ? encodeInitdata(resources.initdata) : config.initdata;
  const userData = buildUserData({
    apf: apf as Parameters<typeof buildUserData>[0]["apf"],
    authJson: await deps.pullSecrets?.authJson(identity.podNamespace, identity.podName),
    initdata: initdata === "" ? undefined : initdata,
    scratchSpace: config.enableScratchSpace,
  });

  const now = new Date().toISOString();
  return {
    id,
    podName: identity.podName,
    podNamespace: identity.podNamespace,
    netnsPath,
    vmName: name,
    spec,
    podDir,
    agentSocketPath: socketPath,
    tunnelIndex,
    podNetwork,
    userData,
    stage: "created",
    createdAt: now,
    updatedAt: now,
    timings: {},
  };
}
