// Reports the lifecycle to metrics and, in Kubernetes, to PeerPod resources and pod Events —
// upstream users' top complaint is a pod stuck in ContainerCreating with no explanation.
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { KubeIntegration } from "../k8s/integration.ts";
import type { LifecycleObserver } from "../sandbox/ports.ts";

export function lifecycleObserver(opts: {
  metrics: Metrics;
  kube?: KubeIntegration;
  logger: Logger;
}): LifecycleObserver {
  const { metrics, kube, logger } = opts;
  const quietly = (what: string, p: Promise<unknown>) =>
    p.catch((err: unknown) => logger.warn({ err: (err as Error).message }, `${what} failed`));
  return {
    call(operation, ms, ok) {
      metrics.observeLifecycle(operation, ms, ok);
    },
    stage(_sandbox, stage, ms) {
      metrics.observeStage(stage, ms);
    },
    failed(sandbox, error) {
      if (kube)
        void quietly("pod event", kube.events.startFailed(sandbox.podName, sandbox.podNamespace, error));
    },
    async instanceCreated(sandbox) {
      if (kube && sandbox.instance) {
        await quietly(
          "creating PeerPod",
          kube.peerPods.own(sandbox.podName, sandbox.podNamespace, sandbox.instance.id),
        );
      }
    },
    async instanceDeleted(sandbox) {
      if (kube && sandbox.instance) {
        await quietly(
          "releasing PeerPod",
          kube.peerPods.release(sandbox.podName, sandbox.podNamespace, sandbox.instance.id),
        );
      }
    },
  };
}
