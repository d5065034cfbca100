// Checks of `caa serve`'s settings that need more than one option's parser, and the pod network
// the settings and the host allow: refused at start-up with a message naming the setting.
import { ConfigError } from "../config/options.ts";
import type { Logger } from "../log/logger.ts";
import type { Provider } from "../../providers/types.ts";
import { MAX_SOCKET_PATH, agentSocketPath } from "../sandbox/record.ts";
import type { PodNetworkPort } from "../sandbox/ports.ts";
import { parseIpv4Cidr } from "../podnetwork/inspect.ts";
import { podNetworkPort } from "./ports.ts";
import type { DaemonConfig } from "../config/daemon.ts";

/** containerd sandbox ids are 64 hex characters; their agent socket must fit in a sockaddr_un. */
const LONGEST_SANDBOX_ID = "f".repeat(64);

/** POD_SUBNET_CIDRS must be IPv4 CIDRs: a typo would otherwise only show as a missing pod route. */
export function checkPodSubnetCidrs(cidrs: readonly string[]): void {
  const bad = cidrs.filter((c) => parseIpv4Cidr(c) === undefined);
  if (bad.length > 0)
    throw new ConfigError(
      `POD_SUBNET_CIDRS: ${bad.map((c) => JSON.stringify(c)).join(", ")} is not an IPv4 CIDR (a.b.c.d/n)`,
    );
}

export function checkPodsDir(podsDir: string): void {
  const longest = agentSocketPath(podsDir, LONGEST_SANDBOX_ID);
  if (Buffer.byteLength(longest) > MAX_SOCKET_PATH) {
    throw new ConfigError(
      `PODS_DIR ${podsDir} is too long: the agent socket of a 64-character sandbox id would be ${Buffer.byteLength(longest)} bytes, over the ${MAX_SOCKET_PATH}-byte limit of a unix socket path; choose a directory of at most ${MAX_SOCKET_PATH - (Buffer.byteLength(longest) - Buffer.byteLength(podsDir))} bytes`,
    );
  }
}

/** The worker side of the pod tunnel, when this host can build it. */
export function podNetwork(
  config: DaemonConfig,
  provider: Provider,
  logger: Logger,
): PodNetworkPort | undefined {
  if (config.disablePodNetwork) {
    logger.info({}, "pod networking disabled (DISABLE_POD_NETWORK)");
    return undefined;
  }
  if (config.tunnelType !== "vxlan")
    throw new ConfigError(`unsupported TUNNEL_TYPE ${JSON.stringify(config.tunnelType)} (only vxlan)`);
  if (process.getuid?.() !== 0) {
    logger.warn({}, "not running as root: pod networking (VXLAN) is off");
    return undefined;
  }
  if (provider.capabilities?.().podNetwork === false) return undefined;
  return podNetworkPort({
    hostInterface: config.hostInterface,
    vxlanPort: config.vxlanPort,
    vxlanMinId: config.vxlanMinId,
    externalNetViaPodVm: config.externalNetViaPodVm,
    podSubnetCidrs: config.podSubnetCidrs,
    logger,
  });
}
