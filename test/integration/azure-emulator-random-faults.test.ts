// The ARM emulator's faults at a rate (the chaos harness's Azure target): each kind does what it
// says, on the requests it applies to, at about the configured share, the same way for a seed.
import assert from "node:assert/strict";
import { request } from "node:https";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import azure from "../../providers/azure/index.ts";
import { InsufficientCapacityError } from "../../providers/errors.ts";
import { silentLogger } from "../../src/log/logger.ts";
import {
  azureProviderEnv,
  startArmEmulator,
  trustCaInProcess,
  type ArmEmulator,
} from "../azure-emulator/index.ts";

describe("ARM emulator random faults", () => {
  let emu: ArmEmulator;

  before(async () => {
    emu = await startArmEmulator({ requireAuth: false, lroDelayMs: 20 });
    trustCaInProcess(emu.caPem);
  });
  after(() => emu.stop());

  const listUrl = () =>
    `/subscriptions/${emu.subscriptionId}/resourceGroups/${emu.resourceGroup}/providers/Microsoft.Compute/virtualMachines?api-version=2024-11-01`;

  /** One GET of the VM list: its status and Retry-After, or "dropped". */
  function list(): Promise<{ status: number; retryAfter?: string } | "dropped"> {
    return new Promise((resolve) => {
      const r = request(new URL(listUrl(), emu.url), { ca: emu.caPem, agent: false }, (res) => {
        res.resume();
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string }),
        );
      });
      r.on("error", () => resolve("dropped"));
      r.end();
    });
  }

  test("throttle answers 429 with Retry-After; unavailable 503; drops close the connection", async () => {
    emu.setFaults({ random: { rate: 1, kinds: ["throttle"], retryAfterSec: 3 } });
    assert.deepEqual(await list(), { status: 429, retryAfter: "3" });
    emu.setFaults({ random: { rate: 1, kinds: ["unavailable"] } });
    assert.equal(((await list()) as { status: number }).status, 503);
    emu.setFaults({ random: { rate: 1, kinds: ["drop-before", "drop-after"] } });
    assert.equal(await list(), "dropped");
    assert.equal(emu.requests.at(-1)?.status, 0, "recorded as dropped");
    emu.setFaults({ random: { rate: 1, kinds: ["slow"], slowMs: 300 } });
    const began = Date.now();
    assert.equal(((await list()) as { status: number }).status, 200);
    assert.ok(Date.now() - began >= 300, "held for slowMs");
    emu.setFaults({});
  });

  test("about `rate` of the requests are hit, by the same schedule for the same seed", async () => {
    const run = async (seed: number): Promise<string> => {
      emu.setFaults({ random: { rate: 0.3, seed, kinds: ["unavailable"] } });
      let schedule = "";
      for (let i = 0; i < 100; i++) {
        const a = await list();
        schedule += a === "dropped" ? "x" : a.status === 503 ? "F" : ".";
      }
      return schedule;
    };
    const firedBefore = emu.faultsFired["random.unavailable"] ?? 0;
    const first = await run(42);
    const hits = [...first].filter((c) => c === "F").length;
    assert.ok(hits >= 15 && hits <= 45, `${hits} of 100 hit at rate 0.3`);
    assert.equal(emu.faultsFired["random.unavailable"] - firedBefore, hits);
    assert.equal(await run(42), first, "the same seed, the same schedule");
    assert.notEqual(await run(43), first);
    emu.setFaults({});
  });

  test("capacity hits only VM creates: the create ends AllocationFailed and the provider leaves nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "emu-faults-"));
    const provider = await azure.create(azureProviderEnv(emu), { logger: silentLogger(), stateDir: dir });
    try {
      await provider.start({ verify: false });
      emu.setFaults({ random: { rate: 1, kinds: ["capacity"] } });
      assert.equal(((await list()) as { status: number }).status, 200, "a GET is never a capacity fault");
      const sandboxId = "cafe0000cafe0000";
      await assert.rejects(
        provider.create({
          name: `podvm-cap-${sandboxId.slice(0, 8)}`,
          userData: "#cloud-config\n",
          spec: { instanceType: "", vcpus: 0, memoryMiB: 0, gpus: 0, image: "" },
          owner: { cluster: "c", node: "n", sandboxId, podName: "cap", podNamespace: "default" },
        }),
        (err: unknown) => err instanceof InsufficientCapacityError && /AllocationFailed/.test(String(err)),
      );
      assert.equal(emu.faultsFired["random.capacity"], 1, "one create, one fault");
      assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
    } finally {
      emu.setFaults({});
      await provider.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
