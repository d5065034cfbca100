// A rolling update on one node: the new daemon starts while the old one still runs with StartVMs in
// flight. The old one holds new calls, lets the ones in flight finish, closes its agent proxies and
// ops port and releases the state directory; the new one takes it over and serves. Nothing is
// deleted, nothing is made twice, and the shim's calls all succeed. Also: SIGTERM drains.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { HypervisorDefinition } from "../../src/gen/hypervisor/hypervisor.ts";
import { TtrpcClient } from "../../src/ttrpc/client.ts";
import { secretsIn } from "../helpers/secret-scan.ts";
import { agentHealth } from "../../src/cli/agent-health.ts";
import {
  cleanupDaemon,
  daemonEnv,
  freePort,
  makeDaemonDir,
  startDaemon,
  type DaemonProcess,
} from "../helpers/daemon.ts";

const POD = { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "shop" };
const FIXTURE = fileURLToPath(new URL("../fixtures/provider-plugin/fixture.ts", import.meta.url));
const id = (n: number) => n.toString(16).padStart(8, "0").repeat(8);

// The fixture's instances run nothing: the agent proxy dials this stand-in (plain TCP).
let standIn: net.Server;
const held: net.Socket[] = [];
before(async () => {
  standIn = net.createServer((s) => held.push(s.on("error", () => undefined)));
  await new Promise<void>((r) => standIn.listen(0, "127.0.0.1", r));
});
after(() => {
  held.forEach((s) => s.destroy());
  standIn.close();
});

