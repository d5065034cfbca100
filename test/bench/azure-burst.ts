// A burst of pod VMs on Azure: n provider-level creates, each followed by its delete, all at once,
// against the ARM emulator with short LRO delays. Reports wall time, per-sandbox create/delete
// times and ARM requests per sandbox (start-up and login excluded). By default the emulator
// enforces ARM's regional token buckets (reads 250 / 25 s⁻¹, writes and deletes 200 / 10 s⁻¹;
// docs/background.md §4.7) and the provider runs with its defaults, as a real subscription
// would; benchAzureBurstScenarios adds the runs without limits and without client-side buckets.
// Run alone with `node test/bench/azure-burst.ts [n]`.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import azure from "../../providers/azure/index.ts";
import { generatedPublicKey } from "../../providers/azure/ssh-key.ts";
import type { CreateRequest } from "../../providers/types.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { azureProviderEnv, startArmEmulator, trustCaInProcess } from "../azure-emulator/index.ts";
import type { EmulatorOptions } from "../azure-emulator/types.ts";
import { summarize, type Summary } from "./stats.ts";

export const ARM_REGIONAL_LIMITS: NonNullable<EmulatorOptions["rateLimit"]> = {
  reads: { capacity: 250, refillPerSec: 25 },
  writes: { capacity: 200, refillPerSec: 10 },
  deletes: { capacity: 200, refillPerSec: 10 },
};

export interface AzureBurstOptions {
  n: number;
  /** How long each VM create/delete stays InProgress in the emulator (default 200 ms). */
  lroDelayMs?: number;
  /** Poll interval when the emulator sends Retry-After: 0 (default 50 ms). */
  pollIntervalMs?: number;
  /** Token buckets of the emulator: ARM's regional ones by default, `{}` for none. */
  rateLimit?: EmulatorOptions["rateLimit"];
  /** The provider's AZURE_API_RATE_LIMIT ("off" disables its client-side buckets); its default when absent. */
  clientRateLimit?: string;
  /** CLOUD_API_BATCHING: NIC, public IP and disk reads of many sandboxes as one LIST (default on). */
  batching?: boolean;
}

export interface AzureBurstResult {
  n: number;
  wallMs: number;
  create: Summary;
  delete: Summary;
  armRequests: number;
  requestsPerSandbox: number;
  /** Requests per emulator operation name, e.g. "vm.put", "operation.get". */
  byOp: Record<string, number>;
  throttled: number;
  /** What was left in the emulator afterwards (must be nothing). */
  leftovers: number;
}

function request(i: number): CreateRequest {
  const sandboxId = `b${i.toString(16).padStart(7, "0")}`.padEnd(64, "0");
  return {
    name: `podvm-burst-${sandboxId.slice(0, 8)}`,
    userData: "#cloud-config\n",
    spec: { instanceType: "", vcpus: 0, memoryMiB: 0, gpus: 0, image: "" },
    owner: { cluster: "bench", node: "n1", sandboxId, podName: `burst-${i}`, podNamespace: "default" },
  };
}

export async function benchAzureBurst(opts: AzureBurstOptions): Promise<AzureBurstResult> {
  const emu = await startArmEmulator({
    lroDelayMs: opts.lroDelayMs ?? 200,
    rateLimit: opts.rateLimit,
    pageSize: 100,
  });
  trustCaInProcess(emu.caPem);
  const dir = await mkdtemp(join(tmpdir(), "azure-burst-"));
  try {
    const keyFile = join(dir, "id.pub");
    await writeFile(keyFile, (await generatedPublicKey(2048)) + "\n");
    const env = azureProviderEnv(emu, {
      AZURE_SSH_KEY_PATH: keyFile,
      AZURE_POLL_INTERVAL: `${opts.pollIntervalMs ?? 50}ms`,
      ...(opts.clientRateLimit !== undefined ? { AZURE_API_RATE_LIMIT: opts.clientRateLimit } : {}),
      ...(opts.batching === false ? { CLOUD_API_BATCHING: "false" } : {}),
    });
    const provider = await azure.create(env, { logger: silentLogger(), stateDir: dir });
    await provider.start({ verify: false });
    const since = emu.requests.length;
    const creates: number[] = [];
    const deletes: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: opts.n }, async (_, i) => {
        const c0 = performance.now();
        const inst = await provider.create(request(i));
        const d0 = performance.now();
        creates.push(d0 - c0);
        await provider.delete(inst.id);
        deletes.push(performance.now() - d0);
      }),
    );
    const wallMs = performance.now() - t0;
    await provider.close();
    const log = emu.requests.filter((r) => r.seq > since);
    const byOp: Record<string, number> = {};
    for (const r of log) byOp[r.op] = (byOp[r.op] ?? 0) + 1;
    const left = emu.snapshot();
    return {
      n: opts.n,
      wallMs,
      create: summarize(creates),
      delete: summarize(deletes),
      armRequests: log.length,
      requestsPerSandbox: log.length / opts.n,
      byOp,
      throttled: log.filter((r) => r.status === 429).length,
      leftovers: left.vms.length + left.nics.length + left.disks.length + left.publicIps.length,
    };
  } finally {
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The three runs BENCHMARKS.md shows: the provider's own cost, a 429 storm, and paced requests. */
export const AZURE_BURST_SCENARIOS: ReadonlyArray<{
  label: string;
  rateLimit: EmulatorOptions["rateLimit"];
  clientRateLimit?: string;
  batching?: boolean;
}> = [
  { label: "emulator without limits, client buckets off", rateLimit: {}, clientRateLimit: "off" },
  {
    label: "emulator with ARM's buckets, client buckets off",
    rateLimit: ARM_REGIONAL_LIMITS,
    clientRateLimit: "off",
  },
  {
    label: "emulator with ARM's buckets, client buckets on, read batching off",
    rateLimit: ARM_REGIONAL_LIMITS,
    batching: false,
  },
  { label: "emulator with ARM's buckets, client buckets on (default)", rateLimit: ARM_REGIONAL_LIMITS },
];

export async function benchAzureBurstScenarios(
  n: number,
): Promise<Array<{ label: string; result: AzureBurstResult }>> {
  const out = [];
  for (const s of AZURE_BURST_SCENARIOS) {
    out.push({
      label: s.label,
      result: await benchAzureBurst({
        n,
        rateLimit: s.rateLimit,
        clientRateLimit: s.clientRateLimit,
        batching: s.batching,
      }),
    });
  }
  return out;
}

if (import.meta.main) {
  const n = Number(process.argv[2] ?? "100");
  for (const { label, result: r } of await benchAzureBurstScenarios(n)) {
    console.log(
      `${label}: n=${r.n} wall ${r.wallMs.toFixed(0)} ms, create p50 ${r.create.p50.toFixed(0)} / p99 ${r.create.p99.toFixed(0)} ms, ` +
        `delete p50 ${r.delete.p50.toFixed(0)} / p99 ${r.delete.p99.toFixed(0)} ms, ${r.requestsPerSandbox.toFixed(1)} ARM requests/sandbox, ` +
        `${r.throttled} throttled, leftovers ${r.leftovers}`,
    );
    console.log(`  by operation: ${JSON.stringify(r.byOp)}`);
  }
}
