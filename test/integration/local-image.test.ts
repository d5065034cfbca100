// The shipped local overlay boots a VM from the container image as it is. docker cannot run here,
// so the image is mirrored the way the Dockerfile assembles it (package.json + production
// dependencies + the build stage's dist/), and the `caa` shim's `node <flags> dist/caa/main.js serve` runs with the
// overlay's ConfigMap: the VM's boot chain and its kata-agent stand-in must come from that build
// output, not from the source tree.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { copyFile, mkdir, symlink } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { parse } from "yaml";
import { agentHealth } from "../../src/cli/agent-health.ts";
import { HypervisorDefinition, type VersionResponse } from "../../src/gen/hypervisor/hypervisor.ts";
import { grpcServiceDefinition } from "../../src/hypervisor/grpc-definition.ts";
import { createVM, newSandboxId, podAnnotations, startVM, stopVM } from "../../src/cli/sandbox.ts";
import {
  cleanupDaemon,
  daemonEnv,
  makeDaemonDir,
  startDaemon,
  type DaemonProcess,
} from "../helpers/daemon.ts";
import { imageShim } from "../helpers/image.ts";
import { needsRoot } from "../helpers/requires.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const dockerfile = readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
const overlay = parse(readFileSync(path.join(ROOT, "deploy/overlays/local/peer-pods-cm.yaml"), "utf8")) as {
  data: Record<string, string>;
};

let dir = "";
let env: Record<string, string> = {};
let daemon: DaemonProcess | undefined;
let app = "";

before(async () => {
  if (needsRoot()) return;
  dir = await makeDaemonDir();
  // The production stage: WORKDIR /app, package.json, `npm ci --omit=dev`, dist from the build stage.
  assert.match(dockerfile, /^WORKDIR \/app$/m);
  assert.match(dockerfile, /^COPY package\.json package-lock\.json \.\/$/m);
  assert.match(dockerfile, /^COPY --from=build \/src\/dist \.\/dist$/m);
  app = path.join(dir, "app");
  await mkdir(app);
  await copyFile(path.join(ROOT, "package.json"), path.join(app, "package.json"));
  await symlink(path.join(ROOT, "node_modules"), path.join(app, "node_modules"));
  const build = spawnSync(
    process.execPath,
    [path.join(ROOT, "scripts/build.ts"), "--out-dir", path.join(app, "dist")],
    {
      encoding: "utf8",
    },
  );
  assert.equal(build.status, 0, `scripts/build.ts failed:\n${build.stdout}${build.stderr}`);
  // The overlay's settings, on this test's private paths, bridge and range.
  const own = daemonEnv(dir);
  env = { ...own, ...overlay.data, LOCAL_BRIDGE: own.LOCAL_BRIDGE, LOCAL_VM_SUBNET: own.LOCAL_VM_SUBNET };
  const shim = imageShim();
  const cli = path.join(app, path.relative("/app", shim.script));
  daemon = await startDaemon(dir, env, 60_000, { cli, nodeArgs: shim.nodeArgs, cwd: app });
});

after(async () => {
  await daemon?.kill("SIGTERM");
  if (dir) await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE ?? "" });
});

test(
  "the image's caa serve with the local overlay's settings boots a VM whose boot chain and agent come from dist/",
  { skip: needsRoot() },
  async () => {
    const shim = { socket: daemon!.socket };
    const id = newSandboxId();
    const agentSocket = await createVM(shim, id, podAnnotations("image", "default"), "");
    await startVM(shim, id);
    try {
      const procs = execFileSync("ps", ["-eo", "args="], { encoding: "utf8" })
        .split("\n")
        .filter((l) => l.includes(env.STATE_DIR));
      const dist = path.join(app, "dist");
      assert.ok(
        procs.some((l) => l.includes(`${dist}/podvm/caa-podvm.cjs podvm`)),
        `the VM boots dist's pod-VM bundle:\n${procs.join("\n")}`,
      );
      assert.ok(
        procs.some((l) => l.includes(`${dist}/providers/local/kata-agent.js --socket`)),
        `the VM runs dist's kata-agent stand-in:\n${procs.join("\n")}`,
      );
      assert.ok(!procs.some((l) => l.includes(`${ROOT}/src/`) || l.includes(`${ROOT}/providers/`)));
      assert.equal(await agentHealth(agentSocket), "SERVING");
    } finally {
      await stopVM(shim, id);
    }
  },
);

test(
  "the image's caa serve answers on its gRPC endpoint (grpc-js loads on the first connection)",
  { skip: needsRoot() },
  async () => {
    const def = grpcServiceDefinition(HypervisorDefinition);
    const Client = grpc.makeGenericClientConstructor(def, HypervisorDefinition.fullName);
    const client = new Client(`unix://${daemon!.grpcSocket}`, grpc.credentials.createInsecure());
    try {
      const res = await new Promise<VersionResponse>((resolve, reject) =>
        client.makeUnaryRequest(
          def.version.path,
          def.version.requestSerialize,
          def.version.responseDeserialize,
          { version: "" },
          (err, r) => (err || !r ? reject(err ?? new Error("no response")) : resolve(r as VersionResponse)),
        ),
      );
      assert.equal(res.version, "0.0.0");
    } finally {
      client.close();
    }
  },
);
