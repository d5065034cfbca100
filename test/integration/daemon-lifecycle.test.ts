// `caa serve` on the local provider, driven the way the kata shim drives it: containerd's Go ttrpc
// client in both shim styles, plus hostile and invalid input on the same socket, and the gRPC endpoint.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import {
  HypervisorDefinition,
  type VersionRequest,
  type VersionResponse,
} from "../../src/gen/hypervisor/hypervisor.ts";
import { grpcServiceDefinition } from "../../src/hypervisor/grpc-definition.ts";
import { Request, Response } from "../../src/gen/ttrpc/request.ts";
import { LEGACY_HYPERVISOR_SERVICE } from "../../src/hypervisor/legacy-names.ts";
import { encodeFrame, FrameDecoder, FrameType } from "../../src/ttrpc/index.ts";
import { goClientCall, goShimLifecycle } from "../helpers/go-peer.ts";
import {
  cleanupDaemon,
  daemonEnv,
  makeDaemonDir,
  startDaemon,
  vmNamespaces,
  type DaemonProcess,
} from "../helpers/daemon.ts";
import { needsRoot } from "../helpers/requires.ts";

const POD = {
  "io.kubernetes.cri.sandbox-name": "nginx",
  "io.kubernetes.cri.sandbox-namespace": "default",
};

function sandboxId(n: number): string {
  return n.toString(16).padStart(8, "0").repeat(8);
}

/** Send raw bytes on a fresh connection and collect the response frames for `count` streams. */
async function rawExchange(socket: string, bytes: Buffer, count: number): Promise<Map<number, Uint8Array>> {
  const conn = net.connect(socket);
  const decoder = new FrameDecoder();
  const responses = new Map<number, Uint8Array>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`only ${responses.size}/${count} responses`));
    }, 10_000);
    conn.on("data", (chunk: Buffer) => {
      for (const ev of decoder.push(chunk)) {
        if (ev.kind === "frame" && ev.frame.type === FrameType.Response)
          responses.set(ev.frame.streamId, ev.frame.data);
      }
      if (responses.size >= count) {
        clearTimeout(timer);
        conn.destroy();
        resolve(responses);
      }
    });
    conn.on("error", reject);
    conn.write(bytes);
  });
}

