// AgentRelay against a ttrpc server that can hang, fail and disappear: deadlines, dropped upstreams,
// re-dials that give up, stream-id rules, and what the observer is told.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { listenUnix, type UnixListener } from "../../src/agentproxy/index.ts";
import { AgentRelay } from "../../src/relay/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { Request, Response } from "../../src/gen/ttrpc/request.ts";
import { Code, FrameType, TtrpcClient, TtrpcError, TtrpcServer, encodeFrame } from "../../src/ttrpc/index.ts";
import { RawConn } from "../helpers/ttrpc-raw.ts";

const SERVICE = "grpc.AgentService";

describe("AgentRelay", () => {
  let dir: string;
  let upstream: TtrpcServer;
  let relay: AgentRelay;
  let listener: UnixListener;
  let client: TtrpcClient;
  const calls: [string, boolean, number, number][] = [];
  const upSock = (): string => path.join(dir, "up.sock");
  const downSock = (): string => path.join(dir, "down.sock");

  const startUpstream = async (): Promise<TtrpcServer> => {
    const server = new TtrpcServer();
    server.register(SERVICE, {
      Echo: (payload) => payload,
      Hang: (_p, ctx) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener("abort", () => reject(new Error("gone"))),
        ),
      Fail: () => {
        throw new TtrpcError(Code.NotFound, "no such container");
      },
    });
    await server.listen(upSock());
    return server;
  };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "relay-"));
    upstream = await startUpstream();
    relay = new AgentRelay({
      target: "test-upstream",
      dialOnce: (signal) =>
        new Promise((resolve, reject) => {
          const s = net.createConnection({ path: upSock() });
          s.once("connect", () => resolve(s)).once("error", reject);
          signal.addEventListener("abort", () => s.destroy(), { once: true });
        }),
      services: [SERVICE],
      redialTimeoutMs: 600,
      logger: silentLogger(),
      onCall: (method, _ms, ok, bytesIn, bytesOut) => calls.push([method, ok, bytesIn, bytesOut]),
    });
    await relay.connect(2000);
    listener = await listenUnix(downSock(), 0o600, (s) => relay.serve(s));
    client = await TtrpcClient.connect(downSock());
  });
  after(async () => {
    client.close();
    relay.close();
    await listener.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("a payload and an error status come back as the upstream sent them", async () => {
    const payload = Buffer.from("hello");
    assert.deepEqual(Buffer.from(await client.call(SERVICE, "Echo", payload)), payload);
    await assert.rejects(client.call(SERVICE, "Fail", new Uint8Array()), (e: TtrpcError) => {
      assert.deepEqual([e.code, e.message], [Code.NotFound, "no such container"]);
      return true;
    });
    assert.deepEqual(calls.slice(-2), [
      ["Echo", true, 5, 5],
      ["Fail", false, 0, 0],
    ]);
  });

  test("a call past its deadline is answered 4 by the relay itself when the upstream stays silent", async () => {
    const blackHole = net.createServer((s) => s.resume());
    const holeSock = path.join(dir, "hole.sock");
    await new Promise<void>((resolve) => blackHole.listen(holeSock, resolve));
    const seen: [string, boolean][] = [];
    const silent = new AgentRelay({
      target: "black-hole",
      dialOnce: () =>
        new Promise((resolve, reject) => {
          const s = net.createConnection({ path: holeSock });
          s.once("connect", () => resolve(s)).once("error", reject);
        }),
      services: [SERVICE],
      redialTimeoutMs: 1000,
      logger: silentLogger(),
      onCall: (method, _ms, ok) => seen.push([method, ok]),
    });
    const front = await listenUnix(path.join(dir, "front.sock"), 0o600, (s) => silent.serve(s));
    const raw = await RawConn.open(path.join(dir, "front.sock"));
    try {
      // timeout_nano 300 ms, and no client-side timer: only the relay can answer.
      raw.write(
        encodeFrame(
          1,
          FrameType.Request,
          Request.encode({
            service: SERVICE,
            method: "Hang",
            payload: Buffer.alloc(0),
            timeoutNano: 300e6,
            metadata: [],
          }).finish(),
        ),
      );
      const t0 = Date.now();
      while (raw.frames.length === 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
      assert.equal(raw.frames.length, 1);
      const res = Response.decode(raw.frames[0].data);
      assert.deepEqual(
        [res.status?.code, res.status?.message],
        [Code.DeadlineExceeded, "context deadline exceeded"],
      );
      assert.ok(Date.now() - t0 >= 250);
      assert.deepEqual(seen, [["Hang", false]]);
    } finally {
      raw.socket.destroy();
      silent.close();
      await front.close();
      await new Promise<void>((resolve) => blackHole.close(() => resolve()));
    }
  });

  test("stream ids follow containerd's server rules on the shim side", async () => {
    const raw = await RawConn.open(downSock());
    try {
      raw.request(2, SERVICE, "Echo");
      raw.request(5, SERVICE, "Echo");
      raw.request(3, SERVICE, "Echo");
      const deadline = Date.now() + 5000;
      while (raw.frames.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const texts = raw.frames.map((f) => `${f.streamId}:${Buffer.from(f.data).toString("latin1")}`);
      assert.ok(texts.some((t) => t.startsWith("2:") && t.includes("StreamID must be odd")));
      assert.ok(texts.some((t) => t.startsWith("3:") && t.includes("StreamID cannot be re-used")));
      assert.ok(texts.some((t) => t.startsWith("5:")));
    } finally {
      raw.socket.destroy();
    }
  });

  test("calls in flight when the upstream goes away get 14; a call while it is gone gives up after the re-dial bound", async () => {
    const hanging = client.call(SERVICE, "Hang", new Uint8Array(), { timeoutMs: 10_000 });
    const refused = assert.rejects(hanging, (e: TtrpcError) => e.code === Code.Unavailable);
    await new Promise((r) => setTimeout(r, 100));
    await upstream.close();
    await refused;
    await assert.rejects(
      client.call(SERVICE, "Echo", new Uint8Array(), { timeoutMs: 5000 }),
      (e: TtrpcError) => {
        assert.equal(e.code, Code.Unavailable);
        assert.match(e.message, /^cannot reach test-upstream: .*ENOENT/);
        return true;
      },
    );
    upstream = await startUpstream();
    assert.deepEqual(
      Buffer.from(await client.call(SERVICE, "Echo", Buffer.from("back"))),
      Buffer.from("back"),
    );
  });
});
