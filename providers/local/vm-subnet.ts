// Which address range local VMs get, the way Docker picks its default bridge pool: the first
// documentation range (RFC 5737) that no interface of the host uses, unless LOCAL_VM_SUBNET names
// one. The choice is kept in the state directory, so a restart keeps it (running VMs keep their
// addresses), and a range some interface of the host uses is refused, naming that interface.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InvalidConfigError } from "../errors.ts";
import { writeFileAtomic } from "../../src/util/atomic-file.ts";
import { hostAddress, networkOf, parseSubnet, subnetText, type Subnet } from "./addresses.ts";
import {
  bridgeAlias,
  clashesWith,
  describeClashes,
  findOurBridges,
  ourInterfaces,
  readHostNetwork,
  type Clash,
} from "./host-network.ts";
import { deleteBridge, ensureBridge, replaceBridge } from "./vm-network.ts";

export const CANDIDATE_SUBNETS = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"];

/** `<stateDir>/network` (no .json: those are VM records). */
const RECORD = "network";

interface NetworkRecord {
  subnet: string;
  bridge: string;
}

export interface BridgeNetworkOptions {
  stateDir: string;
  bridge: string;
  /** LOCAL_VM_SUBNET; "" = choose. */
  subnet: string;
  /** Addresses of the VMs recorded from an earlier run. */
  vmAddresses: readonly string[];
}

export interface BridgeNetwork {
  subnet: Subnet;
  /** Why this range: "LOCAL_VM_SUBNET", "kept from the last run", or what the skipped ones clash with. */
  reason: string;
  /** Bridges of ours removed on the way (stale or renamed). */
  removed: string[];
}

const HOW_TO_SET =
  "set LOCAL_VM_SUBNET to an IPv4 range that no interface on this host uses, e.g. a /24 of 10.0.0.0/8 that `ip -4 addr` and `ip -4 route show table all` do not show";

async function readRecord(stateDir: string): Promise<NetworkRecord | undefined> {
  const text = await readFile(join(stateDir, RECORD), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const rec = JSON.parse(text) as Partial<NetworkRecord>;
  return typeof rec.subnet === "string" && typeof rec.bridge === "string"
    ? { subnet: rec.subnet, bridge: rec.bridge }
    : undefined;
}

function inside(subnet: Subnet, address: string): boolean {
  return networkOf(address, subnet.prefix).base === subnet.base;
}

/**
 * Decide the range, then bring the bridge up with its gateway (.1) and remove bridges of ours that
 * a previous run left (a renamed one hands its VM ports over first). Throws InvalidConfigError
 * naming the clashing interface when the range is taken.
 */
export async function prepareBridgeNetwork(opts: BridgeNetworkOptions): Promise<BridgeNetwork> {
  const host = await readHostNetwork();
  const found = await findOurBridges(host, opts.stateDir, opts.bridge);
  if (found.taken) {
    throw new InvalidConfigError(
      `bridge ${found.taken.bridge} belongs to another local provider (state ${found.taken.owner}); set LOCAL_BRIDGE (or -local-bridge) to another name`,
    );
  }
  // Stale bridges are removed below, so their ranges are free.
  const ours = ourInterfaces(host, [...found.mine, ...found.stale]);
  const clashes = (s: Subnet): Clash[] => clashesWith(s, host, ours);
  const recorded = await readRecord(opts.stateDir);
  const strays = opts.vmAddresses;

  let chosen: { subnet: Subnet; reason: string };
  if (opts.subnet !== "") {
    const subnet = parseSubnet(opts.subnet);
    const c = clashes(subnet);
    if (c.length > 0) {
      throw new InvalidConfigError(
        `LOCAL_VM_SUBNET ${opts.subnet} overlaps this host's network (${describeClashes(c)}); local VMs must not shadow it: ${HOW_TO_SET}`,
      );
    }
    chosen = { subnet, reason: "LOCAL_VM_SUBNET" };
  } else if (recorded && clashes(parseSubnet(recorded.subnet)).length === 0) {
    chosen = { subnet: parseSubnet(recorded.subnet), reason: "kept from the last run" };
  } else if (recorded && strays.length > 0) {
    const c = clashes(parseSubnet(recorded.subnet));
    throw new InvalidConfigError(
      `local VMs of the last run use ${recorded.subnet}, which now overlaps this host's network (${describeClashes(c)}); delete those VMs (their records are in ${opts.stateDir}) or ${HOW_TO_SET}`,
    );
  } else {
    chosen = pickCandidate(clashes);
  }
  const outside = strays.filter((a) => !inside(chosen.subnet, a));
  if (outside.length > 0) {
    throw new InvalidConfigError(
      `local VMs of the last run have addresses (${outside.join(", ")}) outside ${subnetText(chosen.subnet)}; stop them first or set LOCAL_VM_SUBNET to the range they use`,
    );
  }

  await ensureBridge(
    opts.bridge,
    `${hostAddress(chosen.subnet, 1)}/${chosen.subnet.prefix}`,
    bridgeAlias(opts.stateDir),
  );
  const removed: string[] = [];
  for (const old of found.mine.filter((b) => b.ifname !== opts.bridge)) {
    const ports = host.links.filter((l) => l.master === old.ifname).map((l) => l.ifname);
    await replaceBridge(old.ifname, ports, opts.bridge);
    removed.push(old.ifname);
  }
  for (const stale of found.stale.filter((b) => b.ifname !== opts.bridge)) {
    await deleteBridge(stale.ifname);
    removed.push(stale.ifname);
  }
  const rec: NetworkRecord = { subnet: subnetText(chosen.subnet), bridge: opts.bridge };
  await writeFileAtomic(join(opts.stateDir, RECORD), JSON.stringify(rec));
  return { ...chosen, removed };
}

function pickCandidate(clashes: (s: Subnet) => Clash[]): { subnet: Subnet; reason: string } {
  const skipped: string[] = [];
  for (const cidr of CANDIDATE_SUBNETS) {
    const subnet = parseSubnet(cidr);
    const c = clashes(subnet);
    if (c.length === 0) {
      const reason = skipped.length === 0 ? "first free range" : `first free range; ${skipped.join("; ")}`;
      return { subnet, reason };
    }
    skipped.push(`${cidr} is used (${describeClashes(c)})`);
  }
  throw new InvalidConfigError(`no free address range for local VMs: ${skipped.join("; ")}; ${HOW_TO_SET}`);
}
