import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OPS_IDLE_TIMEOUT_MS, startOpsServer } from "../../src/ops/server.ts";
import { Metrics } from "../../src/ops/metrics.ts";
import { StartupCheck } from "../../src/ops/startup.ts";
import { FakeSandboxSource, sandboxView } from "../helpers/sandbox-source.ts";

/** One request on a fresh connection (no keep-alive pool), so each request reaches a listening server. */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("the ops server listens on loopback, serves probes, metrics and the admin API, and is the only one on its port", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ops-listen-"));
  const socketPath = join(dir, "hypervisor.sock");
  const hv = createServer((c) => c.end());
  await new Promise<void>((resolve) => hv.listen(socketPath, resolve));
  const source = new FakeSandboxSource().add(
    sandboxView("c".repeat(64), { stage: "booting", timings: { provisioning: 1500 } }),
  );
  const opts = { source, metrics: new Metrics(), startup: new StartupCheck({ socketPath }) };
  const old = await startOpsServer({ port: 0, ...opts });
  let next: Awaited<ReturnType<typeof startOpsServer>> | undefined;
  try {
    assert.match(old.address, /^http:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(old.address).port);
    // A second daemon cannot bind the probe port while the first holds it (no SO_REUSEPORT), so
    // no probe is ever answered by the wrong daemon.
    await assert.rejects(startOpsServer({ port, ...opts }), { code: "EADDRINUSE" });
    assert.equal((await get(old.address + "/startup")).status, 200);
    assert.equal((await get(old.address + "/healthz")).status, 200);
    const list = JSON.parse((await get(old.address + "/v1/sandboxes")).body) as {
      sandboxes: { stage: string; timings: object }[];
    };
    assert.equal(list.sandboxes[0].stage, "booting");
    assert.deepEqual(list.sandboxes[0].timings, { provisioning: 1500 });
    const metrics = (await get(old.address + "/metrics")).body;
    assert.match(metrics, /^caa_sandboxes\{stage="booting"\} 1$/m);
    await old.close();
    // Once released (a handover), the next daemon binds it.
    next = await startOpsServer({ port, ...opts });
    assert.equal(next.address, old.address);
    assert.equal((await get(next.address + "/healthz")).status, 200);
  } finally {
    await next?.close();
    await old.close().catch(() => undefined);
    await new Promise<void>((resolve) => hv.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
});

// Found by the ops-http fuzz target (test/fuzz/ops-http.ts): a partial request kept its connection
// for Node's 60 s header timeout, and a request answered before its body came (a 404 to a POST)
// kept it for the 72 s keep-alive timeout, renewed by every byte.
test("the ops server closes a slowloris connection after its idle timeout and keeps serving others", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ops-slow-"));
  const socketPath = join(dir, "hypervisor.sock");
  const hv = createServer((c) => c.end());
  await new Promise<void>((resolve) => hv.listen(socketPath, resolve));
  const ops = await startOpsServer({
    port: 0,
    source: new FakeSandboxSource(),
    metrics: new Metrics(),
    startup: new StartupCheck({ socketPath }),
  });
  const { port } = new URL(ops.address);
  const started = Date.now();
  const partial = [
    "GET /healthz HTTP/1.1\r\nHost: x\r\n",
    "POST /v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
  ];
  const sockets = partial.map((text) => {
    const socket = connect({ port: Number(port), host: "127.0.0.1" });
    socket.on("error", () => undefined);
    socket.resume(); // read the answer, so the server's close ends the socket
    socket.write(text);
    return {
      socket,
      closed: new Promise<number>((r) => socket.once("close", () => r(Date.now() - started))),
    };
  });
  try {
    assert.equal((await get(ops.address + "/healthz")).status, 200);
    const closedAfter = await Promise.all(sockets.map((s) => s.closed));
    for (const ms of closedAfter) {
      assert.ok(ms >= OPS_IDLE_TIMEOUT_MS - 500, `closed after ${ms} ms, before the idle timeout`);
      assert.ok(ms < OPS_IDLE_TIMEOUT_MS + 10_000, `closed only after ${ms} ms`);
    }
  } finally {
    for (const s of sockets) s.socket.destroy();
    await ops.close();
    await new Promise<void>((resolve) => hv.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
});
