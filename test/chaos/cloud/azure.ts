// The Azure target: `caa serve azure` against the ARM emulator with its random fault plan, which
// hits the configured share of ARM requests with 429 + Retry-After, a 503, a dropped connection
// before or after the emulator acted, a slow answer, and — on VM creates — AllocationFailed after
// the NIC and disk were made. The subnet is 127.65.0.0/16, so each VM's private address is on this
// host's loopback and the VM host plays it there.
import { OWNER_TAG_KEYS } from "../../../providers/types.ts";
import { azureProviderEnv, startArmEmulator } from "../../azure-emulator/index.ts";
import { EmulatorState } from "../../azure-emulator/state.ts";
import type { Leftover } from "../target.ts";
import { CLUSTER, CloudTarget, type CloudFaultOptions, type CloudSide } from "./cloud-target.ts";
import type { CloudVm } from "./vm-host.ts";

const SUBSCRIPTION = "00000000-0000-0000-0000-0000000c4a05";
const GROUP = "chaos-rg";
const SUBNET_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${GROUP}/providers/Microsoft.Network/virtualNetworks/chaos-vnet/subnets/default`;

interface NicJson {
  properties?: { ipConfigurations?: { properties?: { privateIPAddress?: string } }[] };
}

/** The VMs of the run that exist and are not failed or being deleted, with their first private address. */
function liveVms(state: EmulatorState): CloudVm[] {
  state.settle();
  const out: CloudVm[] = [];
  for (const entry of state.vms.values()) {
    const { resource } = entry;
    const provisioning = String(resource.properties.provisioningState);
    if (resource.tags?.[OWNER_TAG_KEYS.cluster] !== CLUSTER) continue;
    if (provisioning === "Failed" || provisioning === "Deleting") continue;
    const nic = entry.cascade.find((c) => c.kind === "nic");
    const nicJson = nic
      ? (state.nics.get(EmulatorState.key(GROUP, nic.name)) as NicJson | undefined)
      : undefined;
    const ip = nicJson?.properties?.ipConfigurations?.[0]?.properties?.privateIPAddress;
    if (!ip) continue;
    const userData = entry.userData;
    out.push({
      id: resource.id,
      ip,
      userData: () =>
        Promise.resolve(userData ? Buffer.from(userData, "base64").toString("utf8") : undefined),
    });
  }
  return out;
}

// 429, 503 (ServerTimeout), 500, AllocationFailed, a dropped connection, a slow answer (the
// capacity fallback sums a create that ran out of VM sizes up as "no capacity").
export const ARM_FAULT_ERROR =
  /Azure (TooManyRequests|ServerTimeout|InternalServerError|AllocationFailed|ECONNRESET|ETIMEDOUT|socket hang up)\b|no capacity for any fitting instance type/;

async function startAzure(_dir: string, faults: Required<CloudFaultOptions>): Promise<CloudSide> {
  const emu = await startArmEmulator({
    subscriptionId: SUBSCRIPTION,
    resourceGroups: [GROUP],
    subnets: [{ id: SUBNET_ID, addressPrefix: "127.65.0.0/16" }],
    lroDelayMs: 200,
  });
  emu.setFaults({ random: { rate: faults.rate, seed: faults.seed, slowMs: faults.slowMs } });
  return {
    env: {
      CLOUD_PROVIDER: "azure",
      ...azureProviderEnv(emu, {
        AZURE_INSTANCE_SIZE: "Standard_DC2as_v5",
        AZURE_INSTANCE_SIZES: "Standard_DC2as_v5,Standard_DC4as_v5,Standard_DC8as_v5",
      }),
    },
    vms: () => Promise.resolve(liveVms(emu.state)),
    resources: () => {
      const s = emu.snapshot();
      const of = (kind: string, names: string[]): Leftover[] => names.map((what) => ({ kind, what }));
      return Promise.resolve([
        ...of("vm", s.vms),
        ...of("nic", s.nics),
        ...of("public-ip", s.publicIps),
        ...of("disk", s.disks),
      ]);
    },
    injected: () =>
      Object.fromEntries(
        Object.entries(emu.faultsFired)
          .filter(([k]) => k.startsWith("random."))
          .map(([k, n]) => [k.slice("random.".length), n]),
      ),
    stop: () => emu.stop(),
  };
}

/** `caa serve azure` against the ARM emulator with `rate` of ARM requests faulted. */
export function armEmulatorTarget(faults: CloudFaultOptions = {}): CloudTarget {
  return new CloudTarget("arm-emulator", startAzure, ARM_FAULT_ERROR, faults);
}
