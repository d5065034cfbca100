// kill -9 of `caa serve` with pooled VMs and a bind in flight (local provider). The claimed VM's
// forwarder is frozen (SIGSTOP) so the bind is held inside its TLS handshake; the daemon dies
// there, with a refill create just made. The next daemon keeps the unclaimed pooled VM as it was,
// deletes the VM of the interrupted claim (its StartVM is undone), refills, and leaves no process,
// namespace, link or record behind.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { goShimLifecycle } from "../helpers/go-peer.ts";
import {
  cleanupDaemon,
  daemonEnv,
  freePort,
  makeDaemonDir,
  processesMentioning,
  startDaemon,
  vmNamespaces,
} from "../helpers/daemon.ts";
import { localVms, poolVms, readyPoolVms, until, type LocalVmRecord } from "../helpers/pool.ts";

const POD = { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "default" };

/** Running, stopped or sleeping; not gone and not a zombie nobody reaped yet. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function hostLinks(): string[] {
  const out = JSON.parse(execFileSync("ip", ["-j", "link", "show"], { encoding: "utf8" })) as {
    ifname: string;
  }[];
  return out.map((l) => l.ifname);
}

/** TCP connections from this host's namespace to ip:port (the daemon's bind, held by the frozen VM). */
function connectionsTo(ip: string, port: number): string[] {
  return execFileSync("ss", ["-Htn", "dst", `${ip}:${port}`], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.trim() !== "");
}

interface View {
  stage: string;
  instanceId?: string;
  lastError?: { stage: string; message: string };
}

async function sandboxView(ops: string, id: string): Promise<View> {
  return (await (await fetch(`${ops}/v1/sandboxes/${id}`)).json()) as View;
}

test("kill -9 with pooled VMs and a bind in flight: pooled VMs stay pooled, the claimed VM is deleted, nothing leaks", async () => {
  const dir = await makeDaemonDir();
  const opsPort = await freePort();
  const env = daemonEnv(dir, { PROBE_PORT: String(opsPort), POOL_SIZE: "2", LOCAL_BOOT_DELAY: "2s" });
  let ops = `http://127.0.0.1:${opsPort}`;
  let daemon = await startDaemon(dir, env);
  let frozen: LocalVmRecord | undefined;
  const seen = new Map<string, LocalVmRecord>();
  const remember = async () => {
    for (const vm of await localVms(daemon.stateDir)) seen.set(vm.id, vm);
  };
  try {
    const ready = await readyPoolVms(ops, 2);
    await remember();
    // The pool hands out its oldest ready VM: freeze that one's forwarder.
    const [claimed, kept] = ready.sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
    frozen = seen.get(claimed.instanceId!);
    assert.ok(frozen?.process, "the claimed VM runs a process");
    const keptPid = seen.get(kept.instanceId!)?.process?.pid;
    assert.ok(keptPid !== undefined && alive(keptPid));
    process.kill(frozen.process.pid, "SIGSTOP");

    const id = randomBytes(32).toString("hex");
    const [create] = await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create"] });
    assert.equal(create.code, 0, create.message);
    const start = goShimLifecycle(daemon.socket, { id, steps: ["start"] }).catch(() => []);
    // The claim is on the sandbox's record, the bind's connection is open and unanswered, and the
    // refill the claim started has made its VM.
    await until("the sandbox holds the claimed VM", async () =>
      (await sandboxView(ops, id)).instanceId === claimed.instanceId ? true : undefined,
    );
    assert.equal((await poolVms(ops)).find((v) => v.slot === claimed.slot)?.state, "claimed");
    await until("the bind's connection to the frozen VM", async () =>
      connectionsTo(claimed.ips[0], 15150).length > 0 ? true : undefined,
    );
    const refill = await until("the refill's VM", async () =>
      (await poolVms(ops)).find((v) => v.state === "booting" && v.instanceId !== undefined),
    );
    assert.equal((await sandboxView(ops, id)).stage, "provisioning", "StartVM is still binding");
    await remember();

    await daemon.kill("SIGKILL");
    await start;
    process.kill(frozen.process.pid, "SIGCONT");

    const opsPort2 = await freePort();
    ops = `http://127.0.0.1:${opsPort2}`;
    daemon = await startDaemon(dir, { ...env, PROBE_PORT: String(opsPort2) });
    assert.match(daemon.logs(), /undid a StartVM interrupted by a restart/);

    // The interrupted claim: its VM is deleted, down to its process, namespace and link.
    const after = await sandboxView(ops, id);
    assert.equal(after.instanceId, undefined);
    assert.match(after.lastError?.message ?? "", /daemon restarted during StartVM \(provisioning\)/);
    assert.ok(!(await localVms(daemon.stateDir)).some((v) => v.id === claimed.instanceId));
    assert.ok(!alive(frozen.process.pid), "the claimed VM's process is gone");
    assert.ok(!vmNamespaces(env.LOCAL_NETNS_PREFIX).includes(frozen.netns!), "its namespace is gone");
    assert.ok(!hostLinks().includes(frozen.hostVeth!), "its host link is gone");

    // The pool as it was: the unclaimed VM untouched (same process), the refill's VM followed to
    // ready, and the claim's record gone.
    const pool = await readyPoolVms(ops, 2);
    assert.deepEqual(pool.map((v) => v.instanceId).sort(), [kept.instanceId, refill.instanceId].sort());
    assert.equal(seen.get(kept.instanceId!)?.process?.pid, keptPid);
    assert.ok(alive(keptPid), "the pooled VM kept running across the restart");
    assert.ok(!(await poolVms(ops)).some((v) => v.state === "claimed"));
    // Every VM the cloud holds is one the pool records.
    assert.deepEqual(
      (await localVms(daemon.stateDir)).map((v) => v.id).sort(),
      (await poolVms(ops)).map((v) => v.instanceId).sort(),
    );

    // The shim's StopVM of the undone sandbox, then uninstall: nothing of any of it remains.
    const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
    assert.equal(stop.code, 0, stop.message);
    const drained = (await (await fetch(`${ops}/v1/pool`, { method: "DELETE" })).json()) as {
      deleted: number;
    };
    assert.equal(drained.deleted, 2);
    await remember();
    await daemon.kill("SIGTERM");
    assert.deepEqual(await localVms(daemon.stateDir), []);
    assert.deepEqual(await readdir(join(daemon.stateDir, "pool")), []);
    assert.deepEqual(vmNamespaces(env.LOCAL_NETNS_PREFIX), [], "no VM namespace left");
    const links = hostLinks();
    for (const vm of seen.values()) assert.ok(!links.includes(vm.hostVeth!), `${vm.hostVeth} is left`);
    assert.deepEqual(processesMentioning(dir), [], "no VM process left");
  } finally {
    if (frozen?.process && alive(frozen.process.pid)) process.kill(frozen.process.pid, "SIGCONT");
    await daemon.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
});
