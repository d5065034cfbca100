// The pod VM's forwarder as dist/podvm/caa-podvm runs it: node with the pod VM's flags
// (src/podvm/node-flags.ts), and a serving path that leaves out the node modules it does not need
// (src/util/lean-fs.ts, src/relay/gc.ts, src/forwarder/http-text.ts): both are what keeps a pod
// VM's forwarder small (footprint bench).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { PODVM_LAUNCHER_NAME } from "../../src/podvm/bundle.ts";
import { PODVM_NODE_FLAGS } from "../../src/podvm/node-flags.ts";
import { renderCloudConfig } from "../../src/userdata/cloud-config.ts";
import { PEERPOD_PATHS } from "../../src/userdata/paths.ts";
import { closedPort } from "../fixtures/test-agent-env.ts";
import { stopFakeVm } from "../helpers/fake-pod-vm.ts";
import { healthCheck, podVmRig, waitFor, type Rig } from "../helpers/podvm-rig.ts";

const VM = "podvm-launcher-00000000";

test("the launcher runs the forwarder under node with the pod VM's flags, and it serves", async (t) => {
  const r = await podVmRig(t, VM);
  const launcher = path.join(path.dirname(r.loader), PODVM_LAUNCHER_NAME);
  assert.equal((await stat(launcher)).mode & 0o777, 0o755);
  const port = await closedPort();
  // The launcher runs the `node` on PATH, as a pod VM's does.
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ""}` };
  const child = spawn(launcher, r.args(port), { stdio: ["ignore", "pipe", "pipe"], env });
  t.after(() => stopFakeVm([child]));
  await waitFor(child, "listening on");
  const argv = (await readFile(`/proc/${child.pid}/cmdline`, "utf8")).split("\0");
  assert.equal(argv[0], "node", "the shell did not exec node in its place");
  assert.deepEqual(argv.slice(1, 1 + PODVM_NODE_FLAGS.length), [...PODVM_NODE_FLAGS]);
  assert.equal(argv[1 + PODVM_NODE_FLAGS.length], r.loader);
  assert.equal(await healthCheck(r, port), "SERVING");
});

/**
 * The node modules a forwarder (with the pod VM's flags, `forwarder <args>`) had loaded once it
 * served one call, as process.moduleLoadList names them ("NativeModule tls").
 */
async function modulesOnceServing(
  t: { after(fn: () => Promise<void> | void): void },
  r: Rig,
  args: (port: number) => string[],
): Promise<string[]> {
  const dump = path.join(r.dir, "modules.txt");
  const preload = path.join(r.dir, "dump-modules.cjs");
  await writeFile(
    preload,
    `process.prependListener("SIGTERM", () => require("node:fs").writeFileSync(${JSON.stringify(dump)}, process.moduleLoadList.join("\\n")));\n`,
  );
  const port = await closedPort();
  const child = spawn(
    process.execPath,
    [...PODVM_NODE_FLAGS, "--require", preload, r.loader, ...args(port)],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  t.after(() => stopFakeVm([child]));
  await waitFor(child, "listening on");
  assert.equal(await healthCheck(r, port), "SERVING");
  await stopFakeVm([child]);
  const loaded = (await readFile(dump, "utf8")).split("\n");
  assert.ok(loaded.includes("NativeModule tls"), "the dump does not list what the forwarder loaded");
  return loaded;
}

function assertNotLoaded(loaded: string[], unwanted: string[]): void {
  for (const name of unwanted)
    assert.ok(!loaded.includes(name), `the forwarder loaded ${name.split(" ")[1]}`);
}

const UNDICI = "NativeModule internal/deps/undici/undici";

test("a serving forwarder with the pod VM's flags has not loaded node:fs/promises, perf_hooks, node:v8 or undici", async (t) => {
  const r = await podVmRig(t, VM);
  const loaded = await modulesOnceServing(t, r, (port) => r.args(port));
  assertNotLoaded(loaded, ["NativeModule fs/promises", "NativeModule perf_hooks", "NativeModule v8", UNDICI]);
});

test("a forwarder that fetched its user-data from the AWS metadata service has not loaded undici", async (t) => {
  const r = await podVmRig(t, VM);
  const userData = renderCloudConfig([{ path: PEERPOD_PATHS.apfConfig, content: r.apfJson }]);
  const requests: string[] = [];
  const imds = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.end(req.url === "/latest/api/token" ? "token-1" : userData);
  });
  await new Promise<void>((done) => imds.listen(0, "127.0.0.1", done));
  t.after(() => new Promise<void>((done) => imds.close(() => done())));
  const { port: imdsPort } = imds.address() as AddressInfo;
  const root = path.join(r.dir, "root");
  const loaded = await modulesOnceServing(t, r, (port) =>
    r.args(port, [
      ...["-root-dir", root, "-cidata-dir", path.join(r.dir, "no-cidata")],
      ...["-imds", "aws", "-imds-url", `http://127.0.0.1:${imdsPort}`],
    ]),
  );
  assert.deepEqual(requests, ["PUT /latest/api/token", "GET /latest/user-data"]);
  // Compared without printing: it holds the VM's TLS key.
  const written = await readFile(path.join(root, PEERPOD_PATHS.apfConfig), "utf8");
  assert.ok(written.trim() === r.apfJson.trim(), "the provisioned apf.json is not the user-data's");
  assertNotLoaded(loaded, [UNDICI, "NativeModule perf_hooks", "NativeModule v8"]);
});
