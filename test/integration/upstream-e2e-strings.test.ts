// Every string upstream's e2e suite expects from the adaptor (CAA src/cloud-api-adaptor/test/e2e/:
// common_suite.go, aws_test.go, azure_test.go, assessment_helpers.go), each produced here by the real
// daemon against moto or the ARM emulator, or by the agent proxy's interceptor, and matched the way
// the suite matches it (strings.Contains on the CAA pod log or on the pod's Warning events; a pod
// event carries the kata shim's `rpc error: code = Unknown desc = <our message>`).
//
// Expected strings of the suite that come from elsewhere, so not asserted here: the kata-agent's
// image-pull errors (`401 UNAUTHORIZED`, `access to the requested resource is not authorized`), the
// policy errors (`ExecProcessRequest is blocked by policy`), exec results, and the libvirt-only
// `Error in creating volume: Can't retrieve volume …` and `Using PP SecureComms` (libvirt provider and
// secure comms, not supported: docs/upstream-config.md). `calling PullImage for "<image>"` /
// `successfully pulled image "<image>"` (the large-image timer) are no longer logged by upstream's
// proxy either: PullImage is not an agent call since CAA 59e15e30.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { EC2Client } from "@aws-sdk/client-ec2";
import { generatedPublicKey } from "../../providers/azure/ssh-key.ts";
import { editCreateContainerForWorker } from "../../src/agentproxy/create-container.ts";
import { CreateContainerRequest } from "../../src/gen/agent/agent.ts";
import { startArmEmulator, type ArmEmulator } from "../azure-emulator/index.ts";
import { azureProviderEnv } from "../azure-emulator/env.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import {
  cleanupDaemon,
  daemonEnv,
  freePort,
  makeDaemonDir,
  startDaemon,
  type DaemonProcess,
} from "../helpers/daemon.ts";
import { goShimLifecycle, type ShimStep } from "../helpers/go-peer.ts";
import { awsEnv, motoClient, seedWorld, type MotoWorld } from "../helpers/moto-fixtures.ts";
import { needsMoto, startMoto, type Moto } from "../helpers/moto.ts";

const POD = {
  "io.kubernetes.cri.sandbox-name": "e2e",
  "io.kubernetes.cri.sandbox-namespace": "coco-pp-e2e-test",
};
const HV = "io.katacontainers.config.hypervisor.";
const skip = needsMoto();

/** CreateVM then StartVM (the shim sends StopVM after a failure too); returns the failing step. */
async function failingStep(daemon: DaemonProcess, annotations: Record<string, string>): Promise<ShimStep> {
  const id = randomBytes(32).toString("hex");
  const steps = await goShimLifecycle(daemon.socket, { id, annotations: { ...POD, ...annotations } });
  const failed = steps.find((s) => s.code !== 0);
  assert.ok(failed, `a step failed: ${JSON.stringify(steps)}`);
  return failed;
}

/** The text the suite reads in the pod's Warning events (kata's remote.go wraps the ttrpc status). */
const podEvent = (s: ShimStep) =>
  `remote hypervisor call failed: rpc error: code = Unknown desc = ${s.message}`;

