// A pod's cloud volume on the agent path, with a real disk: the shim's CreateContainer goes through
// the worker-side proxy (which adds the cloud_volumes annotation for the mounts that are cloud
// volumes) and the forwarder (which finds the disk by its LUN, formats it only because it is blank,
// mounts it at /run/cloud-volumes/<name>, points the container's bind mount there and mkdirs a
// missing bind source) to the test agent. The "disk" is a file-backed ext4 (a loop mount) behind
// the udev link an Azure VM has, /dev/disk/azure/data/by-lun/<lun>, under the forwarder's root.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, stat, symlink, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CreateContainerRequest } from "../../src/gen/agent/agent.ts";
import type { CloudVolume } from "../../src/sandbox/cloud-volumes.ts";
import { Code, TtrpcClient, TtrpcError } from "../../src/ttrpc/index.ts";
import { POD_NS_PATH, setupAgentPath, type AgentPathEnv } from "../fixtures/test-agent-env.ts";
import { needsLoopMount } from "../helpers/requires.ts";

const AGENT = "grpc.AgentService";
const ANNOTATION = "io.confidentialcontainers.org.cloud_volumes";
const DATA_SRC = "/run/kata-containers/shared/containers/c1-data";
const CACHE_SRC = "/run/kata-containers/shared/containers/c1-cache";

function createContainer(id: string): Uint8Array {
  return CreateContainerRequest.encode(
    CreateContainerRequest.fromPartial({
      containerId: id,
      OCI: {
        Version: "1.1.0",
        Annotations: { "io.kubernetes.cri.container-type": "container" },
        Mounts: [
          { destination: "/data", source: DATA_SRC, type: "bind", options: ["rbind", "rw"] },
          { destination: "/cache", source: CACHE_SRC, type: "bind", options: ["rbind"] },
          { destination: "/proc", source: "proc", type: "proc", options: [] },
        ],
        Linux: { CgroupsPath: "", Namespaces: [{ Type: "pid", Path: "" }] },
      },
    }),
  ).finish();
}

async function mountPoints(): Promise<string[]> {
  return (await readFile("/proc/self/mountinfo", "utf8"))
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter(Boolean);
}

