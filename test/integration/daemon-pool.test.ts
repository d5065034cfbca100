// `caa serve` with a warm pool on the local provider: pooled VMs boot with generic user-data and
// the pool role, StartVM on a hit claims one without a create, the pool refills, a burst larger
// than the pool goes cold after the hits, the leak collector leaves recorded pool VMs alone and
// collects an unrecorded one, `caa sandbox run` says hit or miss, and turning the pool off deletes
// what it left.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { goShimLifecycle } from "../helpers/go-peer.ts";
import {
  CLI,
  cleanupDaemon,
  daemonEnv,
  freePort,
  makeDaemonDir,
  startDaemon,
  type DaemonProcess,
} from "../helpers/daemon.ts";
import { localVms as cloudVms, poolVms, readyPoolVms as ready, until } from "../helpers/pool.ts";

const exec = promisify(execFile);
const POD = { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "default" };

function createdLines(logs: string): number {
  return logs.split("\n").filter((l) => l.includes("created an instance")).length;
}

describe("caa serve with a warm pool (local provider)", () => {
  let dir: string;
  let daemon: DaemonProcess;
  let ops: string;

  before(async () => {
    dir = await makeDaemonDir();
    const port = await freePort();
    ops = `http://127.0.0.1:${port}`;
    daemon = await startDaemon(
      dir,
      daemonEnv(dir, {
        PROBE_PORT: String(port),
        POOL_SIZE: "2",
        LEAK_INTERVAL: "0",
        LOCAL_BOOT_DELAY: "1s",
      }),
    );
  });

  after(async () => {
    await daemon?.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: daemon?.bridge ?? "" });
  });

  test("pooled VMs boot with generic user-data and carry the owner tags plus the pool role", async () => {
    const vms = await ready(ops, 2);
    const cloud = await cloudVms(daemon.stateDir);
    for (const vm of vms) {
      const rec = cloud.find((c) => c.id === vm.instanceId);
      assert.ok(rec, `${vm.instanceId} exists`);
      assert.equal(rec.tags["peerpod-role"], "pool");
      assert.equal(rec.tags["peerpod-cluster"], "peerpods");
      assert.equal(rec.tags["peerpod-sandbox-id"], vm.slot);
      const userData = await readFile(
        join(daemon.stateDir, "provider-local", vm.instanceId!, "cidata", "user-data"),
        "utf8",
      );
      assert.match(userData, /path: \/run\/peerpod\/pool-bootstrap\.json/);
      assert.doesNotMatch(userData, /apf\.json|auth\.json|initdata|pod-name/);
    }
  });

  test("StartVM on a hit takes a pooled VM without a create call, the agent answers, and the pool refills", async () => {
    const before = await ready(ops, 2);
    const createsBefore = createdLines(daemon.logs());
    const id = randomBytes(32).toString("hex");
    const steps = await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create", "start"] });
    assert.deepEqual(
      steps.map((s) => s.code),
      [0, 0],
      JSON.stringify(steps),
    );
    const view = (await (await fetch(`${ops}/v1/sandboxes/${id}`)).json()) as {
      pooled?: boolean;
      instanceId?: string;
      stage: string;
    };
    assert.equal(view.stage, "running");
    assert.equal(view.pooled, true);
    assert.ok(
      before.some((v) => v.instanceId === view.instanceId),
      "the instance is one of the pooled VMs",
    );
    assert.equal(createdLines(daemon.logs()), createsBefore, "no create for the sandbox");
    assert.match(daemon.logs(), new RegExp(`took pooled instance podvm-pool-[0-9a-f]+ for sandbox ${id}`));

    const refilled = await ready(ops, 2);
    assert.ok(
      refilled.every((v) => v.instanceId !== view.instanceId),
      "the claimed VM left the pool",
    );
    const metrics = await (await fetch(`${ops}/metrics`)).text();
    assert.match(metrics, /caa_pool_claims_total\{key="local.medium",result="hit"\} 1/);
    assert.match(metrics, /caa_pool_bind_duration_seconds_count\{key="local.medium",outcome="ok"\} 1/);
    assert.match(metrics, /caa_pool_vms\{key="local.medium",state="ready"\} 2/);

    const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
    assert.equal(stop.code, 0);
    assert.ok(!(await cloudVms(daemon.stateDir)).some((c) => c.id === view.instanceId), "StopVM deleted it");
  });

  test("a burst larger than the pool: hits first, then cold starts, all succeed; the pool refills to its size", async () => {
    await ready(ops, 2);
    const ids = [0, 1, 2, 3].map(() => randomBytes(32).toString("hex"));
    const results = await Promise.all(
      ids.map((id) => goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create", "start"] })),
    );
    for (const r of results)
      assert.deepEqual(
        r.map((s) => s.code),
        [0, 0],
        JSON.stringify(r),
      );
    const views = await Promise.all(
      ids.map(
        async (id) => (await (await fetch(`${ops}/v1/sandboxes/${id}`)).json()) as { pooled?: boolean },
      ),
    );
    assert.equal(views.filter((v) => v.pooled === true).length, 2, "two hits");
    assert.equal(views.filter((v) => v.pooled !== true).length, 2, "two cold starts");
    await ready(ops, 2);
    for (const id of ids)
      assert.equal((await goShimLifecycle(daemon.socket, { id, steps: ["stop"] }))[0].code, 0);
  });

  test("caa sandbox run says whether StartVM hit the pool: two runs take the pooled VMs, a third goes cold", async () => {
    await ready(ops, 2);
    const run = (pod: string) =>
      exec(
        process.execPath,
        [CLI, "sandbox", "run", "--socket", daemon.socket, "--admin", ops, "--pod", pod],
        {
          encoding: "utf8",
          timeout: 120_000,
        },
      );
    const outs = (await Promise.all(["warm-a", "warm-b", "warm-c"].map(run))).map((r) => r.stdout);
    for (const out of outs) {
      assert.match(out, /agent says SERVING/);
      assert.match(out, /✓ StopVM/);
    }
    const said = outs.map((o) => /warm pool: (hit|miss)/.exec(o)?.[1]).sort();
    assert.deepEqual(said, ["hit", "hit", "miss"], outs.join("\n"));
    assert.ok(outs.some((o) => o.includes("warm pool: hit (claimed a pooled VM, no create call)")));
    await ready(ops, 2);
  });

  test("the leak collector keeps recorded pooled VMs and deletes a pool VM nobody records", async () => {
    const vms = await ready(ops, 2);
    await daemon.kill("SIGTERM");
    // Forget one pooled VM, as if its record were lost: it is now a leak.
    const lost = vms[0];
    await rm(join(daemon.stateDir, "pool", `${lost.slot}.json`));
    const port = await freePort();
    ops = `http://127.0.0.1:${port}`;
    daemon = await startDaemon(
      dir,
      daemonEnv(dir, {
        ...daemon.env,
        PROBE_PORT: String(port),
        LEAK_INTERVAL: "1s",
        LEAK_GRACE_PERIOD: "0s",
      }),
    );
    await until("the unrecorded pool VM is deleted", async () =>
      (await cloudVms(daemon.stateDir)).some((c) => c.id === lost.instanceId) ? undefined : true,
    );
    const kept = (await poolVms(ops)).map((v) => v.instanceId);
    assert.ok(
      kept.includes(vms[1].instanceId),
      "the recorded pooled VM survived the restart and the collector",
    );
    assert.match(daemon.logs(), new RegExp(`deleted leaked instance ${lost.instanceId}`));
  });

  test("restarted with POOL_SIZE empty, the daemon deletes the pooled VMs it left", async () => {
    await ready(ops, 2);
    await daemon.kill("SIGTERM");
    const port = await freePort();
    daemon = await startDaemon(
      dir,
      daemonEnv(dir, { ...daemon.env, PROBE_PORT: String(port), POOL_SIZE: "" }),
    );
    assert.deepEqual(
      (await cloudVms(daemon.stateDir)).filter((c) => c.tags["peerpod-role"] === "pool"),
      [],
      daemon.logs(),
    );
  });
});