describe("caa serve with the local provider", () => {
  let dir: string;
  let daemon: DaemonProcess;

  before(async () => {
    dir = await makeDaemonDir();
    daemon = await startDaemon(dir, daemonEnv(dir));
  });

  after(async () => {
    await daemon?.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: daemon?.bridge ?? "" });
  });

  // runtime-rs before kata 3.23 calls the service remote.Hypervisor (KATA src/libs/protocols/protos/remote.proto).
  const shims = [
    { n: 1, style: "go", service: "hypervisor.Hypervisor" },
    { n: 2, style: "rust", service: "hypervisor.Hypervisor" },
    { n: 5, style: "rust", service: "remote.Hypervisor" },
  ] as const;
  for (const { n, style, service } of shims) {
    test(`the ${style} shim's CreateVM → StartVM → StopVM on ${service} leaves nothing behind`, async () => {
      const id = sandboxId(n);
      const before = vmNamespaces(daemon.env.LOCAL_NETNS_PREFIX);
      const steps = await goShimLifecycle(daemon.socket, { id, style, service, annotations: POD });
      assert.deepEqual(
        steps.map((s) => [s.step, s.code, s.message]),
        [
          ["CreateVM", 0, ""],
          ["StartVM", 0, ""],
          ["StopVM", 0, ""],
        ],
      );
      assert.equal(steps[0].agentSocketPath, `${daemon.podsDir}/${id}/agent.ttrpc`);
      assert.deepEqual(vmNamespaces(daemon.env.LOCAL_NETNS_PREFIX), before, "no VM namespace left");
      assert.equal(existsSync(`${daemon.podsDir}/${id}`), false, "pod directory removed");
      // Upstream's e2e suite greps for this line (docs/upstream-compat.md §10).
      assert.match(
        daemon.logs(),
        new RegExp(
          `\\d{4}/\\d{2}/\\d{2} \\d{2}:\\d{2}:\\d{2} \\[adaptor/cloud\\] create a sandbox ${id} for pod nginx in namespace default \\(netns: \\)`,
        ),
      );
    });
  }

  test("remote.Hypervisor answers with the same errors", async () => {
    const [unknown] = await goShimLifecycle(daemon.socket, {
      id: sandboxId(98),
      service: "remote.Hypervisor",
      steps: ["stop"],
    });
    assert.equal(unknown.code, 5);
    assert.equal(unknown.message, `stopping VM: sandbox ${sandboxId(98)} does not exist`);
  });

  test(
    "a running sandbox is a VM namespace with a process, until StopVM",
    { skip: needsRoot() },
    async () => {
      const id = sandboxId(3);
      const before = vmNamespaces(daemon.env.LOCAL_NETNS_PREFIX);
      await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create", "start"] });
      const during = vmNamespaces(daemon.env.LOCAL_NETNS_PREFIX).filter((n) => !before.includes(n));
      assert.equal(during.length, 1, "one VM namespace while running");
      const stop = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
      assert.equal(stop[0].code, 0);
      assert.deepEqual(vmNamespaces(daemon.env.LOCAL_NETNS_PREFIX), before);
    },
  );

  test("repeated StartVM and StopVM are idempotent", async () => {
    const id = sandboxId(4);
    await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create", "start"] });
    const again = await goShimLifecycle(daemon.socket, { id, steps: ["start", "stop", "stop"] });
    assert.deepEqual(
      again.map((s) => s.code),
      [0, 0, 0],
    );
  });

  test("StopVM of a sandbox never created gives upstream's error", async () => {
    const [stop] = await goShimLifecycle(daemon.socket, { id: sandboxId(99), steps: ["stop"] });
    assert.equal(stop.code, 5);
    assert.equal(stop.message, `stopping VM: sandbox ${sandboxId(99)} does not exist`);
  });

  test("invalid sandbox ids are refused with InvalidArgument and a clear message", async () => {
    for (const [id, reason] of [
      ["../../etc", /contains '\/'/],
      ["..", /"\.\."/],
      ["a".repeat(200), /long/],
      ["abc\u0001def", /control/],
      ["", /empty/],
    ] as const) {
      const [create] = await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create"] });
      assert.equal(create.code, 3, `id ${JSON.stringify(id)}`);
      assert.match(create.message, /^invalid sandbox id /);
      assert.match(create.message, reason);
    }
    assert.equal(existsSync(`${daemon.podsDir}/etc`), false);
  });

  test("missing pod name annotation gives upstream's error", async () => {
    const [create] = await goShimLifecycle(daemon.socket, {
      id: sandboxId(5),
      annotations: { "io.kubernetes.cri.sandbox-namespace": "default" },
      steps: ["create"],
    });
    assert.notEqual(create.code, 0);
    assert.match(create.message, /pod name .*missing/i);
  });

  test("an unsupported instance type fails CreateVM with upstream's string", async () => {
    const [create] = await goShimLifecycle(daemon.socket, {
      id: sandboxId(6),
      annotations: { ...POD, "io.katacontainers.config.hypervisor.machine_type": "m5.huge" },
      steps: ["create"],
    });
    assert.notEqual(create.code, 0);
    assert.match(create.message, /requested instance type \("m5\.huge"\) is not/);
  });

  test("unknown services and methods are Unimplemented, as containerd's server says", async () => {
    const [svc] = await goClientCall(daemon.socket, { service: "no.Such", method: "Thing" });
    assert.deepEqual([svc.code, svc.message], [12, "service no.Such"]);
    const [m] = await goClientCall(daemon.socket, { service: "hypervisor.Hypervisor", method: "Reboot" });
    assert.deepEqual([m.code, m.message], [12, "method Reboot"]);
    const [v] = await goClientCall(daemon.socket, { service: "hypervisor.Hypervisor", method: "Version" });
    assert.equal(v.code, 0);
    assert.equal(Buffer.from(v.payloadHex, "hex").toString("latin1"), "\n\u00050.0.0");
  });

  test("an undecodable payload is InvalidArgument", async () => {
    const [r] = await goClientCall(daemon.socket, {
      service: "hypervisor.Hypervisor",
      method: "StartVM",
      payload: Buffer.from([0x0a, 0xff]),
    });
    assert.equal(r.code, 3);
  });

  test("an oversized frame gets ResourceExhausted and the connection keeps working", async () => {
    const big = Buffer.alloc(5 << 20, 0x41);
    const oversized = encodeFrame(1, FrameType.Request, big);
    const version = encodeFrame(
      3,
      FrameType.Request,
      Request.encode({
        service: "hypervisor.Hypervisor",
        method: "Version",
        payload: Buffer.alloc(0),
        timeoutNano: 0,
        metadata: [],
      }).finish(),
    );
    const responses = await rawExchange(daemon.socket, Buffer.concat([oversized, version]), 2);
    assert.equal(Response.decode(responses.get(1)!).status?.code, 8);
    const ok = Response.decode(responses.get(3)!);
    assert.equal(ok.status?.code ?? 0, 0);
  });

  test("garbage bytes on one connection do not disturb another", async () => {
    const junk = net.connect(daemon.socket);
    junk.write(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100)));
    const [v] = await goClientCall(daemon.socket, { service: "hypervisor.Hypervisor", method: "Version" });
    assert.equal(v.code, 0);
    junk.destroy();
  });

  test("the gRPC endpoint serves the same lifecycle", async () => {
    const def = grpcServiceDefinition(HypervisorDefinition);
    const Client = grpc.makeGenericClientConstructor(def, HypervisorDefinition.fullName);
    const client = new Client(`unix://${daemon.grpcSocket}`, grpc.credentials.createInsecure());
    const call = <T>(method: string, req: unknown) =>
      new Promise<T>((resolve, reject) =>
        client.makeUnaryRequest(
          def[method].path,
          def[method].requestSerialize,
          def[method].responseDeserialize,
          req,
          (err, res) => (err ? reject(err) : resolve(res as T)),
        ),
      );
    const id = sandboxId(7);
    try {
      const created = await call<{ agentSocketPath: string }>("createVM", {
        id,
        annotations: POD,
        networkNamespacePath: "",
      });
      assert.equal(created.agentSocketPath, `${daemon.podsDir}/${id}/agent.ttrpc`);
      await call("startVM", { id });
      await call("stopVM", { id });
      await assert.rejects(
        call("createVM", { id: "../x", annotations: POD, networkNamespacePath: "" }),
        (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT,
      );
    } finally {
      client.close();
    }
  });

  test("the gRPC endpoint answers under remote.Hypervisor too", async () => {
    const LegacyHypervisorGrpc = grpcServiceDefinition(HypervisorDefinition, LEGACY_HYPERVISOR_SERVICE);
    const Legacy = grpc.makeGenericClientConstructor(LegacyHypervisorGrpc, LEGACY_HYPERVISOR_SERVICE);
    const client = new Legacy(`unix://${daemon.grpcSocket}`, grpc.credentials.createInsecure());
    const version = (req: VersionRequest) =>
      new Promise<VersionResponse>((resolve, reject) =>
        client.makeUnaryRequest(
          LegacyHypervisorGrpc.version.path,
          LegacyHypervisorGrpc.version.requestSerialize,
          LegacyHypervisorGrpc.version.responseDeserialize,
          req,
          (err, res) =>
            err || !res ? reject(err ?? new Error("no response")) : resolve(res as VersionResponse),
        ),
      );
    try {
      assert.equal((await version({ version: "" })).version, "0.0.0");
    } finally {
      client.close();
    }
  });
});

test("a POD_SUBNET_CIDRS entry that is not an IPv4 CIDR is refused at start-up", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, {
    EXTERNAL_NETWORK_VIA_PODVM: "true",
    POD_SUBNET_CIDRS: "10.244.0.0/16,10.96.0/12",
  });
  try {
    await assert.rejects(
      startDaemon(dir, env, 60_000),
      /POD_SUBNET_CIDRS: "10\.96\.0\/12" is not an IPv4 CIDR/,
    );
  } finally {
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
});

test("a PODS_DIR too long for a 64-character sandbox id is refused at start-up", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, { PODS_DIR: `${dir}/${"p".repeat(80)}` });
  try {
    await assert.rejects(startDaemon(dir, env, 60_000), /PODS_DIR .* is too long/);
  } finally {
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
});
