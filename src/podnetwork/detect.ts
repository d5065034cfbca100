// The pod VM's own network, which may still be coming up when the forwarder starts: upstream polls
// once a second for up to 3 minutes (CAA `pkg/podnetwork/podnode.go` detectPrimaryInterface/detectIP).
import { setTimeout as sleep } from "node:timers/promises";
import { findLink } from "./iproute.ts";
import { findPrimaryInterface } from "./primary.ts";

export interface DetectOptions {
  netns: string | undefined;
  label: string;
  timeoutMs: number;
  intervalMs: number;
}

async function poll<T>(
  opts: DetectOptions,
  attempt: () => Promise<T | undefined>,
  timeoutMsg: () => string,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const found = await attempt();
    if (found !== undefined) return found;
    if (Date.now() >= deadline) throw new Error(timeoutMsg());
    await sleep(Math.min(opts.intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** The primary interface, once a default route exists. */
export async function detectPrimaryInterface(opts: DetectOptions): Promise<string> {
  return poll(
    opts,
    async () =>
      findPrimaryInterface(opts.netns, opts.label).then(
        (p) => p.dev,
        () => undefined,
      ),
    () => `failed to identify primary interface on netns ${opts.label} within ${opts.timeoutMs} ms`,
  );
}

/** The single IPv4 address of `dev`, once assigned; more than one is an error (as upstream). */
export async function detectIp(opts: DetectOptions, dev: string): Promise<string> {
  return poll(
    opts,
    async () => {
      const link = await findLink(opts.netns, dev);
      if (link === undefined) throw new Error(`failed to find host interface ${dev} on netns ${opts.label}`);
      const ipv4 = link.addrs.filter((a) => a.family === "inet");
      if (ipv4.length > 1)
        throw new Error(`more than one IP address assigned on ${dev} (netns: ${opts.label})`);
      return ipv4[0]?.local;
    },
    () => `failed to identify IP address assigned to host interface ${dev} on netns ${opts.label}`,
  );
}
