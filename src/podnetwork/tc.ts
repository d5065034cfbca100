// tc ingress redirects that bridge the pod's veth and the tunnel at L2 (docs/upstream-compat.md §4.2 step 4,
// CAA `pkg/util/netops/netops.go` RedirectAdd/RedirectDel): an ingress qdisc plus a u32 match-all
// filter (protocol all, parent ffff:) with `mirred egress redirect` (TC_ACT_STOLEN).
import { run, runJson } from "./exec.ts";
import { findLink } from "./iproute.ts";

/** Adds the qdisc and filter on `src`; if the filter fails, the qdisc it added is removed again. */
export async function addRedirect(netns: string, src: string, dst: string): Promise<void> {
  await run(["tc", "qdisc", "add", "dev", src, "ingress"], { netns });
  try {
    await run(
      [
        "tc",
        "filter",
        "add",
        "dev",
        src,
        "parent",
        "ffff:",
        "protocol",
        "all",
        "u32",
        "match",
        "u32",
        "0",
        "0",
      ].concat(["action", "mirred", "egress", "redirect", "dev", dst]),
      { netns },
    );
  } catch (err) {
    await run(["tc", "qdisc", "del", "dev", src, "ingress"], { netns }).catch(() => undefined);
    throw err;
  }
}

/** True when `dev` has an ingress qdisc. */
async function hasIngress(netns: string, dev: string): Promise<boolean> {
  const qdiscs = await runJson(["tc", "-j", "qdisc", "show", "dev", dev], { netns });
  return Array.isArray(qdiscs) && qdiscs.some((q) => (q as { kind?: unknown }).kind === "ingress");
}

/** Deletes the ingress qdisc (and with it its filters); a no-op when the device or qdisc is gone. */
export async function removeRedirect(netns: string, src: string): Promise<void> {
  if ((await findLink(netns, src)) === undefined) return;
  if (!(await hasIngress(netns, src))) return;
  await run(["tc", "qdisc", "del", "dev", src, "ingress"], { netns });
}
