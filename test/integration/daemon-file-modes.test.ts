// Security checks on what `caa serve` writes: after a full lifecycle every file, directory and
// socket under STATE_DIR and PODS_DIR (and the hypervisor sockets) is closed to group and other,
// the daemon's log carries no key material and no user-data, and a symlink planted under STATE_DIR
// is refused rather than followed.
import assert from "node:assert/strict";
import { lstat, mkdir, readdir, readFile, symlink } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { HypervisorDefinition } from "../../src/gen/hypervisor/hypervisor.ts";
import { TtrpcClient } from "../../src/ttrpc/client.ts";
import { cleanupDaemon, daemonEnv, makeDaemonDir, startDaemon } from "../helpers/daemon.ts";
import { secretsIn } from "../helpers/secret-scan.ts";

const POD = { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "shop" };
const ID = "5ec0".repeat(16);

/** Every path under `root` with its lstat mode, depth first. */
async function walk(root: string): Promise<{ path: string; mode: number; kind: string }[]> {
  const out: { path: string; mode: number; kind: string }[] = [];
  const st = await lstat(root);
  const kind = st.isSymbolicLink() ? "symlink" : st.isDirectory() ? "dir" : st.isSocket() ? "socket" : "file";
  out.push({ path: root, mode: st.mode & 0o777, kind });
  if (kind === "dir") for (const name of await readdir(root)) out.push(...(await walk(join(root, name))));
  return out;
}

test("after a lifecycle nothing the daemon wrote is open to group or other, and its log holds no secret", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, { LOCAL_LOOPBACK: "true", LOCAL_LOOPBACK_SUBNET: "127.75.0.0/24" });
  const daemon = await startDaemon(dir, env);
  try {
    const client = await TtrpcClient.connect(daemon.socket);
    try {
      await client.callMethod(HypervisorDefinition, "createVM", {
        id: ID,
        annotations: POD,
        networkNamespacePath: "",
      });
      await client.callMethod(HypervisorDefinition, "startVM", { id: ID });
      const written = [
        ...(await walk(daemon.stateDir)),
        ...(await walk(join(daemon.podsDir, ID))),
        ...(await walk(daemon.socket)),
        ...(await walk(daemon.grpcSocket)),
      ];
      assert.ok(written.some((e) => e.path.endsWith("ca.key")));
      assert.ok(written.some((e) => e.path.endsWith("user-data")));
      assert.ok(written.some((e) => e.kind === "socket" && e.path.endsWith("agent.ttrpc")));
      // `<vm>/root` is the local VM's own filesystem, written by the processes inside it (the
      // forwarder's /run/peerpod files are 0600 in 0700: test/unit/forwarder-provision.test.ts);
      // the VM's directory around it is checked to be closed.
      const vmRoot = /\/provider-local\/local-[0-9a-f]+\/root(\/|$)/;
      assert.ok(
        written.some((e) => vmRoot.test(e.path)),
        "the walk reached a VM's root",
      );
      const open = written.filter(
        (e) => !vmRoot.test(e.path) && (e.kind === "symlink" || (e.mode & 0o077) !== 0),
      );
      assert.deepEqual(
        open.map((e) => `${e.path} ${e.kind} ${e.mode.toString(8)}`),
        [],
        "group/other bits or symlinks",
      );
      // The control for the log scan below: the VM's user-data does hold what the scan looks for.
      const userData = written.find((e) => e.path.endsWith("user-data"))?.path ?? "";
      assert.notDeepEqual(secretsIn(await readFile(userData, "utf8")), []);
      await client.callMethod(HypervisorDefinition, "stopVM", { id: ID });
    } finally {
      client.close();
    }
    await daemon.kill("SIGTERM");
    assert.deepEqual(secretsIn(daemon.logs()), [], daemon.logs());
  } finally {
    await daemon.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: "" });
  }
});

test("a symlink planted at STATE_DIR/tls is refused at start-up, not followed", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, { LOCAL_LOOPBACK: "true", LOCAL_LOOPBACK_SUBNET: "127.75.1.0/24" });
  const target = join(dir, "elsewhere");
  await mkdir(target);
  await mkdir(env.STATE_DIR, { recursive: true, mode: 0o700 });
  await symlink(target, join(env.STATE_DIR, "tls"));
  try {
    await assert.rejects(startDaemon(dir, env), /tls is a symbolic link; refusing to follow it/);
    assert.deepEqual(await readdir(target), [], "no key was written into the link's target");
  } finally {
    await cleanupDaemon({ dir, bridge: "" });
  }
});
