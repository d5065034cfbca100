// The agent data path end to end, on 127.0.0.1 with real mTLS handshakes: kata shim stand-in (our and
// the Go ttrpc client) → AgentProxy socket → forwarder → test agent.
import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { AgentConnectError, CDI_ANNOTATION, DEFAULT_GPUS_ANNOTATION } from "../../src/agentproxy/index.ts";
import { CreateContainerRequest, CreateSandboxRequest } from "../../src/gen/agent/agent.ts";
import { CheckRequest, HealthCheckResponse, HealthDefinition } from "../../src/gen/agent/health.ts";
import { Code, TtrpcClient, TtrpcError } from "../../src/ttrpc/index.ts";
import { POD_NS_PATH, closedPort, setupAgentPath, type AgentPathEnv } from "../fixtures/test-agent-env.ts";
import { SERVING } from "../../providers/local/kata-agent.ts";
import { goClientCall } from "../helpers/go-peer.ts";
import { RawConn } from "../helpers/ttrpc-raw.ts";

const AGENT = "grpc.AgentService";

/** A CreateContainerRequest carrying fields this project does not declare (kata agent.proto/oci.proto). */
function createContainerPayload(annotations: Record<string, string>): Uint8Array {
  const w = new BinaryWriter();
  w.uint32(0x0a).string("c1"); // 1 container_id
  w.uint32(0x1a).fork().uint32(0x0a).string("0").join(); // 3 string_user {uid "0"}   (unknown)
  w.uint32(0x22).fork().uint32(0x0a).string("dev0").join(); // 4 devices {id}        (unknown)
  w.uint32(0x2a).fork(); // 5 storages
  w.uint32(0x0a).string("image_guest_pull"); // driver
  w.uint32(0x1a).string("docker.io/library/nginx:latest"); // source
  w.uint32(0x22).string("overlay"); // fstype
  w.uint32(0x32).string("/run/kata-containers/c1/rootfs"); // mount_point
  w.uint32(0x3a).fork().uint32(0x10).uint32(1000).join(); // 7 fs_group {group_id}   (unknown)
  w.join();
  w.uint32(0x32).fork(); // 6 OCI
  w.uint32(0x0a).string("1.1.0"); // Version
  w.uint32(0x12).fork().uint32(0x22).string("nginx").uint32(0x32).string("/").join(); // 2 Process (unknown)
  for (const [k, v] of Object.entries(annotations)) {
    w.uint32(0x3a).fork().uint32(0x0a).string(k).uint32(0x12).string(v).join(); // 7 Annotations
  }
  w.uint32(0x42).fork(); // 8 Linux
  w.uint32(0x22)
    .fork()
    .uint32(0x12)
    .fork()
    .uint32(0x08)
    .int64(1 << 20)
    .join()
    .join(); // 4 Resources (unknown)
  w.uint32(0x32).fork().uint32(0x0a).string("pid").join(); // 6 Namespaces
  w.uint32(0x32).fork().uint32(0x0a).string("mount").join();
  w.uint32(0x52).string("/proc/kcore"); // 10 MaskedPaths (unknown)
  w.join();
  w.join();
  w.uint32(0x42).fork().uint32(0x0a).string("shared").join(); // 8 shared_mounts (unknown)
  w.uint32(0x48).uint32(1234); // 9 stdin_port (newer kata; unknown)
  return w.finish();
}

/** Unknown fields as hex, so Buffer and Uint8Array compare alike. */
function unknownHex(fields: { [tag: number]: Uint8Array[] } | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [tag, values] of Object.entries(fields ?? {}))
    out[tag] = values.map((v) => Buffer.from(v).toString("hex"));
  return out;
}

function checkPayload(): Uint8Array {
  return CheckRequest.encode({ service: "" }).finish();
}