async function until(what: string, ok: () => boolean, logs: () => string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${logs()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** "ok", or the call's error: observed at once, so a failure while the test waits is not unhandled. */
function settled(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "ok",
    (err: unknown) => String(err),
  );
}

/** GET 127.0.0.1:port/startup: status and body, or 0 when nothing listens. */
async function startupProbe(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/startup`).catch(() => undefined);
  return res ? { status: res.status, body: await res.text() } : { status: 0, body: "" };
}

/** The local provider's VM records: one per instance, tagged with its sandbox. */
function localVms(dir: string): { id: string; tags: Record<string, string> }[] {
  const root = join(dir, "state", "provider-local");
  return readdirSync(root)
    .filter((n) => n.endsWith(".json"))
    .map(
      (n) => JSON.parse(readFileSync(join(root, n), "utf8")) as { id: string; tags: Record<string, string> },
    );
}

test("handover: 10 running sandboxes and 5 StartVMs in flight all end up running under the new daemon", async () => {
  const dir = await makeDaemonDir();
  const probePort = await freePort();
  // Loopback VMs (no root needed); each StartVM waits 8 s for its VM to boot.
  const env = daemonEnv(dir, {
    LOCAL_LOOPBACK: "true",
    LOCAL_LOOPBACK_SUBNET: "127.76.0.0/24",
    LOCAL_BOOT_DELAY: "8s",
    PROBE_PORT: String(probePort),
  });
  let old: DaemonProcess | undefined;
  let next: DaemonProcess | undefined;
  // Set as soon as it is spawned: a failure before the handover ends must still stop it.
  let starting: Promise<DaemonProcess> | undefined;
  const clients: TtrpcClient[] = [];
  try {
    old = await startDaemon(dir, env, 60_000);
    const client = await TtrpcClient.connect(old.socket);
    clients.push(client);
    const ids = Array.from({ length: 15 }, (_, i) => id(i + 1));
    const sockets: string[] = [];
    for (const sid of ids) {
      const res = await client.callMethod(HypervisorDefinition, "createVM", {
        id: sid,
        annotations: POD,
        networkNamespacePath: "",
      });
      sockets.push(res.agentSocketPath);
    }
    await Promise.all(
      ids.slice(0, 10).map((sid) => client.callMethod(HypervisorDefinition, "startVM", { id: sid })),
    );

    // Five StartVMs waiting for their VMs to boot when the new daemon starts.
    const inFlight = ids
      .slice(10)
      .map((sid) => client.callMethod(HypervisorDefinition, "startVM", { id: sid }));
    await new Promise((r) => setTimeout(r, 500));
    starting = startDaemon(dir, env, 90_000);
    const oldLogs = () => old?.logs() ?? "";
    await until("the old daemon to hold new calls", () => oldLogs().includes("holding new calls"), oldLogs);
    assert.match(oldLogs(), /holding new calls; 5 in flight/, "the five StartVMs were still in flight");
    // The startup probe fails while the handover runs, so Kubernetes does not take the new pod
    // for started (nor the old one for the new one).
    const during = await startupProbe(probePort);
    assert.notEqual(during.status, 200, `startup during the handover: ${during.status} ${during.body}`);
    // A call that arrives now on the old daemon's connection is held, then forwarded.
    const heldCall = client.callMethod(HypervisorDefinition, "startVM", { id: ids[0] });
    next = await starting;
    const results = await Promise.allSettled([...inFlight, heldCall]);
    assert.deepEqual(
      results.map((r) => r.status),
      Array(6).fill("fulfilled"),
      `every call succeeded: ${results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok")).join(", ")}`,
    );
    const nextLogs = () => next?.logs() ?? "";
    assert.match(nextLogs(), /the previous daemon handed .* over/);
    assert.match(nextLogs(), /recovered sandboxes from the state directory running=15/);
    await until(
      "the old daemon to forward and stop listening",
      () => oldLogs().includes("handed over;"),
      () => `${oldLogs()}\n---- new:\n${nextLogs()}`,
    );
    assert.equal(old.child.exitCode, null, "the old daemon stays up (Kubernetes stops its pod)");
    // The new daemon opens the probe port once its predecessor has stopped listening, which the
    // old daemon logs a moment before (a probe in between found nothing listening: CI, 2026-12-02).
    await until("the new daemon's ops server", () => nextLogs().includes("ops server listening"), nextLogs);
    const probe = await startupProbe(probePort);
    assert.equal(probe.status, 200, `the new daemon answers the startup probe: ${probe.body}`);

    // The old daemon closed its agent proxies: every agent socket answering is the new daemon's.
    for (const socket of sockets) assert.equal(await agentHealth(socket), "SERVING", socket);
    const records = readdirSync(join(dir, "state", "sandboxes"))
      .filter((n) => n.endsWith(".json"))
      .map((n) => JSON.parse(readFileSync(join(dir, "state", "sandboxes", n), "utf8")) as { stage: string });
    assert.deepEqual(
      records.map((r) => r.stage),
      Array(15).fill("running"),
    );
    const owners = localVms(dir)
      .map((v) => v.tags["peerpod-sandbox-id"])
      .sort();
    assert.deepEqual(owners, [...ids].sort(), "one VM per sandbox: none deleted, none duplicated");
    assert.doesNotMatch(nextLogs(), /undid a StartVM/);

    const after = await TtrpcClient.connect(next.socket);
    clients.push(after);
    for (const sid of ids) await after.callMethod(HypervisorDefinition, "stopVM", { id: sid });
    assert.deepEqual(localVms(dir), [], "every VM was deleted by StopVM");
    assert.deepEqual(
      secretsIn(`${oldLogs()}\n${nextLogs()}`),
      [],
      "no key material or user-data in the logs",
    );
  } catch (err) {
    // Seen once under heavy load (a call ended with "ttrpc: closed"): keep both daemons' logs.
    throw new Error(`${String(err)}\n---- old daemon:\n${old?.logs()}\n---- new daemon:\n${next?.logs()}`, {
      cause: err,
    });
  } finally {
    clients.forEach((c) => c.close());
    next ??= await starting?.catch(() => undefined);
    await next?.kill("SIGTERM");
    await old?.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: "" });
  }
});

