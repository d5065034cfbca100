// Settings of the Kubernetes integration, declared once (flag + upstream env name + default) for
// the daemon's config layer (src/config/options.ts). NODE_NAME and POD_UID come from the downward
// API in the DaemonSet; the integration is active when NODE_NAME is set (docs/upstream-compat.md §1.2).
import { int, str } from "../config/options.ts";

export const k8sOptions = {
  nodeName: str("node-name", "NODE_NAME", "", "This worker node's name; enables the Kubernetes integration"),
  podUid: str(
    "pod-uid",
    "POD_UID",
    "",
    "UID of this daemon's pod; recorded as the owner of the node's peer-pod capacity",
  ),
  kubeconfig: str("kubeconfig", "KUBECONFIG", "", "Kubeconfig file; in-cluster service account when empty"),
  peerpodsLimitPerNode: int(
    "peerpods-limit-per-node",
    "PEERPODS_LIMIT_PER_NODE",
    10,
    "Peer pods this node may run (kata.peerpods.io/vm capacity); negative leaves the capacity alone",
  ),
};
