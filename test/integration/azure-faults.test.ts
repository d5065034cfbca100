// Faults from the emulator's plan: each ends with one VM or nothing left in the emulator, and an
// error naming Azure's code. Throttling is checked by the request log's timing (when the retry
// came), never by how fast the test ran.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import azure from "../../providers/azure/index.ts";
import { generatedPublicKey } from "../../providers/azure/ssh-key.ts";
import {
  InsufficientCapacityError,
  PartialCreateError,
  ProviderError,
  ThrottledError,
} from "../../providers/errors.ts";
import type { CreateRequest, Provider } from "../../providers/types.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { createWithFallback } from "../../src/sandbox/capacity.ts";
import {
  azureProviderEnv,
  startArmEmulator,
  trustCaInProcess,
  type ArmEmulator,
} from "../azure-emulator/index.ts";
import type { VmPutBody } from "../azure-emulator/arm-types.ts";

const NOTHING = { vms: [], nics: [], publicIps: [], disks: [] };

let counter = 0;
function request(): CreateRequest {
  const sandboxId = `f${String(++counter).padStart(7, "0")}aabbccdd`;
  return {
    name: `podvm-web-${sandboxId.slice(0, 8)}`,
    userData: "#cloud-config\n",
    spec: { instanceType: "", vcpus: 0, memoryMiB: 0, gpus: 0, image: "" },
    owner: { cluster: "c1", node: "n1", sandboxId, podName: "web", podNamespace: "default" },
  };
}

