import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { describe, test } from "node:test";
import {
  logCreateSandbox,
  logDestroySandbox,
  logRemoveContainer,
  logSetPolicy,
  logStartContainer,
} from "../../src/agentproxy/call-log.ts";
import {
  CDI_ANNOTATION,
  DEFAULT_GPUS_ANNOTATION,
  editCreateContainerForWorker,
} from "../../src/agentproxy/index.ts";
import { DialTimeoutError, withBackoff } from "../../src/relay/index.ts";
import { formatGoDuration } from "../../src/util/duration.ts";
import { closedPort } from "../fixtures/test-agent-env.ts";
import {
  addPodNetworkNamespace,
  clearSandboxDns,
  CloudVolumeMounter,
  createContainerInVm,
} from "../../src/forwarder/index.ts";
import {
  CreateContainerRequest,
  CreateSandboxRequest,
  type DeepPartial,
  type Exact,
} from "../../src/gen/agent/agent.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { Code, TtrpcError } from "../../src/ttrpc/index.ts";
import { captureLogger } from "../helpers/capture-logger.ts";

const encode = <I extends Exact<DeepPartial<CreateContainerRequest>, I>>(req: I): Uint8Array =>
  CreateContainerRequest.encode(CreateContainerRequest.fromPartial(req)).finish();

describe("worker-side CreateContainer edit", () => {
  test("logs each storage as upstream (e2e matches `mount_point:… driver:image_guest_pull`)", () => {
    const log = captureLogger();
    const payload = encode({
      containerId: "c1",
      storages: [
        {
          driver: "image_guest_pull",
          source: "nginx:latest",
          fstype: "overlay",
          mountPoint: "/run/kata-containers/c1/rootfs",
        },
      ],
      OCI: { Annotations: {} },
    });
    const out = editCreateContainerForWorker(payload, log.logger);
    assert.equal(out, payload, "unchanged requests are relayed as the same bytes");
    assert.equal(log.find("CreateContainer: containerID:c1").length, 1);
    const line = log.find("mount_point:")[0]?.msg;
    assert.equal(
      line,
      "storage mount_point:/run/kata-containers/c1/rootfs source:nginx:latest fstype:overlay driver:image_guest_pull",
    );
    assert.match(String(line), /mount_point:\S+ .*driver:image_guest_pull/);
  });

  test("adds the CDI annotation only for a non-empty default_gpus", () => {
    const withGpu = editCreateContainerForWorker(
      encode({ OCI: { Annotations: { [DEFAULT_GPUS_ANNOTATION]: "2" } } }),
      silentLogger(),
    );
    assert.equal(
      CreateContainerRequest.decode(withGpu).OCI?.Annotations[CDI_ANNOTATION],
      "nvidia.com/gpu=all",
    );
    const empty = encode({ OCI: { Annotations: { [DEFAULT_GPUS_ANNOTATION]: "" } } });
    assert.equal(editCreateContainerForWorker(empty, silentLogger()), empty);
    const noOci = encode({ containerId: "c2" });
    assert.equal(editCreateContainerForWorker(noOci, silentLogger()), noOci);
  });

  test("names in cloud_volumes exactly the pod's volumes this container mounts, in upstream's form", () => {
    const volumes = [
      { name: "data", mountPoint: "/data", fsType: "ext4" as const, lun: 1, diskId: "vol-0123456789abcdef0" },
      { name: "logs", mountPoint: "/logs", fsType: "xfs" as const, lun: 2, diskId: "vol-0123456789abcdef1" },
    ];
    const log = captureLogger();
    const app = encode({
      containerId: "app",
      OCI: { Mounts: [{ destination: "/data/", source: "/run/x/data", type: "bind" }], Annotations: {} },
    });
    const out = CreateContainerRequest.decode(editCreateContainerForWorker(app, log.logger, volumes));
    assert.equal(
      out.OCI?.Annotations["io.confidentialcontainers.org.cloud_volumes"],
      '{"data":{"mount_point":"/data","fs_type":"ext4","lun":"1","disk_id":"vol-0123456789abcdef0"}}',
    );
    assert.equal(out.OCI?.Mounts[0].source, "/run/x/data", "the VM side rewrites the source, not the worker");
    assert.equal(log.find("Set cloud_volumes annotation:").length, 1);
    // The pause container mounts none of them: relayed as the same bytes.
    const pause = encode({ containerId: "pause", OCI: { Annotations: {} } });
    assert.equal(editCreateContainerForWorker(pause, silentLogger(), volumes), pause);
  });

  test("an undecodable payload is answered with 3 InvalidArgument", () => {
    assert.throws(
      () => editCreateContainerForWorker(Uint8Array.from([0x0a, 0x05, 0x61]), silentLogger()),
      (err: TtrpcError) => err instanceof TtrpcError && err.code === Code.InvalidArgument,
    );
  });
});

