// The VM-side interceptors (CAA pkg/forwarder/interceptor/interceptor.go; docs/upstream-compat.md §5.2):
// containers join the pod network namespace; the disks of the container's cloud_volumes annotation
// are mounted (cloud-volumes.ts) and the container's mount at each mount_point gets that directory
// as its bind source; a bind source that does not exist is created (`mkdir -p`, as upstream);
// CreateSandbox's DNS servers are dropped so the VM's own /etc/resolv.conf is left alone (CAA issue
// #98); DestroySandbox unmounts the cloud volumes. Undeclared fields survive as unknown fields.
import { mkdir, stat } from "../util/lean-fs.ts";
import path from "node:path";
import { CreateSandboxRequest, type CreateContainerRequest } from "../gen/agent/agent.ts";
import type { Logger } from "../log/logger.ts";
import { AGENT_SERVICE, decodeCreateContainer, encodeCreateContainer } from "../relay/agent.ts";
import type { PayloadEdit, SyncPayloadEdit } from "../relay/relay.ts";
import { CLOUD_VOLUMES_ANNOTATION, parseCloudVolumes, type CloudVolume } from "../sandbox/cloud-volumes.ts";
import { Code, TtrpcError } from "../ttrpc/status.ts";
import type { CloudVolumeMounter } from "./cloud-volumes.ts";

function joinPodNetwork(req: CreateContainerRequest, podNsPath: string, log: Logger): boolean {
  if (req.OCI === undefined) {
    log.warn("CreateContainer without an OCI spec: relayed unchanged");
    return false;
  }
  req.OCI.Linux ??= { CgroupsPath: "", Namespaces: [] };
  req.OCI.Linux.Namespaces.push({ Type: "network", Path: podNsPath });
  log.info(
    { namespaces: req.OCI.Linux.Namespaces.map((ns) => `${ns.Type}: ${JSON.stringify(ns.Path)}`) },
    "namespaces",
  );
  return true;
}

export function addPodNetworkNamespace(podNsPath: string): SyncPayloadEdit {
  return (payload, logger) => {
    const req = decodeCreateContainer(payload);
    const log = logger.child({ container: req.containerId });
    log.info(`CreateContainer: containerID:${req.containerId}`);
    return joinPodNetwork(req, podNsPath, log) ? encodeCreateContainer(req) : payload;
  };
}

export interface VmVolumes {
  mounter: CloudVolumeMounter;
  /** Prefix of the paths the forwarder creates ("/" in a VM). */
  root: string;
}

function volumesOf(req: CreateContainerRequest): CloudVolume[] {
  const text = req.OCI?.Annotations[CLOUD_VOLUMES_ANNOTATION];
  try {
    return parseCloudVolumes(text);
  } catch (err) {
    // Upstream refuses the container too: started without its disk it would write elsewhere.
    throw new TtrpcError(
      Code.InvalidArgument,
      `corrupt cloud_volumes annotation (the container would start without its volumes): ${(err as Error).message}`,
    );
  }
}

async function mountVolumes(req: CreateContainerRequest, v: VmVolumes, log: Logger): Promise<void> {
  const oci = req.OCI;
  if (oci === undefined) return;
  for (const vol of volumesOf(req).sort((a, b) => a.name.localeCompare(b.name))) {
    let source: string;
    try {
      source = await v.mounter.mount(vol, log);
    } catch (err) {
      throw new TtrpcError(Code.Internal, `cloud volume ${vol.name}: ${(err as Error).message}`);
    }
    const m = oci.Mounts.find((mount) => mount.destination.replace(/(.)\/+$/, "$1") === vol.mountPoint);
    if (!m) {
      log.warn(
        `cloud volume ${vol.name}: mount_point ${JSON.stringify(vol.mountPoint)} not found in container mounts`,
      );
      continue;
    }
    m.source = source;
    m.type = "bind";
    log.info(`cloud volume ${vol.name}: rewrote mount source of ${vol.mountPoint} to ${source}`);
  }
  for (const m of oci.Mounts) {
    if (m.type !== "bind" || !m.source.startsWith("/")) continue;
    const dir = path.join(v.root, m.source);
    // "/.." climbs out of a local VM's root (a real VM's root is "/", where it cannot).
    if (path.relative(v.root, dir).startsWith("..")) {
      log.warn(`mount source ${JSON.stringify(m.source)} leaves the VM's root: not created`);
      continue;
    }
    if (
      await stat(dir).then(
        () => true,
        () => false,
      )
    )
      continue;
    log.info(`mount source ${m.source} doesn't exist, try to create`);
    await mkdir(dir, { recursive: true }).catch((err: unknown) =>
      log.warn(`failed to create dir ${m.source}: ${(err as Error).message}`),
    );
  }
}

export function createContainerInVm(podNsPath: string, volumes: VmVolumes): PayloadEdit {
  return async (payload, logger) => {
    const req = decodeCreateContainer(payload);
    const log = logger.child({ container: req.containerId });
    log.info(`CreateContainer: containerID:${req.containerId}`);
    if (!joinPodNetwork(req, podNsPath, log)) return payload;
    await mountVolumes(req, volumes, log);
    return encodeCreateContainer(req);
  };
}

export const clearSandboxDns: SyncPayloadEdit = (payload, logger) => {
  let req: CreateSandboxRequest;
  try {
    req = CreateSandboxRequest.decode(payload);
  } catch (err) {
    throw new TtrpcError(Code.InvalidArgument, `ttrpc: error unmarshalling payload: ${String(err)}`);
  }
  logger.info(`CreateSandbox: hostname:${req.hostname} sandboxId:${req.sandboxId}`);
  if (req.dns.length === 0) return payload;
  logger.info(
    { dns: req.dns },
    "eliminated the DNS setting from CreateSandboxRequest to stop updating /etc/resolv.conf on the peer pod VM (CAA issue #98)",
  );
  req.dns = [];
  return CreateSandboxRequest.encode(req).finish();
};

export function vmEdits(podNsPath: string, volumes: VmVolumes): ReadonlyMap<string, PayloadEdit> {
  return new Map<string, PayloadEdit>([
    [`${AGENT_SERVICE}/CreateContainer`, createContainerInVm(podNsPath, volumes)],
    [`${AGENT_SERVICE}/CreateSandbox`, clearSandboxDns],
    [
      `${AGENT_SERVICE}/DestroySandbox`,
      async (payload, logger) => {
        logger.info("DestroySandbox");
        await volumes.mounter.unmountAll(logger);
        return payload;
      },
    ],
  ]);
}
