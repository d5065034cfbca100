// vxlan link plumbing shared by both tunnel ends: create in an underlay netns, move into the pod netns.
// A vxlan's UDP socket stays in the netns it was created in, which is why both ends create the link
// outside the pod netns and then move it in (docs/upstream-compat.md §4.2 step 3, §4.3 step 2).
import { CommandError, netnsPath, run } from "./exec.ts";
import { findLink, links } from "./iproute.ts";
import type { IpLink } from "./iproute-parse.ts";

export interface VxlanParams {
  vni: number;
  remote: string;
  port: number;
}

/** `ip link add <name> type vxlan id <vni> remote <remote> dstport <port>`; no local address or device. */
export async function addVxlan(netns: string | undefined, name: string, p: VxlanParams): Promise<void> {
  await run(
    [
      "ip",
      "link",
      "add",
      name,
      "type",
      "vxlan",
      "id",
      String(p.vni),
      "remote",
      p.remote,
      "dstport",
      String(p.port),
    ],
    { netns },
  );
}

export function isExists(err: unknown): boolean {
  return err instanceof CommandError && /File exists/.test(err.stderr);
}

/** Moves a link into another netns (name or path; iproute2 opens paths containing "/" directly). */
export async function moveLink(netns: string | undefined, name: string, target: string): Promise<void> {
  await run(["ip", "link", "set", "dev", name, "netns", netnsPath(target)], { netns });
}

export function isVxlanWith(link: IpLink | undefined, vni: number): link is IpLink {
  return link?.kind === "vxlan" && link.vxlan?.id === vni;
}

/** Deletes `name` in `netns` only if it is a vxlan with this VNI (never someone else's link). */
export async function deleteVxlan(netns: string | undefined, name: string, vni: number): Promise<boolean> {
  if (!isVxlanWith(await findLink(netns, name), vni)) return false;
  await run(["ip", "link", "del", "dev", name], { netns });
  return true;
}

/** Vxlan links in `netns` whose name starts with `prefix` and that carry this VNI. */
export async function vxlansWithVni(
  netns: string | undefined,
  prefix: string,
  vni: number,
): Promise<IpLink[]> {
  return (await links(netns)).filter((l) => l.ifname.startsWith(prefix) && isVxlanWith(l, vni));
}