describe("strings upstream's e2e suite expects", { skip, timeout: 240_000 }, () => {
  let moto: Moto;
  let ec2: EC2Client;
  let world: MotoWorld;
  let emu: ArmEmulator;
  let dir: string;
  let aws: DaemonProcess;
  let azure: DaemonProcess;

  before(async () => {
    [moto, emu, dir] = await Promise.all([
      startMoto(),
      startArmEmulator({ lroDelayMs: 20 }),
      makeDaemonDir(),
    ]);
    ec2 = motoClient(moto.url);
    world = await seedWorld(ec2);
    // PROXY_TIMEOUT short: no VM boots here, only what happens before the agent connects matters.
    const common = { FORWARDER_HOST: "127.0.0.1", PROXY_TIMEOUT: "1s" };
    aws = await startDaemon(
      dir,
      daemonEnv(dir, {
        CLOUD_PROVIDER: "aws",
        ...awsEnv(moto.url, world, { PODVM_INSTANCE_TYPES: "m6a.large,m6a.xlarge" }),
        ...common,
        FORWARDER_PORT: String(await freePort()),
      }),
      60_000,
    );
    const azDir = join(dir, "azure");
    const keyFile = join(dir, "id_rsa.pub");
    await writeFile(keyFile, (await generatedPublicKey(2048)) + "\n");
    azure = await startDaemon(
      azDir,
      daemonEnv(azDir, {
        CLOUD_PROVIDER: "azure",
        ...azureProviderEnv(emu, { AZURE_SSH_KEY_PATH: keyFile }),
        ...common,
        FORWARDER_PORT: String(await freePort()),
      }),
      60_000,
    );
  });

  after(async () => {
    await aws?.kill("SIGTERM");
    await azure?.kill("SIGTERM");
    ec2?.destroy();
    await Promise.all([moto?.stop(), emu?.stop()]);
    await cleanupDaemon({ dir, bridge: "" });
  });

  test("CAA log: `<date> <time> [adaptor/cloud] create a sandbox <id> for pod <pod>` (assessment_helpers.go)", async () => {
    const id = randomBytes(32).toString("hex");
    await goShimLifecycle(aws.socket, { id, annotations: POD, steps: ["create", "stop"] });
    assert.match(
      aws.logs(),
      new RegExp(
        `[0-9]{4}/[0-9]{2}/[0-9]{2} ([0-1]?[0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] \\[adaptor/cloud\\] create a sandbox [0-9|a-f]* for pod ${POD["io.kubernetes.cri.sandbox-name"]}`,
      ),
    );
  });

  test('pod event: `requested instance type ("X") is not part of supported instance types list`', async () => {
    const s = await failingStep(aws, { [`${HV}machine_type`]: "m6a.8xlarge" });
    assert.ok(
      podEvent(s).includes(
        'requested instance type ("m6a.8xlarge") is not part of supported instance types list',
      ),
      s.message,
    );
  });

  test("pod event: larger memory, `failed to get instance type based on vCPU and memory annotations: …`", async () => {
    const s = await failingStep(aws, { [`${HV}default_vcpus`]: "2", [`${HV}default_memory`]: "18432" });
    assert.ok(
      podEvent(s).includes(
        "failed to get instance type based on vCPU and memory annotations: no instance type found for the given vcpus (2) and memory (18432)",
      ),
      s.message,
    );
  });

  test("pod event: larger CPU, `no instance type found for the given vcpus (3) and memory (12288)`", async () => {
    // The suite's sizes assume its allow-list; with ours (up to 4 vCPU / 16 GiB) 5 vCPUs fit nothing.
    const s = await failingStep(aws, { [`${HV}default_vcpus`]: "5", [`${HV}default_memory`]: "12288" });
    assert.ok(
      podEvent(s).includes("no instance type found for the given vcpus (5) and memory (12288)"),
      s.message,
    );
  });

  test("AWS: CAA log `Choosing <ami>` for a valid alternate image (common_suite.go)", async () => {
    const other = await seedWorld(ec2);
    await failingStep(aws, { [`${HV}image`]: other.amiId });
    assert.ok(aws.logs().includes(`Choosing ${other.amiId}`));
  });

  test("AWS: pod event `InvalidAMIID.NotFound: The image id '[ami-123456]' does not exist: not found` (aws_test.go)", async () => {
    const s = await failingStep(aws, { [`${HV}image`]: "ami-123456" });
    assert.equal(s.step, "StartVM");
    assert.ok(
      podEvent(s).includes("InvalidAMIID.NotFound: The image id '[ami-123456]' does not exist: not found"),
      s.message,
    );
  });

  test("Azure: CAA log `Choosing <image>` for an alternate image (common_suite.go)", async () => {
    const image = `${emu.imageId.replace(/\/[^/]+$/, "")}/alternate`;
    await failingStep(azure, { [`${HV}image`]: image });
    assert.ok(azure.logs().includes(`Choosing ${image}`), "Choosing line in the CAA log");
  });

  test("CAA log: `mount_point:/run/kata-containers/<cid>… driver:image_guest_pull` (assessment_helpers.go, nydus)", () => {
    const cid = randomBytes(32).toString("hex");
    const log = captureLogger();
    const payload = CreateContainerRequest.encode(
      CreateContainerRequest.fromPartial({
        containerId: cid,
        storages: [
          {
            driver: "image_guest_pull",
            source: "quay.io/x:1",
            fstype: "overlay",
            mountPoint: `/run/kata-containers/${cid}/rootfs`,
          },
        ],
        OCI: { Annotations: {} },
      }),
    ).finish();
    editCreateContainerForWorker(payload, log.logger);
    const re = new RegExp(`.*mount_point:/run/kata-containers.*${cid}.*driver:image_guest_pull.*$`);
    const messages = log.lines.map((l) => String(l.msg));
    assert.ok(
      messages.some((line) => re.test(line)),
      messages.join("\n"),
    );
  });
});
