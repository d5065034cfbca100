// Read-side iproute2 queries in a netns (undefined = the current one), parsed from `ip -j`.
import { CommandError, runJson } from "./exec.ts";
import {
  parseLinks,
  parseNeighbors,
  parseRoutes,
  type IpLink,
  type IpNeighbor,
  type IpRoute,
} from "./iproute-parse.ts";

/** IPv4 routes of the main table, numeric protocol/scope/type, in kernel dump order. */
export async function mainRoutes(netns: string | undefined): Promise<IpRoute[]> {
  return parseRoutes(
    await runJson(["ip", "-4", "-j", "-d", "-N", "route", "show", "table", "main"], { netns }),
  );
}

/** IPv4 routes of every table (main, local, policy tables), as mainRoutes. */
export async function allRoutes(netns: string | undefined): Promise<IpRoute[]> {
  return parseRoutes(
    await runJson(["ip", "-4", "-j", "-d", "-N", "route", "show", "table", "all"], { netns }),
  );
}

/** All links with details (kind, vxlan data) and addresses. */
export async function links(netns: string | undefined): Promise<IpLink[]> {
  return parseLinks(await runJson(["ip", "-j", "-d", "addr", "show"], { netns }));
}

/** One link with its addresses, or undefined when it does not exist. */
export async function findLink(netns: string | undefined, name: string): Promise<IpLink | undefined> {
  let json: unknown;
  try {
    json = await runJson(["ip", "-j", "-d", "addr", "show", "dev", name], { netns });
  } catch (err) {
    if (err instanceof CommandError && /does not exist|Cannot find device/.test(err.stderr)) return undefined;
    throw err;
  }
  return parseLinks(json).find((l) => l.ifname === name);
}

/** The IPv4 neighbours on `dev` in state permanent. */
export async function permanentNeighbors(netns: string | undefined, dev: string): Promise<IpNeighbor[]> {
  const json = await runJson(["ip", "-4", "-j", "neigh", "show", "dev", dev, "nud", "permanent"], { netns });
  return parseNeighbors(json, dev).filter((n) => n.states.includes("permanent"));
}

/** The egress device for `dst` as the routing table decides it. */
export async function routeDevice(netns: string | undefined, dst: string): Promise<string> {
  const json = await runJson(["ip", "-4", "-j", "route", "get", dst], { netns });
  const dev = parseRoutes(json)[0]?.dev ?? "";
  if (dev === "") throw new Error(`ip route get ${dst}: no device`);
  return dev;
}
