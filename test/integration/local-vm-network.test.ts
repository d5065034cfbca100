// A local VM's network, made by two `ip -batch` runs (providers/local/vm-network.ts): what the VM
// and the host end up with, how a failed step is reported, and that nothing stays behind. Runs for
// real as root: a bridge of this test (no address, so the host routes nothing new) and the VM's
// namespace, both removed at the end.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { createVmNetwork, deleteVmNetwork, netnsExists } from "../../providers/local/vm-network.ts";
import { needsRoot } from "../helpers/requires.ts";

const exec = promisify(execFile);
const sfx = randomBytes(3).toString("hex");
const BRIDGE = `vnb${sfx}`;
const spec = (n: string, address: string) => ({
  netns: `vn-${sfx}-${n}`,
  hostVeth: `vnv${sfx}${n}`,
  address,
  prefix: 24,
  gateway: "203.0.113.1",
  bridge: BRIDGE,
});

async function ipJson<T>(...args: string[]): Promise<T> {
  return JSON.parse((await exec("ip", ["-j", ...args])).stdout) as T;
}

async function linkGone(name: string): Promise<boolean> {
  return exec("ip", ["link", "show", "dev", name]).then(
    () => false,
    () => true,
  );
}

before(async () => {
  if (needsRoot()) return;
  await exec("ip", ["link", "add", BRIDGE, "type", "bridge"]);
  await exec("ip", ["link", "set", BRIDGE, "up"]);
});
after(async () => {
  if (needsRoot()) return;
  for (const n of ["a", "b"]) await deleteVmNetwork([spec(n, "").netns], spec(n, "").hostVeth);
  await exec("ip", ["link", "del", BRIDGE]).catch(() => undefined);
});

test(
  "the VM gets eth0 with its address and a default route; its host end is up on the bridge",
  { skip: needsRoot() },
  async () => {
    const s = spec("a", "203.0.113.7");
    await createVmNetwork(s);
    const [eth0] = await ipJson<{ operstate: string; addr_info: { family: string; local: string }[] }[]>(
      "-n",
      s.netns,
      "addr",
      "show",
      "dev",
      "eth0",
    );
    assert.equal(eth0.operstate, "UP");
    assert.deepEqual(
      eth0.addr_info.filter((a) => a.family === "inet").map((a) => a.local),
      ["203.0.113.7"],
    );
    const [lo] = await ipJson<{ flags: string[] }[]>("-n", s.netns, "link", "show", "dev", "lo");
    assert.ok(lo.flags.includes("UP"), "lo is up in the VM");
    const routes = await ipJson<{ dst: string; gateway?: string; dev: string }[]>(
      "-n",
      s.netns,
      "route",
      "show",
      "default",
    );
    assert.deepEqual(
      routes.map((r) => [r.gateway, r.dev]),
      [["203.0.113.1", "eth0"]],
    );
    const [host] = await ipJson<{ master?: string; flags: string[] }[]>("link", "show", "dev", s.hostVeth);
    assert.equal(host.master, BRIDGE);
    assert.ok(host.flags.includes("UP"), "the host end is up");

    await deleteVmNetwork([s.netns], s.hostVeth);
    assert.equal(await netnsExists(s.netns), false);
    assert.ok(await linkGone(s.hostVeth), "the host end is deleted with the namespace");
    await deleteVmNetwork([s.netns], s.hostVeth);
  },
);

test(
  "a step that fails is named with ip's message, and the VM's namespace and veth are removed",
  { skip: needsRoot() },
  async () => {
    // A gateway outside the VM's subnet: the kernel refuses the second run's fourth command.
    const s = { ...spec("b", "203.0.113.8"), gateway: "198.51.100.1" };
    await assert.rejects(createVmNetwork(s), (err: Error) => {
      assert.match(
        err.message,
        new RegExp(`^ip -n ${s.netns} route add default via 198\\.51\\.100\\.1: \\S`),
      );
      assert.doesNotMatch(err.message, /Command failed/);
      return true;
    });
    assert.equal(await netnsExists(s.netns), false);
    assert.ok(await linkGone(s.hostVeth));

    // A command ip cannot parse stops it without saying which: the error lists the run's commands.
    const bad = spec("b", "203.0.113.300");
    await assert.rejects(createVmNetwork(bad), {
      message: /^ip -batch \(netns add vn-[^;]+; link add .*\): Error: .*203\.0\.113\.300/,
    });
    assert.equal(await netnsExists(bad.netns), false);
    assert.ok(await linkGone(bad.hostVeth));
  },
);
