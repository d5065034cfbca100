// The daemon's settings, with upstream's flag and env names (docs/upstream-compat.md §2.3) and ours.
// When not root, the default paths move to a user-writable runtime directory.
import { join } from "node:path";
import { runtimeRoot } from "./runtime-root.ts";
import { bool, duration, int, list, str, type OptionSpec, type Resolved } from "./options.ts";
import { opsOptions } from "../ops/options.ts";
import { k8sOptions } from "../k8s/options.ts";
import { leakOptions } from "../leak/options.ts";
import { poolOptions } from "../pool/options.ts";
import { capacityOptions } from "../capacity/options.ts";
import { handoverOptions } from "../handover/options.ts";
import { TLS_OPTIONS } from "../tls/options.ts";

export function daemonOptions(root = runtimeRoot()) {
  return {
    cloudProvider: str(
      "provider",
      "CLOUD_PROVIDER",
      "local",
      "cloud provider: local, aws, azure, or an external plugin",
    ),
    socket: str(
      "socket",
      "REMOTE_HYPERVISOR_ENDPOINT",
      join(root, "hypervisor.sock"),
      "ttrpc hypervisor socket",
    ),
    grpcSocket: str(
      "grpc-socket",
      "REMOTE_HYPERVISOR_GRPC_ENDPOINT",
      join(root, "hypervisor-grpc.sock"),
      'gRPC hypervisor socket ("" turns it off)',
    ),
    podsDir: str("pods-dir", "PODS_DIR", join(root, "pods"), "per-sandbox directories (agent sockets)"),
    stateDir: str("state-dir", "STATE_DIR", join(root, "state"), "durable sandbox and provider state"),
    pauseImage: str("pause-image", "PAUSE_IMAGE", "", "accepted for compatibility; unused (as upstream)"),
    forwarderHost: str(
      "forwarder-host",
      "FORWARDER_HOST",
      "",
      "dial the forwarder at this host instead of the VM's IP (a port-forward while debugging; tests)",
    ),
    forwarderPort: int("forwarder-port", "FORWARDER_PORT", 15150, "agent-protocol-forwarder port in the VM"),
    proxyTimeoutMs: duration(
      "proxy-timeout",
      "PROXY_TIMEOUT",
      5 * 60_000,
      "how long StartVM waits for the VM's forwarder",
    ),
    tunnelType: str("tunnel-type", "TUNNEL_TYPE", "vxlan", "pod network tunnel (vxlan)"),
    vxlanPort: int("vxlan-port", "VXLAN_PORT", 4789, "VXLAN UDP port"),
    vxlanMinId: int("vxlan-min-id", "VXLAN_MIN_ID", 555000, "first VXLAN id"),
    hostInterface: str(
      "host-interface",
      undefined,
      "",
      "worker interface for the tunnel (default: the default-route one)",
    ),
    // Upstream's experimental pair (CAA src/cloud-api-adaptor/cmd/cloud-api-adaptor/main.go): the pod's
    // default route leaves through a second NIC of the VM; the pod subnets stay on the tunnel.
    externalNetViaPodVm: bool(
      "ext-network-via-podvm",
      "EXTERNAL_NETWORK_VIA_PODVM",
      false,
      "send the pod's external traffic through a second NIC of the pod VM (AWS: a secondary network interface)",
    ),
    podSubnetCidrs: list(
      "pod-subnet-cidrs",
      "POD_SUBNET_CIDRS",
      "pod subnet CIDRs routed through the tunnel when EXTERNAL_NETWORK_VIA_PODVM is on, comma separated",
    ),
    initdata: str("initdata", "INITDATA", "", "default initdata (gzip+base64) for pods without cc_init_data"),
    cloudConfigVerify: bool(
      "cloud-config-verify",
      "CLOUD_CONFIG_VERIFY",
      false,
      "check the cloud configuration at start-up",
    ),
    enableScratchSpace: bool(
      "enable-scratch-space",
      "ENABLE_SCRATCH_SPACE",
      false,
      "ask the pod VM for scratch space",
    ),
    disablePodNetwork: bool(
      "disable-pod-network",
      "DISABLE_POD_NETWORK",
      false,
      "do not tunnel the pod network",
    ),
    clusterName: str(
      "cluster-name",
      "CLUSTER_NAME",
      "peerpods",
      "owner tag naming this cluster on every instance",
    ),
    logLevel: str("log-level", "LOG_LEVEL", "info", "debug, info, warn, error"),
    logFormat: str("log-format", "LOG_FORMAT", "text", "text (upstream's Go log lines) or json"),
    externalPlugin: bool(
      "enable-cloud-provider-external-plugin",
      "ENABLE_CLOUD_PROVIDER_EXTERNAL_PLUGIN",
      false,
      "load the provider from an external module",
    ),
    externalPluginPath: str(
      "cloud-provider-external-plugin-path",
      "CLOUD_PROVIDER_EXTERNAL_PLUGIN_PATH",
      "",
      "module path or package",
    ),
    externalPluginHash: str(
      "cloud-provider-external-plugin-hash",
      "CLOUD_PROVIDER_EXTERNAL_PLUGIN_HASH",
      "",
      "its sha256",
    ),
  } satisfies OptionSpec;
}

/** Every option `caa serve` takes, one spec per concern (flags are checked against all of them). */
export function serveOptionSpecs(root = runtimeRoot()): OptionSpec[] {
  return [
    daemonOptions(root),
    opsOptions,
    k8sOptions,
    leakOptions,
    poolOptions,
    capacityOptions,
    handoverOptions,
    TLS_OPTIONS,
  ];
}

export type DaemonConfig = Resolved<ReturnType<typeof daemonOptions>>;
