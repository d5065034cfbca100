// A pod's own annotations, read from the API server. The kata shims send CreateVM a fixed set of
// annotations (KATA src/runtime/virtcontainers/remote.go) and no pod UID, so what else the pod asks
// for (its cloud_volumes) is read from the pod itself, found by name and namespace.
import type { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.ts";
import type { PodAnnotationsPort } from "../sandbox/ports.ts";
import { apiError } from "./api-error.ts";

export function podAnnotations(core: CoreV1Api, logger: Logger): PodAnnotationsPort {
  return {
    annotation: async (namespace, name, key) => {
      try {
        const pod = await core.readNamespacedPod({ name, namespace });
        return pod.metadata?.annotations?.[key];
      } catch (err) {
        logger.warn(
          { pod: name, namespace, api: apiError(err) },
          `could not read the pod for its ${key} annotation`,
        );
        return undefined;
      }
    },
  };
}
