// The worker-side CreateContainer interceptor (CAA pkg/adaptor/proxy/service.go; docs/upstream-compat.md §3.3):
// log the container's storages (e2e tests match `mount_point:… driver:image_guest_pull`), add the
// CDI annotation when the pod asked for GPUs, and tell the VM side which of the container's mounts
// are the pod's cloud volumes: the volumes whose mount_point is a mount destination of this
// container go into the `io.confidentialcontainers.org.cloud_volumes` annotation in upstream's form
// (upstream builds it from CSI mountInfo.json; we have the pod's own annotation, kept in the
// sandbox record). The request is re-encoded only when it changed; fields this project does not
// declare travel as unknown fields and are written back unchanged.
import type { Logger } from "../log/logger.ts";
import { decodeCreateContainer, encodeCreateContainer } from "../relay/agent.ts";
import { CLOUD_VOLUMES_ANNOTATION, cloudVolumesJson, type CloudVolume } from "../sandbox/cloud-volumes.ts";

export const DEFAULT_GPUS_ANNOTATION = "io.katacontainers.config.hypervisor.default_gpus";
export const CDI_ANNOTATION = "cdi.k8s.io/peer-pods";
export const DEFAULT_CDI_DEVICE = "nvidia.com/gpu=all";
export const IMAGE_GUEST_PULL = "image_guest_pull";

export function editCreateContainerForWorker(
  payload: Uint8Array,
  logger: Logger,
  volumes: readonly CloudVolume[] = [],
): Uint8Array {
  const req = decodeCreateContainer(payload);
  const log = logger.child({ container: req.containerId });
  log.info(`CreateContainer: containerID:${req.containerId}`);
  for (const s of req.storages) {
    log.info(`storage mount_point:${s.mountPoint} source:${s.source} fstype:${s.fstype} driver:${s.driver}`);
  }
  const oci = req.OCI;
  if (oci === undefined) return payload;
  let changed = false;
  if ((oci.Annotations[DEFAULT_GPUS_ANNOTATION] ?? "") !== "") {
    oci.Annotations[CDI_ANNOTATION] = DEFAULT_CDI_DEVICE;
    log.info(`adding CDI annotation ${CDI_ANNOTATION}: ${DEFAULT_CDI_DEVICE}`);
    changed = true;
  }
  const destinations = new Set(oci.Mounts.map((m) => m.destination.replace(/(.)\/+$/, "$1")));
  const mounted = volumes.filter((v) => destinations.has(v.mountPoint));
  if (mounted.length > 0) {
    const json = cloudVolumesJson(mounted);
    oci.Annotations[CLOUD_VOLUMES_ANNOTATION] = json;
    log.info({ volumes: mounted.map((v) => v.name) }, `Set cloud_volumes annotation: ${json}`);
    changed = true;
  }
  return changed ? encodeCreateContainer(req) : payload;
}
