// The worker-side CreateContainer interceptor (CAA pkg/adaptor/proxy/service.go; docs/upstream-compat.md §3.3):
// log the container's storages (e2e tests match `mount_point:… driver:image_guest_pull`) and add the
// CDI annotation when the pod asked for GPUs. The request is re-encoded only when it changed; fields
// this project does not declare travel as unknown fields and are written back unchanged.
import type { Logger } from "../log/logger.ts";
import { decodeCreateContainer, encodeCreateContainer } from "../relay/agent.ts";

export const DEFAULT_GPUS_ANNOTATION = "io.katacontainers.config.hypervisor.default_gpus";
export const CDI_ANNOTATION = "cdi.k8s.io/peer-pods";
export const DEFAULT_CDI_DEVICE = "nvidia.com/gpu=all";
export const IMAGE_GUEST_PULL = "image_guest_pull";

export function editCreateContainerForWorker(payload: Uint8Array, logger: Logger): Uint8Array {
  const req = decodeCreateContainer(payload);
  const log = logger.child({ container: req.containerId });
  log.info(`CreateContainer: containerID:${req.containerId}`);
  for (const s of req.storages) {
    log.info(`storage mount_point:${s.mountPoint} source:${s.source} fstype:${s.fstype} driver:${s.driver}`);
  }
  const oci = req.OCI;
  if (oci === undefined) return payload;
  if ((oci.Annotations[DEFAULT_GPUS_ANNOTATION] ?? "") === "") return payload;
  oci.Annotations[CDI_ANNOTATION] = DEFAULT_CDI_DEVICE;
  log.info(`adding CDI annotation ${CDI_ANNOTATION}: ${DEFAULT_CDI_DEVICE}`);
  return encodeCreateContainer(req);
}
