// The local provider's choice of address range, run for real: `caa serve` inside a network
// namespace this test creates, whose interfaces already use some of the candidate ranges
// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24). The daemon takes the first free one, keeps it
// across a restart, refuses when none is free or LOCAL_VM_SUBNET clashes (naming the interface),
// and reuses or removes bridges of ours that an earlier run left, never adding a second one.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { agentHealth } from "../../src/cli/agent-health.ts";
import { createVM, newSandboxId, podAnnotations, startVM, stopVM } from "../../src/cli/sandbox.ts";
import {
  CLI,
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
const NS = `c11s-${sfx}`;
const BRIDGE = `c11b${sfx}`;
const skip = needsRoot();

const ipn = ipIn(NS);

interface Bridge {
  ifname: string;
  ifalias?: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

async function bridges(): Promise<Bridge[]> {
  return JSON.parse(await ipn("-j", "addr", "show", "type", "bridge")) as Bridge[];
}

function addresses(b: Bridge | undefined): string[] {
  return (b?.addr_info ?? []).filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`);
}

/** An interface (a veth: no dummy module here) holding `cidr`, as a host's eth0 or VPN would. */
async function occupy(name: string, cidr: string): Promise<void> {
  await ipn("link", "add", name, "type", "veth", "peer", "name", `${name}p`);
  await ipn("link", "set", `${name}p`, "up");
  await ipn("addr", "add", cidr, "dev", name);
  await ipn("link", "set", name, "up");
}

describe("the local provider's address range", { skip }, () => {
  let dir = "";
  let env: Record<string, string> = {};
  const daemons: DaemonProcess[] = [];

  const serve = async (extra: Record<string, string> = {}): Promise<DaemonProcess> => {
    const d = await startDaemon(dir, { ...env, ...extra }, 30_000, { netns: NS });
    daemons.push(d);
    return d;
  };
  /** The start-up error of a daemon that must refuse to start. */
  const refusal = async (extra: Record<string, string> = {}): Promise<string> => {
    const err = await serve(extra).then(
      () => assert.fail("caa serve started"),
      (e: unknown) => e as Error,
    );
    return err.message;
  };

  before(async () => {
    await exec("ip", ["netns", "add", NS]);
    await ipn("link", "set", "lo", "up");
  });
  after(async () => {
    await exec("ip", ["netns", "del", NS]).catch(() => undefined);
  });
  beforeEach(async () => {
    dir = await makeDaemonDir();
    await mkdir(join(dir, "state"), { recursive: true });
    env = daemonEnv(dir, { LOCAL_VM_SUBNET: "", LOCAL_BRIDGE: BRIDGE });
  });
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: "" });
    for (const l of JSON.parse(await ipn("-j", "link", "show")) as { ifname: string }[]) {
      if (l.ifname !== "lo") await ipn("link", "del", l.ifname).catch(() => undefined);
    }
  });

  test("takes the first candidate no interface uses, and logs it", async () => {
    await occupy("eth0", "192.0.2.2/24");
    const d = await serve();
    const [b, ...more] = await bridges();
    assert.equal(more.length, 0);
    assert.equal(b.ifname, BRIDGE);
    assert.deepEqual(addresses(b), ["198.51.100.1/24"]);
    assert.match(
      d.logs(),
      /bridge c11b\w+ with range 198\.51\.100\.0\/24 \(first free range; 192\.0\.2\.0\/24 is used \(address 192\.0\.2\.2\/24 on eth0/,
    );
  });

  test("a route counts as a use: with the first two taken it takes 203.0.113.0/24", async () => {
    await occupy("eth0", "192.0.2.2/24");
    await occupy("vpn0", "10.9.0.1/32");
    await ipn("route", "add", "198.51.100.0/25", "dev", "vpn0");
    await serve();
    assert.deepEqual(addresses((await bridges())[0]), ["203.0.113.1/24"]);
  });

  test("refuses to start when every candidate is used, naming each interface and LOCAL_VM_SUBNET", async () => {
    await occupy("eth0", "192.0.2.2/24");
    await occupy("eth1", "198.51.100.7/24");
    await occupy("wg0", "203.0.113.200/29");
    const msg = await refusal();
    assert.match(msg, /no free address range for local VMs/);
    assert.match(msg, /192\.0\.2\.0\/24 is used \(address 192\.0\.2\.2\/24 on eth0/);
    assert.match(msg, /198\.51\.100\.0\/24 is used \(address 198\.51\.100\.7\/24 on eth1/);
    assert.match(msg, /203\.0\.113\.0\/24 is used \(address 203\.0\.113\.200\/29 on wg0/);
    assert.match(msg, /set LOCAL_VM_SUBNET/);
    assert.deepEqual(await bridges(), [], "no bridge was made");
  });

  test("an explicit LOCAL_VM_SUBNET that overlaps the host's network is refused, naming the interface", async () => {
    await occupy("eth0", "192.0.2.2/24");
    const msg = await refusal({ LOCAL_VM_SUBNET: "192.0.2.128/28" });
    assert.match(
      msg,
      /LOCAL_VM_SUBNET 192\.0\.2\.128\/28 overlaps this host's network \(address 192\.0\.2\.2\/24 on eth0/,
    );
    assert.deepEqual(await bridges(), []);
    await serve({ LOCAL_VM_SUBNET: "10.77.0.0/24" });
    assert.deepEqual(addresses((await bridges())[0]), ["10.77.0.1/24"]);
  });

  test("a restart keeps the range, even when an earlier candidate has become free", async () => {
    await occupy("eth0", "192.0.2.2/24");
    const first = await serve();
    await first.kill("SIGTERM");
    await ipn("link", "del", "eth0p");
    const second = await serve();
    assert.deepEqual(addresses((await bridges())[0]), ["198.51.100.1/24"]);
    assert.match(second.logs(), /with range 198\.51\.100\.0\/24 \(kept from the last run\)/);
    // A whole lifecycle on the kept range, agent health check included.
    const { stdout } = await exec(
      "nsenter",
      [
        `--net=/run/netns/${NS}`,
        "--",
        process.execPath,
        CLI,
        "sandbox",
        "run",
        "--socket",
        second.socket,
        "--admin",
        "",
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.match(stdout, /✓ StartVM/);
    assert.match(stdout, /agent says SERVING/);
    assert.match(stdout, /✓ StopVM/);
  });

  test("a bridge of ours left by a killed daemon is reused, not duplicated", async () => {
    const first = await serve();
    await first.kill("SIGKILL");
    await serve();
    const all = await bridges();
    assert.deepEqual(
      all.map((b) => [b.ifname, addresses(b)]),
      [[BRIDGE, ["192.0.2.1/24"]]],
    );
  });

  test("a bridge of ours under another name is removed, its running VM moved to the new one", async () => {
    const old = `c11o${sfx}`;
    const first = await serve({ LOCAL_BRIDGE: old });
    const shim = { socket: first.socket };
    const id = newSandboxId();
    const agentSocket = await createVM(shim, id, podAnnotations("moved", "default"), "");
    await startVM(shim, id);
    await first.kill("SIGKILL");
    const second = await serve();
    const all = await bridges();
    assert.deepEqual(
      all.map((b) => [b.ifname, addresses(b)]),
      [[BRIDGE, ["192.0.2.1/24"]]],
    );
    assert.match(second.logs(), new RegExp(`removed bridge ${old} of an earlier run`));
    const ports = JSON.parse(await ipn("-j", "link", "show", "master", BRIDGE)) as unknown[];
    assert.equal(ports.length, 1, "the VM's veth is on the new bridge");
    assert.equal(await agentHealth(agentSocket), "SERVING");
    await stopVM(shim, id);
  });

  test("a stale bridge whose owner is gone is removed, and its range is free again", async () => {
    const stale = `c11z${sfx}`;
    await ipn("link", "add", stale, "type", "bridge");
    await ipn("link", "set", stale, "alias", "peerpod-caa local provider, state /nonexistent/provider-local");
    await ipn("addr", "add", "192.0.2.1/24", "dev", stale);
    await ipn("link", "set", stale, "up");
    await serve();
    const all = await bridges();
    assert.deepEqual(
      all.map((b) => [b.ifname, addresses(b)]),
      [[BRIDGE, ["192.0.2.1/24"]]],
    );
  });

  test("a bridge of our name owned by another live daemon is refused", async () => {
    const otherDir = await makeDaemonDir();
    try {
      await ipn("link", "add", BRIDGE, "type", "bridge");
      await ipn("link", "set", BRIDGE, "alias", `peerpod-caa local provider, state ${otherDir}`);
      const msg = await refusal();
      assert.match(msg, new RegExp(`bridge ${BRIDGE} belongs to another local provider.*set LOCAL_BRIDGE`));
    } finally {
      await cleanupDaemon({ dir: otherDir, bridge: "" });
    }
  });
});
