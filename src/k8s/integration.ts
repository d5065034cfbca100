// Wires the Kubernetes pieces for the daemon. Active only when NODE_NAME is set (upstream's
// "k8s environment", CAA pkg/adaptor/k8sops/node.go IsKubernetesEnvironment).
import type { Logger } from "../log/logger.ts";
import { kubeClients } from "./client.ts";
import { NodeCapacity } from "./node-capacity.ts";
import { KubeNodePods } from "./node-pods.ts";
import { PeerPodService } from "./peerpod-service.ts";
import { KubeEvents } from "./events.ts";
import { podAuthJson } from "./pull-secrets.ts";
import { podAnnotations } from "./pod-annotations.ts";
import { LeaseElector } from "./lease.ts";
import { KubeClusterNodes } from "./nodes.ts";
import type { PodAnnotationsPort, PullSecretsPort } from "../sandbox/ports.ts";

export interface KubeIntegrationOptions {
  nodeName: string;
  podUid?: string;
  kubeconfig?: string;
  peerpodsLimitPerNode: number;
  /** CLOUD_PROVIDER (the PeerPod's spec.cloudProvider). */
  cloudProvider: string;
  logger: Logger;
}

export interface KubeIntegration {
  capacity: NodeCapacity;
  peerPods: PeerPodService;
  events: KubeEvents;
  nodePods: KubeNodePods;
  /** Pull secrets are read through the API only here, i.e. only with the integration on. */
  pullSecrets: PullSecretsPort;
  podAnnotations: PodAnnotationsPort;
  clusterNodes: KubeClusterNodes;
  /** A candidate for the Lease `namespace/name`, identified by this node and daemon pod. */
  leaseElector(namespace: string, name: string, leaseDurationSeconds: number): LeaseElector;
}

/** undefined outside Kubernetes (no NODE_NAME). Throws only when the kubeconfig can't be loaded. */
export function kubeIntegration(opts: KubeIntegrationOptions): KubeIntegration | undefined {
  if (!opts.nodeName) return undefined;
  const { core, custom, coordination } = kubeClients({ kubeconfig: opts.kubeconfig });
  const logger = opts.logger.child({ component: "k8s" });
  return {
    capacity: new NodeCapacity({
      core,
      nodeName: opts.nodeName,
      podUid: opts.podUid,
      limit: opts.peerpodsLimitPerNode,
      logger,
    }),
    peerPods: new PeerPodService({ core, custom, cloudProvider: opts.cloudProvider, logger }),
    events: new KubeEvents({ core, nodeName: opts.nodeName, logger }),
    nodePods: new KubeNodePods(core, opts.nodeName),
    pullSecrets: { authJson: (namespace, podName) => podAuthJson(core, namespace, podName, logger) },
    podAnnotations: podAnnotations(core, logger),
    clusterNodes: new KubeClusterNodes(core),
    leaseElector: (namespace, name, leaseDurationSeconds) =>
      new LeaseElector({
        coordination,
        namespace,
        name,
        // Two daemons share a node during a rolling update: the pod UID tells them apart.
        identity: `${opts.nodeName}_${opts.podUid || process.pid}`,
        leaseDurationSeconds,
        logger,
      }),
  };
}
