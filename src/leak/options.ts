// Settings of the leak collector, declared once for the daemon's config layer. No upstream
// equivalent (upstream relies on peerpod-ctrl alone), so the names are ours.
import { bool, duration, str } from "../config/options.ts";

export const leakOptions = {
  leakGracePeriodMs: duration(
    "leak-grace-period",
    "LEAK_GRACE_PERIOD",
    120_000,
    "Age an unowned instance must reach before the leak collector deletes it (in-flight creates are younger)",
  ),
  leakIntervalMs: duration(
    "leak-interval",
    "LEAK_INTERVAL",
    300_000,
    "How often the leak collector lists the cloud",
  ),
  leakDryRun: bool(
    "leak-dry-run",
    "LEAK_DRY_RUN",
    false,
    "Only log the instances the leak collector would delete",
  ),
  leakClusterScope: bool(
    "leak-cluster-scope",
    "LEAK_CLUSTER_SCOPE",
    false,
    "Also delete instances of deleted nodes; one daemon in the cluster does it, elected through a Lease",
  ),
  leakLeaseNamespace: str(
    "leak-lease-namespace",
    "LEAK_LEASE_NAMESPACE",
    "confidential-containers-system",
    "Namespace of the cluster leak collector's Lease (peerpods-leak-collector)",
  ),
  leakLeaseDurationMs: duration(
    "leak-lease-duration",
    "LEAK_LEASE_DURATION",
    60_000,
    "How long the cluster leak collector's Lease holds without renewal",
  ),
};
