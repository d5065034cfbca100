// The pod VM's forwarder as dist/podvm/caa-podvm runs it: node with the pod VM's flags
// (src/podvm/node-flags.ts), and a serving path that leaves out the node modules it does not need
// (src/util/lean-fs.ts, src/relay/gc.ts, src/forwarder/http-text.ts): both are what keeps a pod
// VM's forwarder small (footprint bench).
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { AgentProxy } from "../../src/agentproxy/index.ts";
import { agentHealth } from "../../src/cli/agent-health.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { bundlePodVm, PODVM_LAUNCHER_NAME } from "../../src/podvm/bundle.ts";
import { PODVM_NODE_FLAGS } from "../../src/podvm/node-flags.ts";
import { CertAuthority, buildClientTls } from "../../src/tls/index.ts";
import { renderApfJson } from "../../src/userdata/apf-config.ts";
import { renderCloudConfig } from "../../src/userdata/cloud-config.ts";
import { PEERPOD_PATHS } from "../../src/userdata/paths.ts";
import { closedPort, tlsConfig } from "../fixtures/test-agent-env.ts";
import { stopFakeVm } from "../helpers/fake-pod-vm.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const VM = "podvm-launcher-00000000";

interface Rig {
  dir: string;
  loader: string;
  apfJson: string;
  /** `forwarder <flags>` on `port`; `source`: where the VM's config comes from (default the apf.json, no provisioning). */
  args: (port: number, source?: string[]) => string[];
  clientTls: ReturnType<typeof buildClientTls>;
}

/** The pod-VM build, a CA, an apf.json and a stand-in kata agent, all under one temp dir. */
async function rig(t: { after(fn: () => Promise<void> | void): void }): Promise<Rig> {
  const dir = await mkdtemp(path.join(tmpdir(), "caa-launcher-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const loader = await bundlePodVm(path.join(dir, "podvm"));
  const ca = await CertAuthority.loadOrCreate(path.join(dir, "tls"));
  const server = await ca.issueServerCert(VM);
  const apf = path.join(dir, "apf.json");
  const apfJson = renderApfJson({
    "pod-network": null,
    "pod-namespace": "default",
    "pod-name": "launcher",
    "tls-server-key": server.keyPem,
    "tls-server-cert": server.certPem,
    "tls-client-ca": ca.clientCaPem,
  });
  await writeFile(apf, apfJson);
  const agentSocket = path.join(dir, "agent.sock");
  const agent = spawn(
    process.execPath,
    [path.join(repo, "providers/local/kata-agent.ts"), "--socket", agentSocket],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  t.after(() => void agent.kill("SIGTERM"));
  await waitFor(agent, "listening");
  return {
    dir,
    loader,
    apfJson,
    clientTls: buildClientTls(tlsConfig(), ca, VM),
    args: (port, source = ["-config", apf, "-skip-provision"]) => [
      ...["forwarder", ...source, "-no-pod-network"],
      ...["-listen", `127.0.0.1:${port}`, "-kata-agent-socket", agentSocket],
    ],
  };
}

function waitFor(child: ChildProcess, text: string): Promise<void> {
  let out = "";
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes(text)) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited ${code} before "${text}": ${out}`)));
  });
}

/** One Health/Check through an AgentProxy to the forwarder on `port`. */
async function healthCheck(r: Rig, port: number): Promise<string> {
  const proxy = new AgentProxy({
    socketPath: path.join(r.dir, `proxy-${port}/agent.ttrpc`),
    host: "127.0.0.1",
    port,
    tls: r.clientTls,
    timeoutMs: 15_000,
    logger: silentLogger(),
    sandboxId: "launcher",
  });
  try {
    await proxy.start();
    return await agentHealth(proxy.socketPath);
  } finally {
    await proxy.close();
  }
}

test("the launcher runs the forwarder under node with the pod VM's flags, and it serves", async (t) => {
  const r = await rig(t);
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
  const r = await rig(t);
  const loaded = await modulesOnceServing(t, r, (port) => r.args(port));
  assertNotLoaded(loaded, ["NativeModule fs/promises", "NativeModule perf_hooks", "NativeModule v8", UNDICI]);
});

test("a forwarder that fetched its user-data from the AWS metadata service has not loaded undici", async (t) => {
  const r = await rig(t);
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