describe("worker-side log-only calls", () => {
  test("CreateSandbox, StartContainer, RemoveContainer, DestroySandbox and SetPolicy are logged, bytes untouched", () => {
    const log = captureLogger();
    const sandbox = CreateSandboxRequest.encode(
      CreateSandboxRequest.fromPartial({
        hostname: "nginx",
        sandboxId: "sb1",
        storages: [{ mountPoint: "/m", driver: "local" }],
      }),
    ).finish();
    const start = Uint8Array.from([0x0a, 0x02, 0x63, 0x31]);
    const policy = new TextEncoder().encode('{"secret":"policy text"}');
    assert.equal(logCreateSandbox(sandbox, log.logger), sandbox);
    assert.equal(logStartContainer(start, log.logger), start);
    assert.equal(logRemoveContainer(start, log.logger), start);
    assert.equal(logDestroySandbox(new Uint8Array(), log.logger).length, 0);
    assert.equal(logSetPolicy(policy, log.logger), policy);
    assert.deepEqual(
      log.lines.map((l) => l.msg),
      [
        "CreateSandbox: hostname:nginx sandboxId:sb1",
        "storage mountpoint:/m source: fstype: driver:local",
        "StartContainer: containerID:c1",
        "RemoveContainer: containerID:c1",
        "DestroySandbox",
        "SetPolicy",
      ],
    );
    assert.doesNotMatch(JSON.stringify(log.lines), /policy text/);
  });
});

describe("VM-side edits", () => {
  test("the network namespace is appended, creating Linux when the spec has none", () => {
    const edit = addPodNetworkNamespace("/run/netns/podns");
    const out = CreateContainerRequest.decode(edit(encode({ OCI: { Version: "1.1.0" } }), silentLogger()));
    assert.deepEqual(
      out.OCI?.Linux?.Namespaces.map((n) => [n.Type, n.Path]),
      [["network", "/run/netns/podns"]],
    );
    const noOci = encode({ containerId: "c" });
    assert.equal(edit(noOci, silentLogger()), noOci);
  });

  test("CreateSandbox: dns dropped; without dns the bytes are untouched", () => {
    const withDns = CreateSandboxRequest.encode(
      CreateSandboxRequest.fromPartial({ hostname: "h", dns: ["1.1.1.1"] }),
    ).finish();
    const out = CreateSandboxRequest.decode(clearSandboxDns(withDns, silentLogger()));
    assert.deepEqual([out.hostname, out.dns], ["h", []]);
    const without = CreateSandboxRequest.encode(CreateSandboxRequest.fromPartial({ hostname: "h" })).finish();
    assert.equal(clearSandboxDns(without, silentLogger()), without);
  });
});

