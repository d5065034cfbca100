// The harness of test/integration/capacity-fallback.test.ts: a case in sizes S < M < L < XL, what
// a run of it on one cloud gave, StartVM through the core on an in-process provider, and an
// external plugin driven through `caa serve`.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Provider } from "../../providers/types.ts";
import { createVM, startVM, stopVM } from "../../src/cli/sandbox.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { SandboxManager } from "../../src/sandbox/manager.ts";
import { SandboxStore } from "../../src/sandbox/store.ts";
import { cleanupDaemon, daemonEnv, makeDaemonDir, startDaemon } from "./daemon.ts";

export type Rank = "S" | "M" | "L" | "XL";

/** S < M < L < XL in vCPUs or memory; S never fits M. Every case allows all four. */
export interface Case {
  name: string;
  selected: Rank;
  noCapacity: Rank[];
  /** The types the cloud is asked for, in order. */
  tried: Rank[];
  /** Where the sandbox runs; none: StartVM fails with the cloud's capacity code. */
  lands?: Rank;
}

export const MACHINE_TYPE = "io.katacontainers.config.hypervisor.machine_type";
export const POD = {
  "io.kubernetes.cri.sandbox-name": "cap",
  "io.kubernetes.cri.sandbox-namespace": "default",
};

export interface Outcome {
  tried: string[];
  /** Instances of the sandbox while it ran (or after it failed). */
  instances: number;
  stage: string | undefined;
  error?: { message: string; code?: string };
}

export interface Cloud {
  name: string;
  skip?: string | false;
  types: Record<Rank, string>;
  /** The code StartVM's error carries when no candidate had capacity. */
  code: string;
  run(c: Case, id: string): Promise<Outcome>;
}

export const sandboxId = () => randomBytes(32).toString("hex");
export const escape = (s: string) => s.replace(/[.]/g, "\\.");

/**
 * StartVM through the core (SandboxManager, no agent and no pod network: no VM need boot) on a real
 * provider; `tried` reads what the cloud was asked for. The sandbox is stopped afterwards and
 * nothing of it may be left.
 */
export async function throughCore(
  provider: Provider,
  c: Case,
  cloud: Cloud,
  id: string,
  tried: () => string[],
): Promise<Outcome> {
  const dir = await mkdtemp(join(tmpdir(), "caa-capfb-"));
  try {
    const manager = new SandboxManager({
      provider,
      store: await SandboxStore.open(join(dir, "state")),
      logger: silentLogger(),
      config: { podsDir: join(dir, "p"), cluster: "c1", node: "n1", initdata: "", enableScratchSpace: false },
    });
    const annotations = { ...POD, [MACHINE_TYPE]: cloud.types[c.selected] };
    await manager.createVM({ id, annotations, netnsPath: "" });
    let error: Outcome["error"];
    await manager.startVM(id, new AbortController().signal).catch((err: Error & { code?: string }) => {
      error = { message: err.message, code: err.code };
    });
    const outcome: Outcome = {
      tried: tried(),
      instances: (await provider.list({ sandboxId: id })).length,
      stage: manager.get(id)?.stage,
      error,
    };
    await manager.stopVM(id);
    assert.deepEqual(await provider.list({ sandboxId: id }), [], "StopVM left nothing");
    return outcome;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const FIXTURE = fileURLToPath(new URL("../fixtures/provider-plugin/fixture.ts", import.meta.url));
const FIXTURE_TYPES = { S: "fixture.small", M: "fixture.medium", L: "fixture.large", XL: "fixture.xlarge" };

/**
 * An external plugin through `caa serve`: it throws { code: "InsufficientCapacity", message }, no
 * class of ours. A daemon per case (the refused types are its env); `start` before the first.
 */
export function pluginCloud(): Cloud & { start(): Promise<void>; stop(): void } {
  let standIn: net.Server | undefined;
  return {
    name: "external plugin (plain-object error, through the daemon)",
    types: FIXTURE_TYPES,
    code: "InsufficientCapacity",
    async run(c, id) {
      const dir = await makeDaemonDir();
      // The fixture's instances run nothing: the agent proxy (plain TCP) is pointed at a listener
      // that accepts and holds connections, so agent-connect succeeds.
      const env = daemonEnv(dir, {
        CLOUD_PROVIDER: "fixture",
        ENABLE_CLOUD_PROVIDER_EXTERNAL_PLUGIN: "true",
        CLOUD_PROVIDER_EXTERNAL_PLUGIN_PATH: FIXTURE,
        CLOUD_PROVIDER_EXTERNAL_PLUGIN_HASH: createHash("sha256").update(readFileSync(FIXTURE)).digest("hex"),
        FIXTURE_NO_CAPACITY_TYPES: c.noCapacity.map((r) => FIXTURE_TYPES[r]).join(","),
        FORWARDER_HOST: "127.0.0.1",
        FORWARDER_PORT: String((standIn!.address() as net.AddressInfo).port),
      });
      const daemon = await startDaemon(dir, env, 30_000, { args: ["-disable-tls"] });
      const o = { socket: daemon.socket };
      const fixtureDir = join(daemon.stateDir, "provider-fixture");
      const instances = () => {
        const file = join(fixtureDir, "instances.json");
        const all = existsSync(file)
          ? (JSON.parse(readFileSync(file, "utf8")) as { tags: Record<string, string> }[])
          : [];
        return all.filter((i) => i.tags["peerpod-sandbox-id"] === id).length;
      };
      try {
        await createVM(o, id, { ...POD, [MACHINE_TYPE]: FIXTURE_TYPES[c.selected] }, "");
        let error: Outcome["error"];
        await startVM(o, id).catch((err: Error) => (error = { message: err.message }));
        const record = JSON.parse(readFileSync(join(daemon.stateDir, "sandboxes", `${id}.json`), "utf8")) as {
          stage: string;
          lastError?: { message: string; code?: string };
        };
        const outcome: Outcome = {
          tried: readFileSync(join(fixtureDir, "create-attempts.log"), "utf8").split("\n").filter(Boolean),
          instances: instances(),
          stage: record.stage,
          // Over ttrpc the shim gets the message; the code is on the sandbox's record.
          error: error && { message: record.lastError?.message ?? "", code: record.lastError?.code },
        };
        if (error) assert.match((error as { message: string }).message, /no capacity for/);
        await stopVM(o, id);
        assert.equal(instances(), 0, "StopVM left nothing");
        return outcome;
      } finally {
        await daemon.kill("SIGTERM");
        await cleanupDaemon({ dir, bridge: "" });
      }
    },
    async start() {
      const held: net.Socket[] = [];
      standIn = net.createServer((s) => held.push(s.on("error", () => undefined)));
      standIn.on("close", () => held.forEach((s) => s.destroy()));
      await new Promise<void>((r) => standIn!.listen(0, "127.0.0.1", r));
    },
    stop() {
      standIn?.close();
    },
  };
}
