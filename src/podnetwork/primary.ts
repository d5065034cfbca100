// The primary interface of a netns, chosen exactly as upstream does (CAA `pkg/podnetwork/common.go`
// findPrimaryInterface, docs/upstream-compat.md §4.1): the device of the first IPv4 default route listed; a
// later default route replaces it only if its device has the same name prefix and a lower numeric
// suffix (eth1 → eth0). Route metrics are ignored, because upstream's `priority` is never updated.
import type { IpRoute } from "./iproute-parse.ts";
import { mainRoutes } from "./iproute.ts";

/** "ens10" → { prefix: "ens", num: 10 }; no digits or a non-numeric tail ("eth0.5") → MAX. */
export function interfaceNumber(iface: string): { prefix: string; num: number } {
  const idx = iface.search(/\d/);
  if (idx === -1) return { prefix: iface, num: Number.MAX_SAFE_INTEGER };
  const tail = iface.slice(idx);
  return {
    prefix: iface.slice(0, idx),
    num: /^\d+$/.test(tail) ? Number(tail) : Number.MAX_SAFE_INTEGER,
  };
}

export interface PrimaryInterface {
  dev: string;
  /** The gateway of the chosen default route, "" if none. */
  gateway: string;
}

/** Applies upstream's rule to routes in kernel dump order; undefined when there is no default route. */
export function choosePrimary(routes: readonly IpRoute[]): PrimaryInterface | undefined {
  let chosen: PrimaryInterface | undefined;
  let chosenPrefix = "";
  let chosenNum = Number.MAX_SAFE_INTEGER;
  for (const r of routes) {
    if (r.dst !== "0.0.0.0/0") continue;
    const { prefix, num } = interfaceNumber(r.dev);
    if (chosen === undefined || chosen.dev === "" || (prefix === chosenPrefix && num < chosenNum)) {
      chosen = { dev: r.dev, gateway: r.gateway };
      chosenPrefix = prefix;
      chosenNum = num;
    }
  }
  return chosen?.dev ? chosen : undefined;
}

/** The primary interface of `netns` (undefined = current); throws upstream's message when none. */
export async function findPrimaryInterface(
  netns: string | undefined,
  label: string,
): Promise<PrimaryInterface> {
  const primary = choosePrimary(await mainRoutes(netns));
  if (primary === undefined) {
    throw new Error(`failed to identify primary interface on network namespace ${JSON.stringify(label)}`);
  }
  return primary;
}
