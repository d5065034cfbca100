// The cluster-scope leak collector's wiring: on only with LEAK_CLUSTER_SCOPE and the Kubernetes
// integration, one replica at a time through a Lease.
import type { Resolved } from "../config/options.ts";
import type { Logger } from "../log/logger.ts";
import type { Provider } from "../../providers/types.ts";
import type { KubeIntegration } from "../k8s/integration.ts";
import type { leakOptions } from "../leak/options.ts";
import { ClusterLeakCollector } from "../leak/cluster-collector.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { DaemonConfig } from "../config/daemon.ts";

export const LEAK_LEASE_NAME = "peerpods-leak-collector";

/** The cluster-scope collector, when LEAK_CLUSTER_SCOPE is on and the daemon runs in Kubernetes. */
export function clusterLeakCollector(
  leakCfg: Resolved<typeof leakOptions>,
  config: DaemonConfig,
  provider: Provider,
  kube: KubeIntegration | undefined,
  logger: Logger,
  metrics: Metrics,
): ClusterLeakCollector | undefined {
  if (!leakCfg.leakClusterScope || leakCfg.leakIntervalMs <= 0) return undefined;
  if (!kube) {
    logger.warn({}, "LEAK_CLUSTER_SCOPE needs the Kubernetes integration (NODE_NAME); not started");
    return undefined;
  }
  const leaseSeconds = Math.max(3, Math.round(leakCfg.leakLeaseDurationMs / 1000));
  return new ClusterLeakCollector({
    provider,
    cluster: config.clusterName,
    leadership: kube.leaseElector(leakCfg.leakLeaseNamespace, LEAK_LEASE_NAME, leaseSeconds),
    nodes: kube.clusterNodes,
    graceMs: leakCfg.leakGracePeriodMs,
    intervalMs: leakCfg.leakIntervalMs,
    renewMs: (leaseSeconds * 1000) / 3,
    dryRun: leakCfg.leakDryRun,
    logger,
    metrics,
    events: kube.events,
  });
}
