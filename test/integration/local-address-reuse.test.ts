// The local provider hands a deleted VM's address to the next VM at once. The host's neighbour
// entry for that address lives on the bridge, which stays up while other VMs are on it, and still
// named the deleted VM's MAC: the next VM got no packet until the entry expired (15-45 s, then
// 8 s of probes), so its StartVM waited that long for the agent, or failed on a shorter
// PROXY_TIMEOUT (the chaos harness's disk-full scenario, where a VM that died booting on the full
// disk was deleted and its address reused a second later). Run for real: `caa serve` inside a
// network namespace this test creates, VMs booting the pod-VM side.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { agentHealth } from "../../src/cli/agent-health.ts";
import { createVM, newSandboxId, podAnnotations, startVM, stopVM } from "../../src/cli/sandbox.ts";
import {
  cleanupDaemon,
  daemonEnv,
  makeDaemonDir,
  startDaemon,
  type DaemonProcess,
} from "../helpers/daemon.ts";
import { ipIn } from "../helpers/ip-in-netns.ts";
import { needsRoot } from "../helpers/requires.ts";

const exec = promisify(execFile);
const sfx = randomBytes(3).toString("hex");
const NS = `c12s-${sfx}`;
const BRIDGE = `c12b${sfx}`;

const ipn = ipIn(NS);

/** The MAC the host's neighbour entry for `ip` names, if it has one. */
async function neighbourMac(ip: string): Promise<string | undefined> {
  const entries = JSON.parse(await ipn("-j", "neigh", "show", "to", ip, "dev", BRIDGE)) as {
    lladdr?: string;
  }[];
  return entries[0]?.lladdr;
}

let dir = "";
let daemon: DaemonProcess | undefined;

before(async () => {
  await exec("ip", ["netns", "add", NS]);
  await ipn("link", "set", "lo", "up");
  dir = await makeDaemonDir();
});
after(async () => {
  await daemon?.kill("SIGTERM");
  await cleanupDaemon({ dir, bridge: "" });
  await exec("ip", ["netns", "del", NS]).catch(() => undefined);
});

test(
  "a VM given the address of one deleted a moment ago is reached at once",
  { skip: needsRoot() },
  async () => {
    const env = daemonEnv(dir, {
      LOCAL_VM_SUBNET: "10.78.0.0/24",
      LOCAL_BRIDGE: BRIDGE,
      // Shorter than the stale entry lived (at least 23 s), longer than a VM's boot on a loaded machine.
      PROXY_TIMEOUT: "20s",
    });
    daemon = await startDaemon(dir, env, 60_000, { netns: NS });
    const shim = { socket: daemon.socket };
    const vms = join(env.STATE_DIR, "provider-local");
    /** The local provider's records of the VMs that exist now, by sandbox id. */
    const vmRecords = async () => {
      const out = new Map<string, { ip: string; netns: string }>();
      for (const name of (await readdir(vms)).filter((n) => n.endsWith(".json"))) {
        const rec = JSON.parse(await readFile(join(vms, name), "utf8")) as {
          ip: string;
          netns: string;
          tags: Record<string, string>;
        };
        out.set(rec.tags["peerpod-sandbox-id"], rec);
      }
      return out;
    };
    const run = async (name: string) => {
      const id = newSandboxId();
      const agentSocket = await createVM(shim, id, podAnnotations(name, "default"), "");
      await startVM(shim, id);
      assert.equal(await agentHealth(agentSocket), "SERVING", `${name} answers through its agent socket`);
      return id;
    };

    // One VM stays on the bridge throughout (so the bridge stays up, as on any busy node).
    await run("keeper");
    const first = await run("first");
    const { ip, netns } = (await vmRecords()).get(first)!;
    const { stdout } = await exec("ip", ["-n", netns, "-j", "link", "show", "eth0"], { encoding: "utf8" });
    const firstMac = (JSON.parse(stdout) as { address: string }[])[0].address;
    assert.equal(await neighbourMac(ip), firstMac, "the host talked to the first VM");
    await stopVM(shim, first);

    const second = await run("second");
    assert.equal((await vmRecords()).get(second)?.ip, ip, "the second VM got the first one's address");
    assert.notEqual(await neighbourMac(ip), firstMac, "the host no longer sends to the first VM's MAC");
  },
);