describe("agent path: proxy → forwarder (mTLS) → agent", () => {
  let env: AgentPathEnv;
  let client: TtrpcClient;
  const observed: { method: string; ok: boolean; bytesIn: number; bytesOut: number }[] = [];
  let proxySocket = "";

  before(async () => {
    env = await setupAgentPath();
    const proxy = env.newProxy({
      onCall: (method, _ms, ok, bytesIn, bytesOut) => observed.push({ method, ok, bytesIn, bytesOut }),
    });
    await proxy.start();
    proxySocket = proxy.socketPath;
    client = await TtrpcClient.connect(proxySocket);
  });
  after(async () => {
    client.close();
    await env.close();
  });

  test("Health/Check through the agent socket reaches the agent and answers SERVING", async () => {
    const before = env.agent.calls.length;
    const res = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 5000 });
    assert.equal(res.status, SERVING);
    assert.deepEqual(
      env.agent.calls.slice(before).map((c) => `${c.service}/${c.method}`),
      ["grpc.Health/Check"],
    );
    assert.equal((await stat(proxySocket)).mode & 0o777, 0o600);
  });

  test("the Go ttrpc client (as the kata shim) calls grpc.Health/Check through the agent socket", async () => {
    const [result] = await goClientCall(proxySocket, {
      service: "grpc.Health",
      method: "Check",
      payload: checkPayload(),
      timeout: "10s",
    });
    assert.equal(result.code, 0, result.message);
    assert.equal(HealthCheckResponse.decode(Buffer.from(result.payloadHex, "hex")).status, SERVING);
  });

  test("CreateContainer gets the pod netns and the GPU CDI annotation; unknown fields survive both edits", async () => {
    const sent = createContainerPayload({
      [DEFAULT_GPUS_ANNOTATION]: "1",
      "io.kubernetes.cri.container-type": "container",
    });
    await client.call(AGENT, "CreateContainer", sent, { timeoutMs: 5000 });
    const call = env.agent.calls.findLast((c) => c.method === "CreateContainer");
    assert.ok(call?.payload);
    const got = CreateContainerRequest.decode(Buffer.from(call.payload, "base64"));
    const orig = CreateContainerRequest.decode(sent);
    assert.deepEqual(
      got.OCI?.Linux?.Namespaces.map((n) => [n.Type, n.Path]),
      [
        ["pid", ""],
        ["mount", ""],
        ["network", POD_NS_PATH],
      ],
    );
    assert.equal(got.OCI?.Annotations[CDI_ANNOTATION], "nvidia.com/gpu=all");
    assert.equal(got.OCI?.Annotations["io.kubernetes.cri.container-type"], "container");
    // Every undeclared field, at every level, arrives with the same bytes.
    assert.deepEqual(unknownHex(got._unknownFields), unknownHex(orig._unknownFields));
    assert.deepEqual(unknownHex(got.OCI?._unknownFields), unknownHex(orig.OCI?._unknownFields));
    assert.deepEqual(unknownHex(got.OCI?.Linux?._unknownFields), unknownHex(orig.OCI?.Linux?._unknownFields));
    assert.deepEqual(unknownHex(got.storages[0]._unknownFields), unknownHex(orig.storages[0]._unknownFields));
    assert.equal(Object.keys(orig._unknownFields ?? {}).length, 4);
    assert.equal(got.storages[0].driver, "image_guest_pull");
  });

  test("CreateContainer without default_gpus gets no CDI annotation", async () => {
    await client.call(AGENT, "CreateContainer", createContainerPayload({ [DEFAULT_GPUS_ANNOTATION]: "" }));
    const call = env.agent.calls.findLast((c) => c.method === "CreateContainer");
    const got = CreateContainerRequest.decode(Buffer.from(call?.payload ?? "", "base64"));
    assert.equal(got.OCI?.Annotations[CDI_ANNOTATION], undefined);
    assert.equal(got.OCI?.Linux?.Namespaces.at(-1)?.Path, POD_NS_PATH);
  });

  test("CreateSandbox arrives with dns cleared and everything else kept", async () => {
    const w = new BinaryWriter();
    w.uint32(0x0a).string("nginx"); // hostname
    w.uint32(0x12).string("10.96.0.10"); // dns
    w.uint32(0x12).string("10.96.0.11");
    w.uint32(0x2a).string("sb-1"); // sandbox_id
    w.uint32(0x40).bool(true); // 8 guest_userns (unknown here)
    await client.call(AGENT, "CreateSandbox", w.finish());
    const call = env.agent.calls.findLast((c) => c.method === "CreateSandbox");
    const got = CreateSandboxRequest.decode(Buffer.from(call?.payload ?? "", "base64"));
    assert.deepEqual(got.dns, []);
    assert.equal(got.hostname, "nginx");
    assert.equal(got.sandboxId, "sb-1");
    assert.deepEqual(unknownHex(got._unknownFields), { 64: ["01"] });
  });

  test("every other call passes through byte for byte, and the observer sees each call", async () => {
    const payload = Uint8Array.from([0x0a, 0x02, 0x63, 0x31, 0xfa, 0x07, 0x01, 0x00]); // incl. unknown field 127
    const n = observed.length;
    await client.call(AGENT, "StartContainer", payload);
    const call = env.agent.calls.findLast((c) => c.method === "StartContainer");
    assert.deepEqual(Buffer.from(call?.payload ?? "", "base64"), Buffer.from(payload));
    assert.deepEqual(observed.slice(n), [{ method: "StartContainer", ok: true, bytesIn: 8, bytesOut: 0 }]);
  });

  test("a service other than grpc.AgentService/grpc.Health is refused with 12 and never relayed", async () => {
    const before = env.agent.calls.length;
    await assert.rejects(
      client.call("hypervisor.Hypervisor", "StopVM", new Uint8Array()),
      (err: TtrpcError) => {
        assert.equal(err.code, Code.Unimplemented);
        assert.equal(err.message, "service hypervisor.Hypervisor");
        return true;
      },
    );
    assert.equal(env.agent.calls.length, before);
  });

  test("garbage and an oversized frame on the agent socket affect that connection only", async () => {
    const garbage = await RawConn.open(proxySocket);
    garbage.write(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const oversized = await RawConn.open(proxySocket);
    const header = Buffer.alloc(10);
    header.writeUInt32BE((4 << 20) + 1, 0);
    header.writeUInt32BE(1, 4);
    header[8] = 1;
    oversized.write(Buffer.concat([header, Buffer.alloc((4 << 20) + 1)]));
    // The oversized frame is answered 8 ResourceExhausted on its stream, as containerd's server does.
    const deadline = Date.now() + 10_000;
    while (oversized.frames.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(oversized.frames.length, 1);
    assert.equal(oversized.frames[0].streamId, 1);
    assert.match(Buffer.from(oversized.frames[0].data).toString("latin1"), /exceed maximum message size/);
    // Meanwhile the shim's own connection is unaffected.
    const res = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 5000 });
    assert.equal(res.status, SERVING);
    assert.equal(garbage.frames.length, 0);
    garbage.socket.destroy();
    oversized.socket.destroy();
    await Promise.all([garbage.closed, oversized.closed]);
    const again = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 5000 });
    assert.equal(again.status, SERVING);
  });

  test("garbage bytes on the forwarder port close that connection; the proxy keeps working", async () => {
    const socket = net.connect({ host: "127.0.0.1", port: env.forwarder.port });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => undefined);
    socket.write(
      Buffer.concat([Buffer.from("\x00\x00\x00\x05\x00\x00\x00\x01\x01\x00"), Buffer.alloc(64, 0x41)]),
    );
    await closed;
    const res = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 5000 });
    assert.equal(res.status, SERVING);
  });

  test("an oversized payload from the shim is refused with 8 and never reaches the VM", async () => {
    const before = env.agent.calls.length;
    await assert.rejects(
      client.call(AGENT, "WriteStdin", new Uint8Array((4 << 20) + 100)),
      (err: TtrpcError) => err.code === Code.ResourceExhausted,
    );
    assert.equal(env.agent.calls.length, before);
  });
});

