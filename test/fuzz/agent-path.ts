// Fuzz target: the agent data path, shim side. Each input is raw bytes on a fresh connection to a
// real AgentProxy socket, relayed over mTLS to a real forwarder and on to the test agent
// (test/fixtures/test-agent-env.ts): mutated and malformed ttrpc frames (bad and oversized lengths,
// truncated frames, wrong types, even and reused stream ids, garbage protobuf, unknown services).
// After each batch a valid Health/Check still answers SERVING through the same proxy, and the
// process holds no more sockets than before the batch (nothing leaked on any hop).
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { HealthDefinition } from "../../src/gen/agent/health.ts";
import { Request } from "../../src/gen/ttrpc/request.ts";
import { encodeFrame, FrameType, MAX_DATA_LENGTH } from "../../src/ttrpc/frame.ts";
import { TtrpcClient } from "../../src/ttrpc/index.ts";
import { SERVING } from "../../providers/local/kata-agent.ts";
import { setupAgentPath } from "../fixtures/test-agent-env.ts";
import type { FuzzTarget } from "./driver.ts";
import { nastyString, type Rng } from "./mutator.ts";

const SERVICES = ["grpc.Health", "grpc.AgentService", "grpc.Nope", ""];
const METHODS = [
  "Check",
  "Version",
  "CreateSandbox",
  "StartContainer",
  "WriteStdin",
  "ReadStdout",
  "DestroySandbox",
  "SetPolicy",
];

function frame(rng: Rng, streamId: number): Buffer {
  const payload = rng.chance(0.5) ? rng.bytes(rng.size(512)) : Buffer.alloc(0);
  let data: Buffer = Buffer.from(
    Request.encode({
      service: rng.chance(0.8) ? rng.pick(SERVICES) : nastyString(rng, 64),
      method: rng.chance(0.8) ? rng.pick(METHODS) : nastyString(rng, 64),
      payload,
      timeoutNano: rng.chance(0.2) ? rng.pick([1, 1e6, 2 ** 53]) : 0,
      metadata: [],
    }).finish(),
  );
  if (rng.chance(0.2)) data = rng.bytes(rng.size(256)); // garbage protobuf
  const type = rng.chance(0.8)
    ? FrameType.Request
    : rng.pick([FrameType.Response, FrameType.Data, 0, 7, 255]);
  const out = encodeFrame(streamId, type, data, rng.chance(0.1) ? rng.int(256) : 0);
  const r = rng.next();
  if (r < 0.05)
    out.writeUInt32BE(MAX_DATA_LENGTH + 1 + rng.int(1000), 0); // oversized: the rest is skipped
  else if (r < 0.1)
    out.writeUInt32BE(data.length + 1 + rng.int(64), 0); // claims more than it carries
  else if (r < 0.15) return out.subarray(0, rng.int(out.length)); // truncated
  return out;
}

function generate(rng: Rng): Buffer {
  const frames: Buffer[] = [];
  let id = rng.chance(0.9) ? 1 : rng.int(2 ** 32);
  for (let n = 1 + rng.size(16); n > 0; n--) {
    frames.push(frame(rng, id));
    id = rng.chance(0.8) ? id + 2 : rng.pick([id, id + 1, 0, 2 ** 32 - 1, rng.int(2 ** 32)]);
  }
  return Buffer.concat(frames);
}

/** Writes `input`, reads what comes back for a moment, closes. */
function exchange(socketPath: string, input: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ path: socketPath });
    socket.on("error", () => undefined);
    socket.resume();
    socket.on("close", () => resolve());
    socket.on("connect", () => {
      socket.write(input);
      setTimeout(() => socket.destroy(), 20);
    });
  });
}

function sockets(): number {
  return process
    .getActiveResourcesInfo()
    .filter((r) => r === "PipeWrap" || r === "TCPSocketWrap" || r === "TLSWrap").length;
}

export const agentPathTarget: FuzzTarget = {
  name: "agent-path",
  timeoutMs: 15_000,
  batch: 50,
  maxInputBytes: 64 * 1024,
  open: async () => {
    const env = await setupAgentPath();
    // The VM side creates missing bind-mount sources: keep them in a root of our own.
    const root = path.join(env.dir, "vm-root");
    await mkdir(root);
    const forwarder = await env.startForwarder(0, { rootDir: root });
    const proxy = env.newProxy({ port: forwarder.port });
    await proxy.start();
    const healthy = async (): Promise<void> => {
      const client = await TtrpcClient.connect(proxy.socketPath);
      try {
        const res = await client.callMethod(
          HealthDefinition,
          "check",
          { service: "" },
          { timeoutMs: 10_000 },
        );
        if (res.status !== SERVING) throw new Error(`Health/Check answered status ${res.status}`);
      } finally {
        client.close();
      }
    };
    await healthy();
    await new Promise((r) => setTimeout(r, 100));
    const baseline = sockets();
    return {
      generate,
      run: (input) => exchange(proxy.socketPath, input),
      check: async () => {
        await healthy();
        const deadline = Date.now() + 5000;
        while (sockets() > baseline) {
          if (Date.now() > deadline)
            throw new Error(
              `${sockets() - baseline} socket(s) more than before the batch: a leaked connection`,
            );
          await new Promise((r) => setTimeout(r, 25));
        }
      },
      close: () => env.close(),
    };
  },
};
