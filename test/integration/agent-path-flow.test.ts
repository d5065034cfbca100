// Flow control through the whole agent path (shim → AgentProxy → mTLS → forwarder process → agent),
// with real sockets: a stalled reader at either end slows the sender down instead of filling the
// relays (bounded bytes held, bounded forwarder RSS), and every byte then arrives in order; FIN and
// RST from either end reach the other; concurrent streams all make progress.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { AgentProxy } from "../../src/agentproxy/index.ts";
import { Request, Response } from "../../src/gen/ttrpc/request.ts";
import {
  Code,
  FrameDecoder,
  FrameType,
  TtrpcClient,
  TtrpcError,
  encodeFrame,
} from "../../src/ttrpc/index.ts";
import { closedPort, setupAgentPath, type AgentPathEnv } from "../fixtures/test-agent-env.ts";
import { readRequest, stamped, startFlowAgent, type FlowAgent } from "../helpers/flow-agent.ts";

const AGENT = "grpc.AgentService";
const MiB = 1 << 20;
const CALLS = 256;
const repo = path.resolve(import.meta.dirname, "../..");

/** A shim stand-in on raw frames, so the test decides when it writes and when it reads. */
class RawShim {
  readonly socket: net.Socket;
  readonly answers: { streamId: number; code: number; payload: Buffer }[] = [];
  ended = false;
  #next = 1;
  readonly #decoder = new FrameDecoder();

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      for (const ev of this.#decoder.push(chunk)) {
        if (ev.kind !== "frame") continue;
        const res = Response.decode(ev.frame.data);
        this.answers.push({ streamId: ev.frame.streamId, code: res.status?.code ?? 0, payload: res.payload });
      }
    });
    socket.on("end", () => (this.ended = true));
    socket.on("error", () => undefined);
  }

  static async open(socketPath: string): Promise<RawShim> {
    const socket = net.createConnection({ path: socketPath, allowHalfOpen: true });
    await once(socket, "connect");
    return new RawShim(socket);
  }

  /** Sends one call; false when the socket wants a drain first. */
  call(method: string, payload: Uint8Array): boolean {
    const data = Request.encode({
      service: AGENT,
      method,
      payload: Buffer.from(payload),
      timeoutNano: 0,
      metadata: [],
    }).finish();
    const id = this.#next;
    this.#next += 2;
    return this.socket.write(encodeFrame(id, FrameType.Request, data));
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until `value` has not changed for `quietMs` (the pipeline is full and stalled). */
async function settled(value: () => number, quietMs = 1000): Promise<number> {
  let last = value();
  let since = Date.now();
  const deadline = Date.now() + 30_000;
  while (Date.now() - since < quietMs && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const now = value();
    if (now !== last) [last, since] = [now, Date.now()];
  }
  return last;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

describe("agent path flow control", () => {
  let env: AgentPathEnv;
  let agent: FlowAgent;
  let forwarder: ChildProcess;
  let proxy: AgentProxy;
  let forwarderPort = 0;

  before(async () => {
    env = await setupAgentPath();
    const agentSock = path.join(env.dir, "vm/flow-agent.sock");
    agent = await startFlowAgent(agentSock);
    const port = await closedPort();
    forwarderPort = port;
    forwarder = spawn(
      process.execPath,
      [
        path.join(repo, "src/forwarder/main.ts"),
        ...["-config", env.apfPath, "-skip-provision", "-no-pod-network"],
        ...["-listen", `127.0.0.1:${port}`, "-kata-agent-socket", agentSock],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    forwarder.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    forwarder.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    await until("the forwarder", () => out.includes("listening on"));
    proxy = env.newProxy({ port });
    await proxy.start();
    // Warm both relays up, so the RSS baselines below are a serving forwarder's.
    const c = await TtrpcClient.connect(proxy.socketPath);
    for (let i = 0; i < 16; i++) await c.call(AGENT, "Read", readRequest(i, MiB));
    c.close();
  });
  after(async () => {
    if (forwarder.exitCode === null) {
      forwarder.kill("SIGTERM");
      await once(forwarder, "exit");
    }
    await agent.close();
    await env.close();
  });

  test("an agent that stops reading holds the shim's upload back; all of it arrives in order once it reads again", async () => {
    const baseRss = rssMiB(forwarder.pid!);
    const shim = await RawShim.open(proxy.socketPath);
    agent.pause();
    let sent = 0;
    const pump = (async () => {
      for (; sent < CALLS; sent++)
        if (!shim.call("Write", stamped(sent, MiB))) await once(shim.socket, "drain");
    })();
    const stalledAt = await settled(() => sent);
    const held = proxy.bufferedBytes;
    const rss = rssMiB(forwarder.pid!);
    assert.ok(stalledAt < 64, `the shim got ${stalledAt} MiB in while the agent read nothing`);
    assert.ok(held <= 4 * MiB, `the proxy holds ${held} bytes`);
    assert.ok(rss - baseRss < 64, `forwarder RSS grew from ${baseRss} to ${rss} MiB`);
    agent.resume();
    await pump;
    await until("every answer", () => shim.answers.length === CALLS);
    assert.deepEqual(
      agent.written.slice(-CALLS),
      Array.from({ length: CALLS }, (_, i) => i),
    );
    assert.ok(shim.answers.every((a) => a.code === 0 && a.payload.readUInt32BE(0) === MiB));
    shim.socket.destroy();
  });

  test("a shim that stops reading holds the agent's answers back; all of them arrive in order once it reads again", async () => {
    const baseRss = rssMiB(forwarder.pid!);
    const shim = await RawShim.open(proxy.socketPath);
    shim.socket.pause();
    const before = agent.readsAnswered();
    for (let i = 0; i < CALLS; i++) shim.call("Read", readRequest(i, MiB));
    const answered = (await settled(() => agent.readsAnswered())) - before;
    const held = proxy.bufferedBytes;
    const rss = rssMiB(forwarder.pid!);
    assert.ok(answered < 64, `the agent got ${answered} answers of 1 MiB out to a shim reading nothing`);
    assert.ok(held <= 4 * MiB, `the proxy holds ${held} bytes`);
    assert.ok(rss - baseRss < 64, `forwarder RSS grew from ${baseRss} to ${rss} MiB`);
    shim.socket.resume();
    await until("every answer", () => shim.answers.length === CALLS);
    shim.answers.forEach((a, i) => {
      assert.equal(a.streamId, 2 * i + 1);
      assert.equal(a.code, 0);
      assert.ok(a.payload.equals(stamped(i, MiB)), `answer ${i} is not the agent's`);
    });
    shim.socket.destroy();
  });

  test("a shim's FIN still gets the answers to its calls in flight, then FIN back", async () => {
    const shim = await RawShim.open(proxy.socketPath);
    for (let i = 0; i < 3; i++) shim.call("Hold", new Uint8Array());
    await until("the calls at the agent", () => agent.requests() > 0 && shim.socket.writableLength === 0);
    await new Promise((r) => setTimeout(r, 200));
    shim.socket.end();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(shim.ended, false, "the relay ended before answering");
    agent.release();
    await until("the FIN", () => shim.ended);
    assert.deepEqual(
      shim.answers.map((a) => [a.streamId, a.code]),
      [
        [1, 0],
        [3, 0],
        [5, 0],
      ],
    );
    shim.socket.destroy();
  });

  for (const how of ["end", "destroy"] as const) {
    test(`the agent's ${how === "end" ? "FIN" : "abrupt close"} fails the calls in flight with 14; the next call re-dials`, async () => {
      const client = await TtrpcClient.connect(proxy.socketPath);
      const seen = agent.requests();
      try {
        const held = client.call(AGENT, "Hold", new Uint8Array(), { timeoutMs: 20_000 });
        const failed = assert.rejects(held, (e: TtrpcError) => e.code === Code.Unavailable);
        await until("the held call", () => agent.requests() > seen);
        agent.dropConnections(how);
        await failed;
        const back = await client.call(AGENT, "Read", readRequest(7, 64));
        assert.ok(Buffer.from(back).equals(stamped(7, 64)));
      } finally {
        client.close();
        agent.release();
      }
    });
  }

  test("a shim gone mid-upload (half a frame sent) drops only that shim: the relay lets go of its bytes", async () => {
    const shim = await RawShim.open(proxy.socketPath);
    agent.pause();
    try {
      for (let i = 0; i < 8; i++) shim.call("Write", stamped(i, MiB));
      // Half a frame: the relay holds a partial frame for this shim when it goes.
      shim.socket.write(encodeFrame(1001, FrameType.Request, Buffer.alloc(MiB)).subarray(0, 64 << 10));
      await settled(() => proxy.bufferedBytes, 500);
      assert.ok(proxy.bufferedBytes > 0);
      shim.socket.destroy();
    } finally {
      agent.resume();
    }
    await until("the relay to let go", () => proxy.bufferedBytes === 0, 10_000);
    const client = await TtrpcClient.connect(proxy.socketPath);
    const back = await client.call(AGENT, "Read", readRequest(3, MiB));
    assert.ok(Buffer.from(back).equals(stamped(3, MiB)));
    client.close();
  });

  test("an RST on the mTLS hop fails the calls in flight with 14 at the shim; the next call re-dials", async () => {
    // A TCP hop between proxy and forwarder that the test can reset.
    const hops = new Set<net.Socket>();
    const pipe = net.createServer((inbound) => {
      const outbound = net.connect({ host: "127.0.0.1", port: forwarderPort });
      for (const s of [inbound, outbound]) {
        hops.add(s);
        s.on("error", () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve) => pipe.listen(0, "127.0.0.1", resolve));
    const viaPipe = env.newProxy({ port: (pipe.address() as net.AddressInfo).port });
    await viaPipe.start();
    const client = await TtrpcClient.connect(viaPipe.socketPath);
    try {
      const seen = agent.requests();
      const held = client.call(AGENT, "Hold", new Uint8Array(), { timeoutMs: 20_000 });
      const failed = assert.rejects(held, (e: TtrpcError) => e.code === Code.Unavailable);
      await until("the held call", () => agent.requests() > seen);
      for (const s of hops) s.resetAndDestroy();
      await failed;
      const back = await client.call(AGENT, "Read", readRequest(5, MiB));
      assert.ok(Buffer.from(back).equals(stamped(5, MiB)));
    } finally {
      client.close();
      agent.release();
      await viaPipe.close();
      for (const s of hops) s.destroy();
      await new Promise<void>((resolve) => pipe.close(() => resolve()));
    }
  });

  test("eight concurrent streams all progress: each has its first answer before any has its last", async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => TtrpcClient.connect(proxy.socketPath)));
    const events: [number, number][] = [];
    await Promise.all(
      clients.map(async (c, k) => {
        for (let i = 0; i < 16; i++) {
          const seq = k * 100 + i;
          const data = Buffer.from(await c.call(AGENT, "Read", readRequest(seq, MiB)));
          assert.ok(data.equals(stamped(seq, MiB)), `stream ${k} answer ${i}`);
          events.push([k, i]);
        }
      }),
    );
    for (const c of clients) c.close();
    const firstLast = events.findIndex(([, i]) => i === 15);
    const firsts = new Set(events.slice(0, firstLast).map(([k]) => k));
    assert.equal(firsts.size, 8, `streams ${[...firsts].join(",")} had answers before the first finished`);
  });
});
