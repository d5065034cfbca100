// Our ttrpc against containerd's Go ttrpc library (test/go ttrpcpeer): Go client → our server, our client →
// Go server, and hostile bytes on our server while other connections keep working.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Status } from "../../src/gen/google/rpc/status.ts";
import { HypervisorDefinition } from "../../src/gen/hypervisor/hypervisor.ts";
import { FrameType, MAX_DATA_LENGTH, encodeFrame } from "../../src/ttrpc/frame.ts";
import { MAX_INFLIGHT } from "../../src/ttrpc/connection.ts";
import { Code, TtrpcClient, TtrpcError, TtrpcServer } from "../../src/ttrpc/index.ts";
import type { CallContext } from "../../src/ttrpc/index.ts";
import { goBenchClients, goClientCall, goShimLifecycle, startGoServer } from "../helpers/go-peer.ts";
import type { GoProcess } from "../helpers/go-peer.ts";
import { RawConn } from "../helpers/ttrpc-raw.ts";

const text = (s: string): Buffer => Buffer.from(s);
const hexOf = (s: string): string => Buffer.from(s).toString("hex");

let dir: string;
let ourSock: string;
let goSock: string;
let server: TtrpcServer;
let goServer: GoProcess;
const aborts: { code: number; afterMs: number }[] = [];
const gate: (() => void)[] = [];
const hvCalls: { method: string; request: unknown; timeoutMs: number | undefined }[] = [];

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ttrpc-go-"));
  ourSock = path.join(dir, "ours.sock");
  goSock = path.join(dir, "go.sock");
  server = new TtrpcServer();
  server.register("test.Echo", {
    Echo: (p) => p,
    Empty: () => new Uint8Array(),
    Fail: () => {
      throw new Error("boom");
    },
    Metadata: (_p, ctx) => text(JSON.stringify(ctx.metadata)),
    // Resolves only when its own payload's count of calls are in flight at once: proves handlers run concurrently.
    Gate: (p) =>
      new Promise<Uint8Array>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("handlers did not run concurrently")), 5000);
        gate.push(() => (clearTimeout(t), resolve(text("open"))));
        if (gate.length >= Number(Buffer.from(p).toString())) gate.splice(0).forEach((open) => open());
      }),
    Slow: (_p, ctx) =>
      new Promise<Uint8Array>((_resolve, reject) => {
        const t0 = Date.now();
        ctx.signal.addEventListener("abort", () => {
          aborts.push({ code: (ctx.signal.reason as TtrpcError).code, afterMs: Date.now() - t0 });
          reject(ctx.signal.reason as Error);
        });
      }),
  });
  const record = (method: string, request: unknown, ctx: CallContext): void => {
    hvCalls.push({
      method,
      request,
      timeoutMs: ctx.deadline === undefined ? undefined : ctx.deadline - Date.now(),
    });
  };
  server.registerService(HypervisorDefinition, {
    createVM: (req, ctx) => {
      record("CreateVM", req, ctx);
      return { agentSocketPath: `/run/peerpod/pods/${req.id}/agent.ttrpc` };
    },
    startVM: (req, ctx) => (record("StartVM", req, ctx), {}),
    stopVM: (req, ctx) => (record("StopVM", req, ctx), {}),
    version: () => ({ version: "0.0.0" }),
  });
  await server.listen(ourSock);
  goServer = await startGoServer(goSock);
});

