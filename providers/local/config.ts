// Settings of the local provider: each "VM" is a network namespace on this host (a process on a
// loopback address when not root), running the pod-VM boot chain (`caa podvm`).
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { bool, duration, int, list, str } from "../../src/config/options.ts";

/** A file of this product beside this one: `.ts` when run from source, `.js` from the build (dist/). */
function sibling(relative: string): string {
  return fileURLToPath(new URL(relative + extname(import.meta.url), import.meta.url));
}

/** The kata-agent stand-in every local VM boots (providers/local/kata-agent.ts). */
const AGENT = sibling("./kata-agent");

export const LOCAL_OPTIONS = {
  subnet: str(
    "local-vm-subnet",
    "LOCAL_VM_SUBNET",
    "",
    "address range of local VMs, .1 on the bridge (default: the first of 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 no host interface uses, kept in the state dir)",
  ),
  bridge: str("local-bridge", "LOCAL_BRIDGE", "caa-br0", "bridge in the host netns that local VMs attach to"),
  netnsPrefix: str(
    "local-netns-prefix",
    "LOCAL_NETNS_PREFIX",
    "caa-vm-",
    "name prefix of local VM namespaces (the pod namespace inside adds -pod)",
  ),
  loopbackSubnet: str(
    "local-loopback-subnet",
    "LOCAL_LOOPBACK_SUBNET",
    "127.100.0.0/16",
    "addresses of local VMs when not root (no namespaces then)",
  ),
  forceLoopback: bool("local-loopback", "LOCAL_LOOPBACK", false, "use loopback VMs even as root"),
  bootDelayMs: duration("local-boot-delay", "LOCAL_BOOT_DELAY", 0, "simulated boot time of a local VM"),
  vmCommand: str(
    "local-vm-command",
    "LOCAL_VM_COMMAND",
    "",
    "command that boots a local VM (gets --cidata, --root, --listen, …; default: node and the pod-VM bundle)",
  ),
  agentCommand: str(
    "local-agent-command",
    "LOCAL_AGENT_COMMAND",
    `${process.execPath} ${AGENT}`,
    "kata agent run inside each local VM (gets --socket and --record; default: the stand-in in providers/local/kata-agent)",
  ),
  forwarderPort: int("forwarder-port", "FORWARDER_PORT", 15150, "port the forwarder listens on in the VM"),
  instanceType: str("local-instance-type", "LOCAL_INSTANCE_TYPE", "local.medium", "default instance type"),
  instanceTypes: list("local-instance-types", "LOCAL_INSTANCE_TYPES", "allowed instance types"),
  noCapacityTypes: list(
    "local-no-capacity-types",
    "LOCAL_NO_CAPACITY_TYPES",
    "instance types this host pretends to have no capacity for (InsufficientCapacity), to try the core's capacity fallback",
  ),
};

/** Sizes of the local instance types, so that instance-type selection works as on a cloud. */
export const LOCAL_INSTANCE_TYPES = [
  { name: "local.small", vcpus: 1, memoryMiB: 2048, gpus: 0 },
  { name: "local.medium", vcpus: 2, memoryMiB: 8192, gpus: 0 },
  { name: "local.large", vcpus: 4, memoryMiB: 16384, gpus: 0 },
  { name: "local.xlarge", vcpus: 8, memoryMiB: 32768, gpus: 0 },
  { name: "local.gpu", vcpus: 8, memoryMiB: 65536, gpus: 1 },
];
