// Defects found by an adversarial run, each driven through the daemon's real sockets: an unreadable
// record must not stop the daemon, caller-supplied text must not forge log lines or be echoed
// unbounded, and a symlink planted under PODS_DIR must not be followed.
import assert from "node:assert/strict";
import { mkdir, readdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { HypervisorDefinition } from "../../src/gen/hypervisor/hypervisor.ts";
import { TtrpcClient } from "../../src/ttrpc/client.ts";
import { secretsIn } from "../helpers/secret-scan.ts";
import {
  cleanupDaemon,
  daemonEnv,
  makeDaemonDir,
  startDaemon,
  type DaemonProcess,
} from "../helpers/daemon.ts";

const POD = { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "shop" };
const id = (n: number) => n.toString(16).padStart(8, "0").repeat(8);

describe("caa serve against hostile input and a damaged state directory", () => {
  let dir: string;
  let daemon: DaemonProcess;
  let client: TtrpcClient;
  const env = () => daemonEnv(dir, { LOCAL_LOOPBACK: "true", LOCAL_LOOPBACK_SUBNET: "127.78.0.0/24" });

  before(async () => {
    dir = await makeDaemonDir();
    daemon = await startDaemon(dir, env());
    client = await TtrpcClient.connect(daemon.socket);
  });
  after(async () => {
    client?.close();
    await daemon?.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: "" });
  });

  test("an empty sandbox record is quarantined, named in the log, and the other sandboxes are served", async () => {
    await client.callMethod(HypervisorDefinition, "createVM", {
      id: id(1),
      annotations: POD,
      networkNamespacePath: "",
    });
    client.close();
    await daemon.kill("SIGKILL");
    const records = join(dir, "state", "sandboxes");
    await writeFile(join(records, `${id(2)}.json`), "");
    daemon = await startDaemon(dir, env());
    client = await TtrpcClient.connect(daemon.socket);
    const bad = join(records, `${id(2)}.json`);
    assert.ok(daemon.logs().includes(bad), `the log names ${bad}:\n${daemon.logs()}`);
    const moved = await readdir(join(records, "quarantine"));
    assert.equal(moved.length, 1);
    assert.ok(!(await readdir(records)).includes(`${id(2)}.json`));
    // The readable record is still known: stopping it succeeds instead of "does not exist".
    await client.callMethod(HypervisorDefinition, "stopVM", { id: id(1) });
  });

  test("a pod name with a newline does not forge a line of the text log", async () => {
    const forged = "2026/01/01 00:00:00 [adaptor] forged line";
    const annotations = { ...POD, "io.kubernetes.cri.sandbox-name": `web\n${forged}` };
    await client
      .callMethod(HypervisorDefinition, "createVM", { id: id(3), annotations, networkNamespacePath: "" })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const lines = daemon.logs().split("\n");
    assert.ok(
      lines.some((l) => l.includes("forged line")),
      "the name was logged",
    );
    assert.ok(!lines.some((l) => l.startsWith(forged)), "no line starts with the forged text");
  });

  test("a 1 MiB sandbox id is refused without being echoed whole", async () => {
    const huge = "a".repeat(1 << 20);
    for (const method of ["createVM", "startVM", "stopVM"] as const) {
      const req = { id: huge, annotations: POD, networkNamespacePath: "" };
      await assert.rejects(
        client.callMethod(HypervisorDefinition, method, req),
        (err: Error & { code: number }) => {
          assert.equal(err.code, 3, `${method}: InvalidArgument`);
          assert.ok(err.message.length < 300, `${method}: message of ${err.message.length} characters`);
          assert.match(err.message, /1048576 bytes/);
          return true;
        },
      );
    }
  });

  test("an annotation key longer than a Kubernetes key is refused, bounded", async () => {
    const annotations = { ...POD, ["k".repeat(100_000)]: "v" };
    await assert.rejects(
      client.callMethod(HypervisorDefinition, "createVM", {
        id: id(4),
        annotations,
        networkNamespacePath: "",
      }),
      (err: Error & { code: number }) => {
        assert.equal(err.code, 3);
        assert.match(err.message, /annotation key .* is too long: 100000 bytes/);
        assert.ok(err.message.length < 300);
        return true;
      },
    );
  });

  test("a symlink planted at PODS_DIR/<id> is not followed", async () => {
    const target = join(dir, "elsewhere");
    await mkdir(target);
    await mkdir(daemon.podsDir, { recursive: true });
    await symlink(target, join(daemon.podsDir, id(5)));
    await assert.rejects(
      client.callMethod(HypervisorDefinition, "createVM", {
        id: id(5),
        annotations: POD,
        networkNamespacePath: "",
      }),
      /symbolic link/,
    );
    assert.deepEqual(await readdir(target), [], "nothing was created in the link's target");
    assert.deepEqual(secretsIn(daemon.logs()), [], "no key material or user-data in the log");
  });
});