describe("VM-side CreateContainer with the forwarder's root", () => {
  test("a missing bind source is made under the root, others are left; a corrupt cloud_volumes refuses the container", async () => {
    const root = await mkdtemp(join(tmpdir(), "vm-edit-"));
    try {
      const edit = createContainerInVm("/run/netns/podns", {
        root,
        mounter: new CloudVolumeMounter(root, { attempts: 1, delayMs: 0 }),
      });
      await mkdir(join(root, "present"));
      const out = CreateContainerRequest.decode(
        await edit(
          encode({
            OCI: {
              Mounts: [
                { destination: "/a", source: "/run/kata-containers/shared/a", type: "bind" },
                { destination: "/b", source: "/present", type: "bind" },
                { destination: "/dev/shm", source: "shm", type: "tmpfs" },
              ],
              Annotations: {},
            },
          }),
          silentLogger(),
        ),
      );
      assert.ok((await stat(join(root, "run/kata-containers/shared/a"))).isDirectory());
      assert.deepEqual((await readdir(root)).sort(), ["present", "run"]);
      assert.equal(out.OCI?.Linux?.Namespaces.at(-1)?.Path, "/run/netns/podns");
      await assert.rejects(
        async () =>
          edit(
            encode({ OCI: { Annotations: { "io.confidentialcontainers.org.cloud_volumes": "{nope" } } }),
            silentLogger(),
          ),
        (err: TtrpcError) =>
          err.code === Code.InvalidArgument && /^corrupt cloud_volumes annotation/.test(err.message),
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("dialling", () => {
  test("Go-style durations without zero units", () => {
    assert.equal(formatGoDuration(300_000), "5m");
    assert.equal(formatGoDuration(30_000), "30s");
    assert.equal(formatGoDuration(90_000), "1m30s");
    assert.equal(formatGoDuration(3_600_000), "1h");
    assert.equal(formatGoDuration(1500), "1.5s");
    assert.equal(formatGoDuration(250), "250ms");
  });

  test("withBackoff retries with growing, capped delays and gives up at the timeout with the last error", async () => {
    const at: number[] = [];
    const delays: number[] = [];
    const t0 = performance.now();
    await assert.rejects(
      withBackoff(
        async () => {
          at.push(performance.now() - t0);
          throw new Error(`attempt ${at.length}`);
        },
        {
          timeoutMs: 1200,
          initialDelayMs: 100,
          maxDelayMs: 300,
          onRetry: (_err, _n, delayMs) => delays.push(delayMs),
        },
      ),
      (err: Error) => {
        assert.ok(err instanceof DialTimeoutError);
        assert.equal(err.lastError?.message, `attempt ${at.length}`);
        return true;
      },
    );
    // The delays chosen: 100, 200, then capped at 300, each plus up to 100 ms of jitter. Wall-clock
    // gaps are only bounded below (a loaded machine makes them longer, never shorter).
    assert.ok(delays.length >= 2, `${delays.length} retries`);
    const ceilings = [100, 200, 300];
    delays.forEach((d, i) => {
      const base = ceilings[Math.min(i, 2)];
      assert.ok(d >= base && d < base + 100, `delay ${i + 1}: ${d} ms`);
    });
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    assert.ok(gaps[0] >= 95, `first gap ${gaps[0]}`);
    assert.ok(at[at.length - 1] < 1200 + 50, "no attempt starts after the timeout");
  });

  test("withBackoff comes back sooner while nobody listens yet (refused port, missing unix socket)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dial-"));
    const port = await closedPort();
    const sock = join(dir, "agent.sock");
    const cases = [
      {
        listen: (s: net.Server) => s.listen(port, "127.0.0.1"),
        connect: () => net.connect(port, "127.0.0.1"),
      },
      { listen: (s: net.Server) => s.listen(sock), connect: () => net.connect(sock) },
    ];
    try {
      for (const { listen, connect } of cases) {
        // It opens a moment later, as a booting VM's forwarder or agent does.
        const server = net.createServer((c) => c.end());
        const opening = setTimeout(() => listen(server), 300);
        const delays: number[] = [];
        const codes = new Set<string>();
        try {
          const c = await withBackoff(
            (signal) =>
              new Promise<net.Socket>((resolve, reject) => {
                const c = connect();
                signal.addEventListener("abort", () => (c.destroy(), reject(signal.reason as Error)), {
                  once: true,
                });
                c.once("connect", () => resolve(c)).once("error", reject);
              }),
            {
              timeoutMs: 5000,
              maxDelayMs: 1000,
              onRetry: (err, _n, delayMs) => {
                codes.add((err as NodeJS.ErrnoException).code ?? "");
                delays.push(delayMs);
              },
            },
          );
          c.destroy();
        } finally {
          clearTimeout(opening);
          server.close();
        }
        // 25, 50, 100, then 200 ms (plus a tenth), where other failures wait 100, 200, 400 ms, ….
        assert.ok(delays.length >= 3, `${delays.length} retries before it opened`);
        assert.ok(delays[0] >= 25 && delays[0] < 30, `first delay ${delays[0]} ms`);
        assert.ok(
          delays.every((d) => d <= 220),
          `delays ${delays.join(", ")}`,
        );
        assert.equal(codes.size, 1, [...codes].join());
        assert.match([...codes][0], /^(ECONNREFUSED|ENOENT)$/);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("withBackoff returns the first success and honours the caller's abort", async () => {
    let n = 0;
    assert.equal(
      await withBackoff(async () => (++n < 3 ? Promise.reject(new Error("no")) : "up"), {
        timeoutMs: 5000,
        initialDelayMs: 10,
      }),
      "up",
    );
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("stop")), 50);
    await assert.rejects(
      withBackoff(() => Promise.reject(new Error("no")), { timeoutMs: 5000, signal: ac.signal }),
      /stop/,
    );
  });

  test("a bind source that climbs out of the forwarder's root with /.. is not created outside it", async () => {
    const parent = await mkdtemp(join(tmpdir(), "vm-edit-"));
    const root = join(parent, "root");
    await mkdir(root);
    try {
      const edit = createContainerInVm("/run/netns/podns", {
        root,
        mounter: new CloudVolumeMounter(root, { attempts: 1, delayMs: 0 }),
      });
      await edit(
        encode({
          OCI: {
            Mounts: [{ destination: "/a", source: "/../escaped", type: "bind" }],
            Annotations: {},
          },
        }),
        silentLogger(),
      );
      assert.deepEqual(await readdir(parent), ["root"]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
