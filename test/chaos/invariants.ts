// The invariants of a chaos run, checked after every round with the daemon up:
// - every sandbox whose StartVM answered OK is running and answers a grpc.Health check through its
//   agent socket (else it is lost);
// - every other sandbox is cleanly gone once the shim's StopVM is answered (or the daemon has no
//   record of it);
// - once every sandbox is stopped nothing it had is left: no provider resource (the target's
//   leftovers), no socket or directory under PODS_DIR, no record that is not a tombstone;
// - no record under STATE_DIR is torn or unreadable, and no temp file of a write is left.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import pLimit from "p-limit";
import { agentHealth } from "../../src/cli/agent-health.ts";
import type { Ledger, SandboxEntry } from "./ledger.ts";
import { messageOf, stopVM } from "./shim.ts";
import type { ChaosTarget, DaemonUnderTest } from "./target.ts";

/** An agent proxy reattached by recovery may still be dialling its VM. */
const REACH_MS = 60_000;
const PARALLEL = 8;

async function reachable(e: SandboxEntry): Promise<string | undefined> {
  const deadline = Date.now() + REACH_MS;
  let last: string;
  for (;;) {
    try {
      const status = await agentHealth(e.agentSocket ?? "");
      if (status === "SERVING") return undefined;
      last = `health check answered ${status}`;
    } catch (err) {
      last = messageOf(err);
    }
    if (Date.now() > deadline) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function sandboxRecord(stateDir: string, id: string): Promise<{ stage: string } | undefined> {
  const text = await readFile(join(stateDir, "sandboxes", `${id}.json`), "utf8").catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as { stage: string });
}

/** Lost: StartVM answered OK, and now the sandbox is not running or does not answer. */
export async function checkRunning(ledger: Ledger, daemon: DaemonUnderTest): Promise<void> {
  const limit = pLimit(PARALLEL);
  await Promise.all(
    ledger.running().map((e) =>
      limit(async () => {
        const record = await sandboxRecord(daemon.stateDir, e.id).catch((err: unknown) => ({
          stage: `unreadable (${messageOf(err)})`,
        }));
        if (record?.stage !== "running") {
          ledger.lose({ sandbox: e.id, what: `StartVM succeeded, record now ${record?.stage ?? "gone"}` });
          return;
        }
        const why = await reachable(e);
        if (why !== undefined) ledger.lose({ sandbox: e.id, what: `agent socket does not answer: ${why}` });
      }),
    ),
  );
}

/** The daemon's retries of a failed stop come 5, 10, 20, 40 s apart: four of them. */
const STOP_RETRIES_MS = 90_000;

async function stoppedByDaemon(daemon: DaemonUnderTest, id: string): Promise<boolean> {
  const deadline = Date.now() + STOP_RETRIES_MS;
  while (Date.now() < deadline) {
    if ((await sandboxRecord(daemon.stateDir, id).catch(() => undefined))?.stage === "stopped") return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

/** StopVM for every sandbox of the ledger that is not gone yet, as the shim (or kubelet's cleanup) does. */
export async function stopAll(ledger: Ledger, daemon: DaemonUnderTest): Promise<void> {
  const limit = pLimit(PARALLEL);
  const pending = [...ledger.entries.values()].filter((e) => !e.gone);
  await Promise.all(
    pending.map((e) =>
      limit(async () => {
        try {
          await stopVM(daemon.socket, e.id);
          e.gone = true;
        } catch (err) {
          const message = messageOf(err);
          // Asked once, as the shims do (they only log StopVM's errors): not running any more either way.
          e.gone = true;
          // A CreateVM cut off before its record was written leaves nothing to stop.
          if (/does not exist/.test(message) && !(await sandboxRecord(daemon.stateDir, e.id))) return;
          // A delete the cloud failed is the daemon's to finish (src/sandbox/stop-retries.ts).
          if (/^stopping VM: deleting instance/.test(message) && (await stoppedByDaemon(daemon, e.id))) {
            ledger.retriedStops.push({ sandbox: e.id, what: message });
            return;
          }
          ledger.violate({ sandbox: e.id, what: `StopVM failed: ${message}` });
        }
      }),
    ),
  );
}

/** Leaked: anything the target or the daemon's directories still hold once every sandbox is stopped. */
export async function checkNothingLeft(
  ledger: Ledger,
  target: ChaosTarget,
  daemon: DaemonUnderTest,
): Promise<void> {
  for (const l of await target.leftovers()) ledger.leak({ what: `${l.kind}: ${l.what}` });
  for (const name of await readdir(daemon.podsDir).catch(() => [] as string[])) {
    ledger.leak({ sandbox: name, what: `left under PODS_DIR: ${join(daemon.podsDir, name)}` });
  }
  const dir = join(daemon.stateDir, "sandboxes");
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith(".json")) continue;
    const id = name.slice(0, -5);
    const record = await sandboxRecord(daemon.stateDir, id).catch(() => undefined);
    if (record && record.stage !== "stopped") {
      ledger.leak({ sandbox: id, what: `record in stage ${record.stage} after StopVM` });
    }
  }
}

/** Every record under STATE_DIR (two levels deep) parses; no temp file or quarantined record. */
export async function checkRecords(ledger: Ledger, stateDir: string): Promise<void> {
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const path = join(dir, name);
      const st = await stat(path).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) {
        if (name === "quarantine") ledger.violate({ what: `records were quarantined in ${path}` });
        else if (depth < 1) await walk(path, depth + 1);
      } else if (name.endsWith(".tmp")) {
        ledger.violate({ what: `temp file of an interrupted write left: ${path}` });
      } else if (name.endsWith(".json")) {
        try {
          JSON.parse(await readFile(path, "utf8"));
        } catch (err) {
          ledger.violate({ what: `record ${path} does not parse: ${messageOf(err)}` });
        }
      }
    }
  };
  await walk(stateDir, 0);
}
