import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { HypervisorDefinition } from "../../src/gen/hypervisor/hypervisor.ts";
import { Code, TtrpcClient, TtrpcError, TtrpcServer } from "../../src/ttrpc/index.ts";
import type { CallContext } from "../../src/ttrpc/index.ts";

let dir: string;
let sock: string;
let server: TtrpcServer;
let seen: CallContext | undefined;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ttrpc-loop-"));
  sock = path.join(dir, "sub", "h.sock");
  server = new TtrpcServer();
  server.registerService(HypervisorDefinition, {
    createVM: (req, ctx) => {
      seen = ctx;
      return { agentSocketPath: `/run/peerpod/pods/${req.id}/agent.ttrpc` };
    },
    startVM: async (_req, ctx) => {
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 5000);
        ctx.signal.addEventListener("abort", () => (clearTimeout(t), reject(ctx.signal.reason as Error)));
      });
      return {};
    },
    stopVM: () => {
      throw new Error("boom");
    },
    version: () => ({ version: "0.0.0" }),
  });
  server.register("test.Echo", {
    Echo: (p) => p,
    Nothing: () => undefined as unknown as Uint8Array,
    Hang: (_p, ctx) =>
      new Promise<Uint8Array>((_r, reject) =>
        ctx.signal.addEventListener("abort", () => reject(new Error("x"))),
      ),
  });
  server.setFallback(async (req) =>
    req.service === "relay.Me"
      ? { payload: Buffer.from(`${req.method}:${req.timeoutNano}`) }
      : { status: { code: Code.NotFound, message: `no ${req.service}`, details: [] } },
  );
  await server.listen(sock, { mode: 0o660 });
});

after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

test("listen creates the directory and chmods the socket", async () => {
  const st = await stat(sock);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
});

test("typed calls round-trip through the generic definition, with metadata and deadline in ctx", async () => {
  const client = await TtrpcClient.connect(sock);
  const res = await client.callMethod(
    HypervisorDefinition,
    "createVM",
    { id: "abc", annotations: {}, networkNamespacePath: "/run/netns/x" },
    { timeoutMs: 10_000, metadata: { "X-Trace": ["a", "b"] } },
  );
  assert.equal(res.agentSocketPath, "/run/peerpod/pods/abc/agent.ttrpc");
  assert.deepEqual(seen?.metadata, { "x-trace": ["a", "b"] });
  assert.ok(seen?.deadline && seen.deadline > Date.now() + 9000);
  assert.equal((await client.callMethod(HypervisorDefinition, "version", { version: "" })).version, "0.0.0");
  client.close();
});

test("errors carry code and message; the handler's signal fires at the deadline", async () => {
  const client = await TtrpcClient.connect(sock);
  await assert.rejects(client.callMethod(HypervisorDefinition, "stopVM", { id: "x" }), {
    code: 2,
    message: "boom",
  });
  await assert.rejects(client.call("nope.Svc", "X", new Uint8Array()), { code: 5, message: "no nope.Svc" });
  await assert.rejects(client.call("test.Echo", "Nope", new Uint8Array()), {
    code: 12,
    message: "method Nope",
  });
  const t0 = Date.now();
  await assert.rejects(client.callMethod(HypervisorDefinition, "startVM", { id: "x" }, { timeoutMs: 200 }), {
    code: Code.DeadlineExceeded,
  });
  assert.ok(Date.now() - t0 < 2000);
  client.close();
});

test("concurrent calls are multiplexed on one connection; callRaw relays timeout_nano verbatim", async () => {
  const client = await TtrpcClient.connect(sock);
  const payloads = Array.from({ length: 50 }, (_, i) => Buffer.from(`msg-${i}`));
  const out = await Promise.all(payloads.map((p) => client.call("test.Echo", "Echo", p)));
  assert.deepEqual(
    out.map((b) => Buffer.from(b).toString()),
    payloads.map(String),
  );
  const raw = await client.callRaw({
    service: "relay.Me",
    method: "Do",
    payload: new Uint8Array(),
    timeoutNano: 123e6,
    metadata: [],
  });
  assert.deepEqual(raw, { payload: Buffer.from("Do:123000000") });
  client.close();
});

test("server close rejects pending calls with 14 and removes only its own socket", async () => {
  const other = new TtrpcServer();
  const otherSock = path.join(dir, "o.sock");
  await writeFile(otherSock, "not a socket");
  await assert.rejects(other.listen(otherSock), /not a socket/);
  await rm(otherSock);
  // A stale socket left by a dead process is replaced.
  const stale = net.createServer().listen(otherSock);
  await new Promise((r) => stale.once("listening", r));
  other.register("s.S", { Hang: () => new Promise<Uint8Array>(() => undefined) });
  await other.listen(otherSock);
  const client = await TtrpcClient.connect(otherSock);
  const rejected = assert.rejects(
    client.call("s.S", "Hang", new Uint8Array()),
    (err: unknown) => err instanceof TtrpcError && err.code === Code.Unavailable,
  );
  await new Promise((r) => setTimeout(r, 50));
  await other.close();
  await rejected;
  await assert.rejects(stat(otherSock), { code: "ENOENT" });
  stale.close();
});

test("a handler returning nothing gets Go's 'marshal called with nil'; the process survives", async () => {
  const client = await TtrpcClient.connect(sock);
  await assert.rejects(client.call("test.Echo", "Nothing", new Uint8Array()), {
    code: Code.Unknown,
    message: "ttrpc: marshal called with nil",
  });
  client.close();
});

test("aborting a call's signal rejects it with 1 Canceled, or with the signal's TtrpcError reason", async () => {
  const client = await TtrpcClient.connect(sock);
  const ac = new AbortController();
  const canceled = assert.rejects(client.call("test.Echo", "Hang", new Uint8Array(), { signal: ac.signal }), {
    code: Code.Canceled,
  });
  ac.abort();
  await canceled;
  const relayed = new AbortController();
  relayed.abort(new TtrpcError(Code.DeadlineExceeded, "context deadline exceeded"));
  await assert.rejects(client.call("test.Echo", "Echo", new Uint8Array(), { signal: relayed.signal }), {
    code: Code.DeadlineExceeded,
  });
  assert.deepEqual(
    Buffer.from(await client.call("test.Echo", "Echo", Buffer.from("still"))),
    Buffer.from("still"),
  );
  client.close();
});

test("serve() takes connections accepted elsewhere (here TCP on 127.0.0.1), and connect() wraps a socket", async () => {
  const tcp = net.createServer((s) => server.serve(s));
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  const { port } = tcp.address() as net.AddressInfo;
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((r) => socket.once("connect", r));
  const client = await TtrpcClient.connect({ socket });
  assert.deepEqual(
    Buffer.from(await client.call("test.Echo", "Echo", Buffer.from("tcp"))),
    Buffer.from("tcp"),
  );
  client.close();
  await client.done;
  await new Promise((r) => tcp.close(r));
});