describe("agent proxy: connecting", () => {
  test("start() fails after PROXY_TIMEOUT with the stage, the address, the time and the last error", async () => {
    const env = await setupAgentPath();
    try {
      const port = await closedPort();
      const proxy = env.newProxy({ port, timeoutMs: 1500 });
      const t0 = Date.now();
      await assert.rejects(proxy.start(), (err: Error) => {
        assert.ok(err instanceof AgentConnectError);
        assert.match(
          err.message,
          new RegExp(
            `^agent-connect: no answer from 127\\.0\\.0\\.1:${port} after 1\\.5s \\(last error: .*ECONNREFUSED`,
          ),
        );
        return true;
      });
      assert.ok(Date.now() - t0 < 4000);
      await assert.rejects(stat(proxy.socketPath), { code: "ENOENT" });
    } finally {
      await env.close();
    }
  });

  test("start() is cancelled by its signal", async () => {
    const env = await setupAgentPath();
    try {
      const proxy = env.newProxy({ port: await closedPort(), timeoutMs: 60_000 });
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error("StartVM cancelled")), 300);
      await assert.rejects(proxy.start(ac.signal), /StartVM cancelled/);
      await assert.rejects(stat(proxy.socketPath), { code: "ENOENT" });
    } finally {
      await env.close();
    }
  });

  test("start() waits for a forwarder that comes up late", async () => {
    const env = await setupAgentPath();
    try {
      const port = await closedPort();
      const proxy = env.newProxy({ port, timeoutMs: 15_000 });
      const started = proxy.start();
      await new Promise((r) => setTimeout(r, 700));
      await env.startForwarder(port);
      await started;
      assert.equal(proxy.connected, true);
    } finally {
      await env.close();
    }
  });

  test("after the forwarder connection drops, the proxy re-dials and the shim's next call works", async () => {
    const env = await setupAgentPath();
    const client = await TtrpcClient.connect(await startedProxySocket(env));
    try {
      const port = env.forwarder.port;
      await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 5000 });
      await env.forwarder.close();
      env.forwarder = await env.startForwarder(port);
      const res = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 10_000 });
      assert.equal(res.status, SERVING);
      assert.equal(env.agent.calls.filter((c) => c.method === "Check").length, 2);
    } finally {
      client.close();
      await env.close();
    }
  });
});

async function startedProxySocket(env: AgentPathEnv): Promise<string> {
  const proxy = env.newProxy();
  await proxy.start();
  return proxy.socketPath;
}