test("SIGTERM lets the StartVMs in flight finish before the daemon stops", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, {
    FORWARDER_HOST: "127.0.0.1",
    FORWARDER_PORT: String((standIn.address() as net.AddressInfo).port),
    CLOUD_PROVIDER: "fixture",
    ENABLE_CLOUD_PROVIDER_EXTERNAL_PLUGIN: "true",
    CLOUD_PROVIDER_EXTERNAL_PLUGIN_PATH: FIXTURE,
    CLOUD_PROVIDER_EXTERNAL_PLUGIN_HASH: createHash("sha256").update(readFileSync(FIXTURE)).digest("hex"),
    FIXTURE_CREATE_DELAY_MS: "2000",
  });
  const daemon = await startDaemon(dir, env, 60_000, { args: ["-disable-tls"] });
  const client = await TtrpcClient.connect(daemon.socket);
  try {
    const ids = [1, 2, 3].map((n) => id(n + 100));
    for (const sid of ids)
      await client.callMethod(HypervisorDefinition, "createVM", {
        id: sid,
        annotations: POD,
        networkNamespacePath: "",
      });
    const inFlight = ids.map((sid) => client.callMethod(HypervisorDefinition, "startVM", { id: sid }));
    await new Promise((r) => setTimeout(r, 500));
    await daemon.kill("SIGTERM");
    const results = await Promise.allSettled(inFlight);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "fulfilled", "fulfilled"],
    );
    const stages = ids.map(
      (sid) =>
        (
          JSON.parse(readFileSync(join(dir, "state", "sandboxes", `${sid}.json`), "utf8")) as {
            stage: string;
          }
        ).stage,
    );
    assert.deepEqual(stages, ["running", "running", "running"], "no record is left half-way");
  } finally {
    client.close();
    await daemon.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: "" });
  }
});

test("a call forwarded after the handover finishes although the old daemon gets SIGTERM at once", async () => {
  const dir = await makeDaemonDir();
  // Each StartVM waits 4 s for its VM: the forwarded one is still running when the SIGTERM comes.
  const env = daemonEnv(dir, {
    LOCAL_LOOPBACK: "true",
    LOCAL_LOOPBACK_SUBNET: "127.76.1.0/24",
    LOCAL_BOOT_DELAY: "4s",
  });
  let old: DaemonProcess | undefined;
  let next: DaemonProcess | undefined;
  let client: TtrpcClient | undefined;
  try {
    old = await startDaemon(dir, env, 60_000);
    client = await TtrpcClient.connect(old.socket);
    const [a, b] = [id(201), id(202)];
    for (const sid of [a, b])
      await client.callMethod(HypervisorDefinition, "createVM", {
        id: sid,
        annotations: POD,
        networkNamespacePath: "",
      });
    // One StartVM in flight, so the handover has something to drain and the next call is held.
    const inFlight = settled(client.callMethod(HypervisorDefinition, "startVM", { id: a }));
    await new Promise((r) => setTimeout(r, 300));
    const starting = startDaemon(dir, env, 90_000);
    const oldLogs = () => old?.logs() ?? "";
    await until("the old daemon to hold new calls", () => oldLogs().includes("holding new calls"), oldLogs);
    const forwarded = settled(client.callMethod(HypervisorDefinition, "startVM", { id: b }));
    next = await starting;
    await until("the old daemon to hand over", () => oldLogs().includes("handed over;"), oldLogs);
    // Kubernetes stops the old pod as soon as the new one is started.
    await old.kill("SIGTERM");
    assert.deepEqual(await Promise.all([inFlight, forwarded]), ["ok", "ok"], oldLogs());
    const after = await TtrpcClient.connect(next.socket);
    try {
      for (const sid of [a, b]) await after.callMethod(HypervisorDefinition, "stopVM", { id: sid });
    } finally {
      after.close();
    }
    assert.deepEqual(localVms(dir), []);
  } finally {
    client?.close();
    await next?.kill("SIGTERM");
    await old?.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: "" });
  }
});