after(async () => {
  await goServer?.stop();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("Go client → our server", () => {
  test("echo returns the payload with code 0", async () => {
    const [r] = await goClientCall(ourSock, { method: "Echo", payload: text("hello") });
    assert.deepEqual([r.code, r.payloadHex], [0, hexOf("hello")]);
  });

  test("an empty response is a 0-length frame and the Go client accepts it", async () => {
    const [r] = await goClientCall(ourSock, { method: "Empty" });
    assert.deepEqual([r.code, r.payloadHex], [0, ""]);
    const raw = await RawConn.open(ourSock);
    raw.request(1, "test.Echo", "Empty");
    await raw.waitFrames(1);
    assert.deepEqual(
      encodeFrame(raw.frames[0].streamId, raw.frames[0].type, raw.frames[0].data),
      Buffer.from("00000000000000010200", "hex"),
    );
    raw.close();
  });

  test("unknown service and method give 12 with the same texts as the Go server", async () => {
    for (const [service, method, message] of [
      ["nope.Svc", "Echo", "service nope.Svc"],
      ["test.Echo", "Nope", "method Nope"],
    ] as const) {
      const [ours] = await goClientCall(ourSock, { service, method });
      const [go] = await goClientCall(goSock, { service, method });
      assert.deepEqual({ code: ours.code, message: ours.message }, { code: 12, message });
      assert.deepEqual({ code: go.code, message: go.message }, { code: 12, message });
    }
  });

  test("an undecodable payload for a typed method gives 3", async () => {
    const [r] = await goClientCall(ourSock, {
      service: "hypervisor.Hypervisor",
      method: "CreateVM",
      payload: Buffer.from("0a0561", "hex"),
    });
    assert.equal(r.code, Code.InvalidArgument);
    assert.match(r.message, /unmarshalling payload/);
  });

  test("a handler error gives 2 Unknown with its message", async () => {
    const [r] = await goClientCall(ourSock, { method: "Fail" });
    assert.deepEqual({ code: r.code, message: r.message }, { code: 2, message: "boom" });
  });

  test("the Go client's deadline (timeout_nano) aborts the handler's signal with 4", async () => {
    aborts.length = 0;
    const [r] = await goClientCall(ourSock, { method: "Slow", timeout: "300ms", linger: "500ms" });
    assert.equal(r.code, Code.DeadlineExceeded);
    await waitFor(() => aborts.length === 1);
    assert.equal(aborts[0].code, Code.DeadlineExceeded);
    assert.ok(aborts[0].afterMs >= 200 && aborts[0].afterMs < 2000, `aborted after ${aborts[0].afterMs} ms`);
  });

  test("the client disconnecting aborts the handler's signal with 1 Canceled", async () => {
    aborts.length = 0;
    const raw = await RawConn.open(ourSock);
    raw.request(1, "test.Echo", "Slow");
    await new Promise((r) => setTimeout(r, 100));
    raw.close();
    await waitFor(() => aborts.length === 1);
    assert.equal(aborts[0].code, Code.Canceled);
  });

  test("a typed hypervisor call decodes and answers", async () => {
    const [r] = await goClientCall(ourSock, {
      service: "hypervisor.Hypervisor",
      method: "CreateVM",
      payload: Buffer.from(`0a03${hexOf("abc")}`, "hex"),
    });
    assert.equal(r.code, 0);
    const agentSocketPath = "/run/peerpod/pods/abc/agent.ttrpc";
    assert.equal(r.payloadHex, `0a${agentSocketPath.length.toString(16)}${hexOf(agentSocketPath)}`);
  });

  test("request metadata reaches the handler", async () => {
    const [r] = await goClientCall(ourSock, {
      method: "Metadata",
      metadata: [
        ["x-trace", "a"],
        ["x-trace", "b"],
        ["other", "c"],
      ],
    });
    assert.deepEqual(JSON.parse(Buffer.from(r.payloadHex, "hex").toString()), {
      "x-trace": ["a", "b"],
      other: ["c"],
    });
  });

  test("concurrent calls on one Go connection run concurrently", async () => {
    const results = await goClientCall(ourSock, { method: "Gate", payload: text("8"), count: 8 });
    assert.equal(results.length, 8);
    for (const r of results) assert.deepEqual([r.code, r.payloadHex], [0, hexOf("open")]);
  });
});

describe("the kata shim's hypervisor call sequence (Go ttrpc client) against our server", () => {
  const annotations = {
    "io.kubernetes.cri.sandbox-name": "nginx",
    "io.katacontainers.config.hypervisor.default_vcpus": "2",
  };

  test("go style: CreateVM and StopVM without deadline, StartVM with 600 s", async () => {
    hvCalls.length = 0;
    const steps = await goShimLifecycle(ourSock, { id: "sb1", netns: "/var/run/netns/cni-1", annotations });
    assert.deepEqual(
      steps.map((s) => [s.step, s.code, s.agentSocketPath]),
      [
        ["CreateVM", 0, "/run/peerpod/pods/sb1/agent.ttrpc"],
        ["StartVM", 0, undefined],
        ["StopVM", 0, undefined],
      ],
    );
    assert.deepEqual(hvCalls[0].request, {
      id: "sb1",
      annotations,
      networkNamespacePath: "/var/run/netns/cni-1",
      _unknownFields: {},
    });
    assert.deepEqual(
      hvCalls.map((c) => [c.method, c.timeoutMs === undefined ? "none" : Math.round(c.timeoutMs / 1000)]),
      [
        ["CreateVM", "none"],
        ["StartVM", 600],
        ["StopVM", "none"],
      ],
    );
  });

  test("rust style: one connection, StopVM with a 1 s deadline", async () => {
    hvCalls.length = 0;
    const steps = await goShimLifecycle(ourSock, { id: "sb2", style: "rust", startTimeout: "60s" });
    assert.deepEqual(
      steps.map((s) => s.code),
      [0, 0, 0],
    );
    assert.deepEqual(
      hvCalls.map((c) => [c.method, c.timeoutMs === undefined ? "none" : Math.round(c.timeoutMs / 1000)]),
      [
        ["CreateVM", "none"],
        ["StartVM", 60],
        ["StopVM", 1],
      ],
    );
  });
});

describe("our client → Go server", () => {
  let client: TtrpcClient;
  before(async () => {
    client = await TtrpcClient.connect(goSock);
  });
  after(() => client.close());

  test("echo", async () => {
    assert.deepEqual(Buffer.from(await client.call("test.Echo", "Echo", text("hi"))), text("hi"));
    assert.equal((await client.call("test.Echo", "Echo", new Uint8Array())).length, 0);
  });

  test("status codes and messages come back as TtrpcError", async () => {
    for (const code of [Code.NotFound, Code.Unknown, Code.Unavailable, Code.Unauthenticated]) {
      const req = Status.encode({ code, message: `failed ${code}`, details: [] }).finish();
      await assert.rejects(client.call("test.Echo", "Fail", req), (err: unknown) => {
        assert.ok(err instanceof TtrpcError);
        assert.deepEqual([err.code, err.message], [code, `failed ${code}`]);
        return true;
      });
    }
    await assert.rejects(client.call("test.Echo", "Nope", new Uint8Array()), {
      code: 12,
      message: "method Nope",
    });
    await assert.rejects(client.call("nope.Svc", "X", new Uint8Array()), {
      code: 12,
      message: "service nope.Svc",
    });
  });

  test("timeoutMs is sent as timeout_nano and enforced locally", async () => {
    const left = Number(
      Buffer.from(await client.call("test.Echo", "Deadline", new Uint8Array(), { timeoutMs: 5000 })),
    );
    assert.ok(left > 4e9 && left <= 5e9, `Go saw ${left} ns left`);
    assert.deepEqual(Buffer.from(await client.call("test.Echo", "Deadline", new Uint8Array())), text("none"));
    const t0 = Date.now();
    await assert.rejects(client.call("test.Echo", "Sleep", text("5000"), { timeoutMs: 200 }), {
      code: Code.DeadlineExceeded,
    });
    assert.ok(Date.now() - t0 < 2000);
  });

  test("metadata keys are lower-cased like Go's MD.Set", async () => {
    const out = await client.call("test.Echo", "Metadata", new Uint8Array(), {
      metadata: { "X-Trace": ["a", "b"] },
    });
    assert.deepEqual(JSON.parse(Buffer.from(out).toString()), { "x-trace": ["a", "b"] });
  });

  test("concurrent calls are multiplexed", async () => {
    const t0 = Date.now();
    const out = await Promise.all(
      Array.from({ length: 20 }, () => client.call("test.Echo", "Sleep", text("300"))),
    );
    assert.ok(Date.now() - t0 < 2500, `20 × 300 ms took ${Date.now() - t0} ms`);
    for (const b of out) assert.deepEqual(Buffer.from(b), text("slept"));
  });

  test("an oversized response is 8 for that call and the connection stays usable", async () => {
    await assert.rejects(client.call("test.Echo", "Big", text(String(5 << 20))), {
      code: Code.ResourceExhausted,
    });
    assert.deepEqual(Buffer.from(await client.call("test.Echo", "Echo", text("after"))), text("after"));
  });

  test("the peer going away rejects pending calls with 14 Unavailable", async () => {
    const sock2 = path.join(dir, "go2.sock");
    const go2 = await startGoServer(sock2);
    const c2 = await TtrpcClient.connect(sock2);
    const pending = assert.rejects(c2.call("test.Echo", "Sleep", text("10000")), { code: Code.Unavailable });
    await new Promise((r) => setTimeout(r, 100));
    await go2.stop();
    await pending;
    await assert.rejects(c2.call("test.Echo", "Echo", new Uint8Array()), { code: Code.Unavailable });
  });
});

describe("hostile input on our server", () => {
  let healthy: TtrpcClient;
  before(async () => {
    healthy = await TtrpcClient.connect(ourSock);
  });
  after(() => healthy.close());

  async function othersStillWork(): Promise<void> {
    assert.deepEqual(Buffer.from(await healthy.call("test.Echo", "Echo", text("ok"))), text("ok"));
    const [r] = await goClientCall(ourSock, { method: "Echo", payload: text("ok") });
    assert.equal(r.code, 0);
  }

  /** Sends the same bytes to our server and to the Go server and returns both answers. */
  async function both(
    send: (c: RawConn) => void,
    frames: number,
  ): Promise<[ReturnType<RawConn["decoded"]>, ReturnType<RawConn["decoded"]>]> {
    const out = [];
    for (const sock of [ourSock, goSock]) {
      const raw = await RawConn.open(sock);
      send(raw);
      out.push(await raw.waitFrames(frames, 10_000));
      raw.close();
    }
    return [out[0], out[1]];
  }

  test("a 5 MiB frame gets 8 on its stream, exactly as Go, and the next call on that connection works", async () => {
    const [ours, go] = await both((raw) => {
      raw.request(1, "test.Echo", "Echo", new Uint8Array(5 << 20));
      raw.request(3, "test.Echo", "Echo", text("next"));
    }, 2);
    const length = Number(ours[0].message.match(/message length (\d+)/)?.[1]);
    assert.ok(length > MAX_DATA_LENGTH);
    assert.deepEqual(ours, go);
    assert.deepEqual(
      ours.map((r) => [r.streamId, r.code, r.message, r.payload.toString()]),
      [
        [1, 8, `message length ${length} exceed maximum message size of ${MAX_DATA_LENGTH}`, ""],
        [3, 0, "", "next"],
      ],
    );
    await othersStillWork();
  });

  test("an even stream id gets 3 on that id, exactly as Go", async () => {
    const [ours, go] = await both((raw) => {
      raw.request(2, "test.Echo", "Echo", text("x"));
      raw.request(3, "test.Echo", "Echo", text("y"));
    }, 2);
    assert.deepEqual(ours, go);
    assert.deepEqual(
      ours.map((r) => [r.streamId, r.code, r.message]),
      [
        [2, 3, "StreamID must be odd for client initiated streams"],
        [3, 0, ""],
      ],
    );
  });

  test("re-used or decreasing stream ids, Data frames and stray Response frames follow containerd's server.go", async () => {
    const raw = await RawConn.open(ourSock);
    raw.request(5, "test.Echo", "Echo", text("a"));
    await raw.waitFrames(1);
    raw.request(5, "test.Echo", "Echo", text("again"));
    raw.request(3, "test.Echo", "Echo", text("lower"));
    raw.write(encodeFrame(7, FrameType.Data, text("data")));
    raw.request(9, "test.Echo", "Echo", text("as response"), FrameType.Response);
    raw.write(encodeFrame(11, 0x7f, text("unknown type")));
    raw.request(13, "test.Echo", "Echo", text("fine"));
    const got = await raw.waitFrames(5);
    assert.deepEqual(
      got.map((r) => [r.streamId, r.code, r.message, r.payload.toString()]),
      [
        [5, 0, "", "a"],
        [5, 3, "StreamID cannot be re-used and must increment", ""],
        [3, 3, "StreamID cannot be re-used and must increment", ""],
        [7, 3, "StreamID is no longer active", ""],
        [13, 0, "", "fine"],
      ],
    );
    assert.equal((await raw.settle(100)).length, 5);
    raw.close();
    await othersStillWork();
  });

  test("an undecodable Request envelope gets 3 and the connection stays usable", async () => {
    const raw = await RawConn.open(ourSock);
    raw.write(encodeFrame(1, FrameType.Request, Buffer.from("0aff", "hex")));
    raw.request(3, "test.Echo", "Echo", text("z"));
    const got = await raw.waitFrames(2);
    assert.deepEqual([got[0].streamId, got[0].code], [1, Code.InvalidArgument]);
    assert.match(got[0].message, /^unmarshal request error: /);
    assert.deepEqual([got[1].streamId, got[1].payload.toString()], [3, "z"]);
    raw.close();
  });

  test("garbage bytes, a 4 GiB length header and half frames stall only their own connection", async () => {
    const garbage = await RawConn.open(ourSock);
    garbage.write(text("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const huge = await RawConn.open(ourSock);
    huge.write(Buffer.from("ffffffff00000001010000000000", "hex"));
    huge.write(Buffer.alloc(1 << 20, 0x41));
    const half = await RawConn.open(ourSock);
    half.write(encodeFrame(1, FrameType.Request, Buffer.alloc(100)).subarray(0, 50));
    await othersStillWork();
    for (const raw of [garbage, huge, half]) assert.deepEqual(await raw.settle(0), []);
    garbage.close();
    huge.close();
    half.close();
    await othersStillWork();
  });

  test("beyond 1024 running handlers a connection gets 8; disconnecting cancels the running ones", async () => {
    aborts.length = 0;
    const raw = await RawConn.open(ourSock);
    const total = MAX_INFLIGHT + 500;
    for (let i = 0; i < total; i++) raw.request(2 * i + 1, "test.Echo", "Slow");
    const got = await raw.waitFrames(total - MAX_INFLIGHT, 10_000);
    assert.ok(got.every((r) => r.code === Code.ResourceExhausted && r.streamId > 2 * MAX_INFLIGHT));
    await othersStillWork();
    raw.close();
    await waitFor(() => aborts.length === MAX_INFLIGHT);
    assert.ok(aborts.every((a) => a.code === Code.Canceled));
  });

  test("a client that never reads is throttled (the server stops reading) without hurting others", async () => {
    const raw = await RawConn.open(ourSock);
    raw.socket.pause();
    const payload = Buffer.alloc(1 << 20, 0x42);
    for (let i = 0; i < 48; i++) raw.request(2 * i + 1, "test.Echo", "Echo", payload);
    await new Promise((r) => setTimeout(r, 500));
    // 48 MiB of requests cannot all have been read: the server stopped reading once its replies backed up.
    assert.ok(
      raw.socket.writableLength > 8 << 20,
      `client still has ${raw.socket.writableLength} bytes unsent`,
    );
    await othersStillWork();
    raw.close();
    await raw.closed;
    await othersStillWork();
  });
});

describe("the Go bench client on several sockets (the agent bench's interleaved latency)", () => {
  let slow: TtrpcServer;
  let slowSock = "";
  before(async () => {
    slowSock = path.join(dir, "slow.sock");
    slow = new TtrpcServer();
    slow.register("test.Echo", {
      Echo: (p) => new Promise<Uint8Array>((resolve) => setTimeout(() => resolve(p), 3)),
    });
    await slow.listen(slowSock);
  });
  after(() => slow?.close());

  test("gives one result per socket, in their order, each over its own calls", async () => {
    const [fast, delayed] = await goBenchClients([ourSock, slowSock], {
      n: 40,
      warmup: 2,
      payloadSize: 8,
      service: "test.Echo",
      method: "Echo",
    });
    assert.deepEqual([fast.n, fast.errors, delayed.n, delayed.errors], [40, 0, 40, 0]);
    assert.ok(fast.p50Us < 3000, `the undelayed server's p50 ${fast.p50Us} µs`);
    assert.ok(delayed.p50Us >= 3000, `the 3 ms server's p50 ${delayed.p50Us} µs`);
    assert.ok(delayed.totalMs >= 40 * 3, `the 3 ms server's calls took ${delayed.totalMs} ms together`);
  });
});
