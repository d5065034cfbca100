// A StopVM whose instance delete fails (EC2 answering TerminateInstances with 503 for longer than
// the provider retries) answers the shim with the error, and the daemon then finishes the stop by
// itself: the shims only log StopVM errors and never ask again, so nothing else would. Through
// the whole daemon (`caa serve` on the aws provider, moto behind the fault proxy, the Go shim
// client); found by the chaos harness on the ARM emulator, where such a sandbox stayed "stopping"
// with its VM up until the next restart.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DescribeInstanceAttributeCommand, type EC2Client } from "@aws-sdk/client-ec2";
import {
  cleanupDaemon,
  daemonEnv,
  freePort,
  makeDaemonDir,
  startDaemon,
  waitFor,
  type DaemonProcess,
} from "../helpers/daemon.ts";
import { bootFakeVm, stopFakeVm } from "../helpers/fake-pod-vm.ts";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.ts";
import { goShimLifecycle } from "../helpers/go-peer.ts";
import {
  awsEnv,
  instancesOfSandbox,
  motoClient,
  seedWorld,
  type MotoWorld,
} from "../helpers/moto-fixtures.ts";
import { needsMoto, startMoto, type Moto } from "../helpers/moto.ts";

const POD = { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "default" };
const FAST_RETRIES = {
  AWS_API_RETRY_BASE_DELAY: "5ms",
  AWS_API_RETRY_MAX_DELAY: "20ms",
  AWS_API_MAX_ATTEMPTS: "2",
};

describe(
  "caa serve: a StopVM whose delete failed is finished by the daemon",
  { skip: needsMoto(), timeout: 240_000 },
  () => {
    let moto: Moto;
    let ec2: EC2Client;
    let proxy: FaultProxy;
    let world: MotoWorld;
    let dir: string;
    /** The one VM played at a time (each sandbox's in turn, on the same port). */
    let vm: ChildProcess[] = [];
    /** While true, every TerminateInstances gets a 503. */
    let terminateFails = false;

    before(async () => {
      moto = await startMoto();
      ec2 = motoClient(moto.url);
      world = await seedWorld(ec2);
      proxy = await startFaultProxy(moto.url);
      proxy.setPlan({
        script: (action) => (terminateFails && action === "TerminateInstances" ? "unavailable" : undefined),
      });
      dir = await makeDaemonDir();
    });
    after(async () => {
      await stopFakeVm(vm);
      ec2?.destroy();
      await proxy?.stop();
      await moto?.stop();
      await cleanupDaemon({ dir, bridge: "" });
    });

    const stageOf = async (env: Record<string, string>, id: string) =>
      (
        JSON.parse(await readFile(join(env.STATE_DIR, "sandboxes", `${id}.json`), "utf8")) as {
          stage: string;
        }
      ).stage;
    const live = (id: string) => instancesOfSandbox(ec2, id, ["pending", "running"]);

    /** CreateVM + StartVM through the Go shim, with the instance played on this host. */
    async function runningSandbox(daemon: DaemonProcess, port: number): Promise<string> {
      const id = randomBytes(32).toString("hex");
      const [create] = await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create"] });
      assert.equal(create.code, 0, create.message);
      const start = goShimLifecycle(daemon.socket, { id, steps: ["start"] });
      const [instance] = await waitFor("the instance", async () => {
        const found = await live(id);
        return found.length > 0 ? found : undefined;
      });
      const attr = await ec2.send(
        new DescribeInstanceAttributeCommand({ InstanceId: instance.InstanceId, Attribute: "userData" }),
      );
      await stopFakeVm(vm);
      vm = await bootFakeVm(
        dir,
        Buffer.from(attr.UserData?.Value ?? "", "base64").toString("utf8"),
        port,
        id.slice(0, 8),
      );
      const [started] = await start;
      assert.equal(started.code, 0, started.message);
      return id;
    }

    /** The sandbox ends stopped, its instance terminated and its pod directory gone, with no further StopVM. */
    async function stoppedByTheDaemon(env: Record<string, string>, id: string): Promise<void> {
      await waitFor(
        "the daemon's own retry of the stop",
        async () => ((await stageOf(env, id)) === "stopped" ? true : undefined),
        60_000,
      );
      assert.deepEqual(await live(id), [], "the instance is terminated");
      await assert.rejects(access(join(env.PODS_DIR, id)), "the pod directory is removed");
    }

    test("the shim gets the delete's error, then the daemon deletes the instance by itself; after a restart too", async () => {
      const port = await freePort();
      const env = daemonEnv(dir, {
        CLOUD_PROVIDER: "aws",
        ...awsEnv(proxy.url, world, { PODVM_INSTANCE_TYPE: "m6a.large", ...FAST_RETRIES }),
        FORWARDER_HOST: "127.0.0.1",
        FORWARDER_PORT: String(port),
      });
      let daemon = await startDaemon(dir, env, 60_000);
      try {
        // 1. The StopVM fails; the daemon finishes it once EC2 answers again.
        const first = await runningSandbox(daemon, port);
        terminateFails = true;
        const [stop] = await goShimLifecycle(daemon.socket, { id: first, steps: ["stop"] });
        assert.notEqual(stop.code, 0, "StopVM reports the failed delete");
        assert.match(stop.message, new RegExp(`stopping VM: deleting instance of sandbox ${first}: `));
        assert.equal(await stageOf(env, first), "stopping");
        assert.equal((await live(first)).length, 1, "the instance is still up");
        await waitFor("the retry announced", async () =>
          daemon.logs().includes(`StopVM of sandbox ${first} failed; the daemon retries it`)
            ? true
            : undefined,
        );
        terminateFails = false;
        await stoppedByTheDaemon(env, first);
        assert.match(daemon.logs(), new RegExp(`finished StopVM of sandbox ${first} on the daemon's retry`));

        // 2. The StopVM fails and the daemon stops before its retry; the next daemon's recovery
        //    tries again, fails again, and keeps retrying until EC2 answers.
        const second = await runningSandbox(daemon, port);
        terminateFails = true;
        const [stop2] = await goShimLifecycle(daemon.socket, { id: second, steps: ["stop"] });
        assert.notEqual(stop2.code, 0);
        await daemon.kill("SIGTERM");
        daemon = await startDaemon(dir, env, 60_000);
        await waitFor("recovery's failed attempt", async () =>
          daemon.logs().includes("finishing an interrupted StopVM failed") ? true : undefined,
        );
        assert.equal(await stageOf(env, second), "stopping");
        terminateFails = false;
        await stoppedByTheDaemon(env, second);
      } finally {
        terminateFails = false;
        await daemon.kill("SIGTERM");
      }
    });
  },
);