describe("cloud volumes on the agent path: proxy → forwarder → agent", { skip: needsLoopMount() }, () => {
  let env: AgentPathEnv;
  let root: string;
  let image: string;
  const clients: TtrpcClient[] = [];
  const data: CloudVolume = {
    name: "data",
    mountPoint: "/data",
    fsType: "ext4",
    lun: 0,
    diskId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/pvc-data",
    fsGroup: 2000,
  };

  /** A forwarder whose root is this test's "VM", and a proxy carrying these volumes towards it. */
  async function path2(volumes: CloudVolume[]): Promise<TtrpcClient> {
    const fw = await env.startForwarder(0, { rootDir: root, diskDetectAttempts: 2, diskDetectDelay: 10 });
    const proxy = env.newProxy({ port: fw.port, cloudVolumes: volumes });
    await proxy.start();
    const client = await TtrpcClient.connect(proxy.socketPath);
    clients.push(client);
    return client;
  }

  const lastCreate = () => {
    const call = env.agent.calls.findLast((c) => c.method === "CreateContainer");
    return CreateContainerRequest.decode(Buffer.from(call?.payload ?? "", "base64"));
  };

  before(async () => {
    env = await setupAgentPath();
    root = path.join(env.dir, "vmroot");
    image = path.join(env.dir, "pvc-data.img");
    await writeFile(image, "");
    await truncate(image, 32 << 20);
    const byLun = path.join(root, "dev/disk/azure/data/by-lun");
    await mkdir(byLun, { recursive: true });
    await symlink(image, path.join(byLun, "0"));
  });
  after(async () => {
    for (const c of clients) c.close();
    const dir = path.join(root, "run/cloud-volumes/data");
    if ((await mountPoints()).includes(dir)) execFileSync("umount", [dir]);
    await env.close();
  });

  test("the blank disk is formatted, mounted, and the container's mount points at it; a missing bind source is made", async () => {
    const client = await path2([data]);
    await client.call(AGENT, "CreateContainer", createContainer("c1"), { timeoutMs: 30_000 });
    const got = lastCreate();
    const oci = got.OCI;
    assert.ok(oci);
    // Worker side: upstream's annotation, LUN and fs_group as strings.
    assert.deepEqual(JSON.parse(oci.Annotations[ANNOTATION] ?? "{}"), {
      data: { mount_point: "/data", fs_type: "ext4", lun: "0", disk_id: data.diskId, fs_group: "2000" },
    });
    // VM side: the cloud volume's mount is a bind of /run/cloud-volumes/data; the others are kept.
    assert.deepEqual(
      oci.Mounts.map((m) => [m.destination, m.source, m.type, m.options]),
      [
        ["/data", "/run/cloud-volumes/data", "bind", ["rbind", "rw"]],
        ["/cache", CACHE_SRC, "bind", ["rbind"]],
        ["/proc", "proc", "proc", []],
      ],
    );
    assert.deepEqual(
      oci.Linux?.Namespaces.map((n) => [n.Type, n.Path]),
      [
        ["pid", ""],
        ["network", POD_NS_PATH],
      ],
    );
    const dir = path.join(root, "run/cloud-volumes/data");
    assert.ok((await mountPoints()).includes(dir), `${dir} is a mount point`);
    assert.match(execFileSync("blkid", ["-p", image], { encoding: "utf8" }), /TYPE="ext4"/);
    const st = await stat(dir);
    assert.equal(st.gid, 2000);
    assert.equal(st.mode & 0o7777, 0o2775);
    assert.ok(
      (await stat(path.join(root, CACHE_SRC))).isDirectory(),
      "missing bind source made under the VM root",
    );
    // The source the VM side replaced is not made: the container never sees it.
    await assert.rejects(stat(path.join(root, DATA_SRC)));
    await writeFile(path.join(dir, "kept.txt"), "written by the first pod\n");

    await client.call(AGENT, "DestroySandbox", new Uint8Array(), { timeoutMs: 30_000 });
    assert.equal((await mountPoints()).includes(dir), false, "DestroySandbox unmounts it");
  });

  test("a disk that already has a file system is mounted as it is: the data is still there", async () => {
    const client = await path2([data]);
    await client.call(AGENT, "CreateContainer", createContainer("c2"), { timeoutMs: 30_000 });
    assert.equal(lastCreate().OCI?.Mounts[0].source, "/run/cloud-volumes/data");
    const dir = path.join(root, "run/cloud-volumes/data");
    assert.equal(await readFile(path.join(dir, "kept.txt"), "utf8"), "written by the first pod\n");
    await client.call(AGENT, "DestroySandbox", new Uint8Array(), { timeoutMs: 30_000 });
    assert.equal((await mountPoints()).includes(dir), false);
  });

  test("a disk the VM does not have fails CreateContainer with the reason; the agent never sees it", async () => {
    const client = await path2([{ ...data, name: "gone", lun: 5 }]);
    const before = env.agent.calls.length;
    await assert.rejects(
      client.call(AGENT, "CreateContainer", createContainer("c3"), { timeoutMs: 30_000 }),
      (err: Error) =>
        err instanceof TtrpcError &&
        err.code === Code.Internal &&
        /^cloud volume gone: no data disk found for LUN 5 .* after 2 attempts/.test(err.message),
    );
    assert.equal(env.agent.calls.slice(before).filter((c) => c.method === "CreateContainer").length, 0);
  });

  test("a container without a mount at the volume's mount_point gets no annotation and no mount", async () => {
    const client = await path2([{ ...data, mountPoint: "/elsewhere" }]);
    await client.call(AGENT, "CreateContainer", createContainer("c4"), { timeoutMs: 30_000 });
    const oci = lastCreate().OCI;
    assert.equal(oci?.Annotations[ANNOTATION], undefined);
    assert.equal(oci?.Mounts[0].source, DATA_SRC);
    assert.equal((await mountPoints()).includes(path.join(root, "run/cloud-volumes/data")), false);
  });
});