async function rejectsWith<T extends ProviderError>(
  p: Promise<unknown>,
  type: new (...args: never[]) => T,
  code: string,
): Promise<T> {
  let caught: unknown;
  await p.then(
    () => assert.fail("expected a rejection"),
    (err: unknown) => (caught = err),
  );
  assert.ok(caught instanceof type, `expected ${type.name}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.match(caught.message, new RegExp(`Azure ${code}`), "the message names Azure's code");
  return caught;
}

describe("Azure provider under faults", () => {
  let emu: ArmEmulator;
  let dir: string;
  let keyFile: string;

  async function provider(
    extra: Record<string, string> = {},
    onCloudCall?: (provider: string, operation: string, outcome: string) => void,
  ): Promise<Provider> {
    const env = azureProviderEnv(emu, { AZURE_SSH_KEY_PATH: keyFile, ...extra });
    const p = await azure.create(env, { logger: silentLogger(), stateDir: dir, onCloudCall });
    await p.start({ verify: false });
    return p;
  }

  before(async () => {
    emu = await startArmEmulator({ lroDelayMs: 20 });
    trustCaInProcess(emu.caPem);
    dir = await mkdtemp(join(tmpdir(), "azure-faults-"));
    keyFile = join(dir, "id_rsa.pub");
    await writeFile(keyFile, (await generatedPublicKey(2048)) + "\n");
  });

  beforeEach(() => {
    emu.setFaults({});
    assert.deepEqual(emu.snapshot(), NOTHING, "each test starts with an empty resource group");
  });

  after(async () => {
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("AllocationFailed after the NIC and disk were made: all removed, InsufficientCapacityError", async () => {
    const p = await provider();
    emu.setFaults({ lroFailure: {} });
    const since = emu.requests.length;
    await rejectsWith(p.create(request()), InsufficientCapacityError, "AllocationFailed");
    assert.equal(emu.faultsFired.lroFailure, 1);
    assert.equal(emu.count("vm.put", since), 1);
    assert.deepEqual(emu.snapshot(), NOTHING);
  });

  test("AllocationFailed for one size: the next allowed size that fits is tried, one VM results", async () => {
    const p = await provider({ AZURE_INSTANCE_SIZES: "Standard_DC2as_v5,Standard_B2s,Standard_DC4as_v5" });
    emu.setFaults({ lroFailure: { sizes: ["Standard_DC2as_v5"], count: 10 } });
    const since = emu.requests.length;
    const req = request();
    // Through the core's fallback, as StartVM calls it (src/sandbox/capacity.ts).
    const inst = await createWithFallback(p, {
      ...req,
      spec: { ...req.spec, instanceType: "Standard_DC2as_v5" },
    });
    const sizes = emu.requests
      .filter((r) => r.seq > since && r.op === "vm.put")
      .map((r) => (r.body as VmPutBody).properties?.hardwareProfile?.vmSize);
    // Standard_B2s has less memory than the chosen size, so it is skipped.
    assert.deepEqual(sizes, ["Standard_DC2as_v5", "Standard_DC4as_v5"]);
    assert.deepEqual(emu.snapshot().vms, [req.name]);
    await p.delete(inst.id);
    assert.deepEqual(emu.snapshot(), NOTHING);
  });

  test("409 quota (OperationNotAllowed): ProviderError naming the code, nothing left, no other size tried", async () => {
    const p = await provider({ AZURE_INSTANCE_SIZES: "Standard_DC2as_v5,Standard_DC4as_v5" });
    emu.setFaults({ conflict: {} });
    const since = emu.requests.length;
    const err = await rejectsWith(p.create(request()), ProviderError, "OperationNotAllowed");
    assert.ok(!(err instanceof InsufficientCapacityError));
    assert.match(err.message, /HTTP 409.*Cores quota/);
    assert.equal(emu.count("vm.put", since), 1);
    assert.deepEqual(emu.snapshot(), NOTHING);
  });

  test("5xx after Azure accepted the PUT: the VM, NIC and disk it made are removed, error names ServerTimeout", async () => {
    const p = await provider();
    emu.setFaults({ errorAfterAccept: {} });
    const since = emu.requests.length;
    const err = await rejectsWith(p.create(request()), ProviderError, "ServerTimeout");
    assert.match(
      err.message,
      /HTTP 503.*nothing of it is left \(VM, NIC, disk and public IP checked and removed\)/,
    );
    assert.equal(emu.count("vm.put", since), 1);
    assert.ok(emu.count("vm.delete", since) >= 1, "the VM Azure made was deleted");
    assert.deepEqual(emu.snapshot(), NOTHING);
  });

  test("5xx after accept and a failed cleanup: PartialCreateError, and the next create GETs the VM and uses it", async () => {
    const p = await provider({ AZURE_API_RETRY_BUDGET: "1s" });
    // The create's cleanup starts with a GET of the VM; throttled beyond the budget, it fails.
    emu.setFaults({ errorAfterAccept: {}, throttle: { count: 1, retryAfterSec: 2, ops: ["vm.get"] } });
    const since = emu.requests.length;
    const req = request();
    const err = await rejectsWith(p.create(req), PartialCreateError, "ServerTimeout");
    assert.equal(err.instance.name, req.name);
    assert.match(err.message, /may exist/);
    emu.setFaults({});
    const inst = await p.create(req);
    const ops = emu.requests.filter((r) => r.seq > since).map((r) => r.op);
    assert.equal(ops.filter((o) => o === "vm.put").length, 1, "no second PUT: the VM Azure made is used");
    assert.ok(ops.lastIndexOf("vm.get") > ops.indexOf("vm.put"));
    assert.equal(inst.id, err.instance.id);
    assert.deepEqual(emu.snapshot().vms, [req.name]);
    await p.delete(inst.id);
    assert.deepEqual(emu.snapshot(), NOTHING);
  });

  test("a create aborted while Azure is still making the VM removes what was made", async () => {
    const p = await provider();
    emu.state.options.lroDelayMs = 5_000;
    try {
      const since = emu.requests.length;
      const ac = new AbortController();
      const pending = p.create(request(), ac.signal);
      while (emu.count("vm.put", since) === 0) await new Promise((r) => setTimeout(r, 5));
      ac.abort();
      // The cleanup's delete runs at the usual speed.
      emu.state.options.lroDelayMs = 20;
      const err = await rejectsWith(pending, ProviderError, "Aborted");
      assert.match(err.message, /nothing of it is left/);
    } finally {
      emu.state.options.lroDelayMs = 20;
    }
    assert.deepEqual(emu.snapshot(), NOTHING);
  });

  test("429 with Retry-After is honoured: the retry comes no sooner than told, and one VM results", async () => {
    const p = await provider();
    emu.setFaults({ throttle: { count: 2, retryAfterSec: 1, ops: ["vm.put"] } });
    const since = emu.requests.length;
    const inst = await p.create(request());
    const puts = emu.requests.filter((r) => r.seq > since && r.op === "vm.put");
    assert.deepEqual(
      puts.map((r) => r.status),
      [429, 429, 201],
    );
    for (let i = 1; i < puts.length; i++) {
      assert.ok(
        puts[i].at - puts[i - 1].at >= 1000,
        `retry ${i} came ${puts[i].at - puts[i - 1].at} ms after the 429`,
      );
    }
    assert.equal(emu.snapshot().vms.length, 1);
    await p.delete(inst.id);
  });

  test("a 429 whose Retry-After exceeds the budget gives ThrottledError without a retry, and nothing is made", async () => {
    const p = await provider({ AZURE_API_RETRY_BUDGET: "2s" });
    emu.setFaults({ throttle: { count: 1, retryAfterSec: 60, ops: ["vm.put"] } });
    const since = emu.requests.length;
    const err = await rejectsWith(p.create(request()), ThrottledError, "TooManyRequests");
    assert.equal(err.retryAfterMs, 60_000);
    assert.equal(emu.count("vm.put", since), 1);
    assert.deepEqual(emu.snapshot(), NOTHING);
  });

  test("a 429 holds back the provider's other requests until Retry-After has passed", async () => {
    let throttleSeen = false;
    const p = await provider({}, (_p, op, outcome) => {
      if (op.startsWith("PUT") && outcome !== "ok") throttleSeen = true;
    });
    emu.setFaults({ throttle: { count: 1, retryAfterSec: 1, ops: ["vm.put"] } });
    const since = emu.requests.length;
    const a = request();
    const first = p.create(a);
    // Let the provider see the first PUT's 429 before the second create starts (the emulator
    // having answered is not enough: on a loaded machine the answer may not be read yet).
    while (!throttleSeen) await new Promise((r) => setTimeout(r, 5));
    const b = request();
    const [ia, ib] = await Promise.all([first, p.create(b)]);
    const log = emu.requests.filter((r) => r.seq > since);
    const throttledAt = log.find((r) => r.status === 429)?.at ?? 0;
    const laterPuts = log.filter((r) => r.op === "vm.put" && r.status !== 429);
    assert.equal(laterPuts.length, 2);
    for (const put of laterPuts)
      assert.ok(put.at - throttledAt >= 1000, `a PUT went ${put.at - throttledAt} ms after the 429`);
    await Promise.all([p.delete(ia.id), p.delete(ib.id)]);
    assert.deepEqual(emu.snapshot(), NOTHING);
  });
});
