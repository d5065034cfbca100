// The pod-VM programs as processes, as systemd runs them: `caa forwarder` provisioning from a cidata
// user-data written the way upstream writes it, the test agent CLI recording calls to a file, the
// forwarder killed and restarted under a live proxy, and start-up failures with clear exit errors.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { AgentProxy } from "../../src/agentproxy/index.ts";
import { HealthDefinition } from "../../src/gen/agent/health.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { CertAuthority, buildClientTls } from "../../src/tls/index.ts";
import { Code, TtrpcClient, TtrpcError } from "../../src/ttrpc/index.ts";
import { decodeInitdata, encodeInitdata, initdataDigest } from "../../src/userdata/initdata.ts";
import { closedPort, tlsConfig } from "../fixtures/test-agent-env.ts";
import type { RecordedCall } from "../../providers/local/kata-agent.ts";
import { teeChild } from "../helpers/test-logs.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const FORWARDER = path.join(repo, "src/forwarder/main.ts");
const TEST_AGENT = path.join(repo, "providers/local/kata-agent.ts");
const VM = "podvm-nginx-5e6f7a8b";

interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function run(script: string, args: string[]): Proc {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  teeChild(child, path.basename(script));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitFor(proc: Proc, text: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.output().includes(text)) {
    if (proc.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`did not see ${JSON.stringify(text)}; output:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function stop(proc: Proc | undefined): Promise<void> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill("SIGTERM");
  await proc.exited;
}

/** apf.json as upstream's json.MarshalIndent(cfg, "", "    ") writes it. */
function upstreamApfJson(tlsFields: Record<string, string>): string {
  return JSON.stringify(
    {
      "pod-network": {
        podip: "10.244.1.7/24",
        "pod-hw-addr": "0a:58:0a:f4:01:07",
        interface: "eth0",
        "worker-node-ip": "192.168.122.63/24",
        "tunnel-type": "vxlan",
        routes: [
          { dst: "0.0.0.0/0", gw: "10.244.1.1", dev: "eth0" },
          { dst: "10.244.1.0/24", gw: "", dev: "eth0", protocol: "kernel", scope: "link" },
        ],
        neighbors: null,
        mtu: 1450,
        index: 0,
        "vxlan-port": 4789,
        "vxlan-id": 555000,
        dedicated: false,
        "external-net-via-pod-vm": false,
      },
      "pod-namespace": "default",
      "pod-name": "nginx",
      ...tlsFields,
    },
    null,
    4,
  );
}

/** The user-data upstream's template renders (docs/upstream-compat.md §4.4), written out independently of ours. */
function upstreamUserData(files: { path: string; content: string }[]): string {
  let out = "#cloud-config\n\nwrite_files:";
  for (const f of files) {
    out += `\n  - path: ${f.path}`;
    if (f.content !== "") {
      out += "\n    content: |";
      const lines = f.content.split("\n");
      if (lines.at(-1) === "") lines.pop();
      for (const line of lines) out += `\n      ${line}`;
    }
  }
  return `${out}\n`;
}

describe("pod VM processes: caa forwarder + test agent", () => {
  let dir: string;
  let ca: CertAuthority;
  let agent: Proc | undefined;
  let forwarder: Proc | undefined;
  let proxy: AgentProxy;
  let client: TtrpcClient;
  let port: number;
  const initdataToml =
    'algorithm = "sha384"\nversion = "0.1.0"\n\n[data]\n"aa.toml" = "[token_configs]\\n"\n"evil.sh" = "x"\n';

  const forwarderArgs = (): string[] => [
    "-listen",
    `127.0.0.1:${port}`,
    "-kata-agent-socket",
    path.join(dir, "root/run/kata-containers/agent.sock"),
    "-pod-namespace",
    "/run/netns/podns",
    "-no-pod-network",
    "-cidata-dir",
    path.join(dir, "cidata"),
    "-imds",
    "none",
    "-root-dir",
    path.join(dir, "root"),
  ];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "podvm-proc-"));
    ca = await CertAuthority.loadOrCreate(path.join(dir, "tls"));
    const server = await ca.issueServerCert(VM);
    const apfJson = upstreamApfJson({
      "tls-server-key": server.keyPem,
      "tls-server-cert": server.certPem,
      "tls-client-ca": ca.clientCaPem,
    });
    await mkdir(path.join(dir, "cidata"));
    await writeFile(
      path.join(dir, "cidata/user-data"),
      upstreamUserData([
        { path: "/run/peerpod/apf.json", content: apfJson },
        { path: "/run/peerpod/initdata", content: encodeInitdata(initdataToml) },
        { path: "/run/peerpod/scratch-space.marker", content: "" },
        { path: "/root/.ssh/authorized_keys", content: "ssh-ed25519 AAAA attacker" },
      ]),
    );
    agent = run(TEST_AGENT, [
      "--socket",
      path.join(dir, "root/run/kata-containers/agent.sock"),
      "--record",
      path.join(dir, "calls.jsonl"),
    ]);
    await waitFor(agent, "local kata agent stand-in listening");
    port = await closedPort();
    forwarder = run(FORWARDER, forwarderArgs());
    await waitFor(forwarder, "listening on");
    proxy = new AgentProxy({
      socketPath: path.join(dir, "pods/sb/agent.ttrpc"),
      host: "127.0.0.1",
      port,
      tls: buildClientTls(tlsConfig(), ca, VM),
      timeoutMs: 15_000,
      logger: silentLogger(),
      sandboxId: "sb",
    });
    await proxy.start();
    client = await TtrpcClient.connect(proxy.socketPath);
  });
  after(async () => {
    client?.close();
    await proxy?.close();
    await stop(forwarder);
    await stop(agent);
    await rm(dir, { recursive: true, force: true });
  });

  test("process-user-data writes only allowed files (0600, /run/peerpod 0700) and the initdata digest", async () => {
    const root = path.join(dir, "root");
    const apf = await stat(path.join(root, "run/peerpod/apf.json"));
    assert.equal(apf.mode & 0o777, 0o600);
    assert.equal((await stat(path.join(root, "run/peerpod"))).mode & 0o777, 0o700);
    assert.equal((await stat(path.join(root, "run/peerpod/scratch-space.marker"))).size, 0);
    await assert.rejects(stat(path.join(root, "root/.ssh/authorized_keys")), { code: "ENOENT" });
    assert.match(
      forwarder?.output() ?? "",
      /File: \/root\/\.ssh\/authorized_keys is not allowed in WriteFiles/,
    );
    assert.equal(await readFile(path.join(root, "run/peerpod/aa.toml"), "utf8"), "[token_configs]\n");
    await assert.rejects(stat(path.join(root, "run/peerpod/evil.sh")), { code: "ENOENT" });
    const initdata = await readFile(path.join(root, "run/peerpod/initdata"), "utf8");
    assert.equal(decodeInitdata(initdata), initdataToml);
    assert.equal(
      await readFile(path.join(root, "run/peerpod/initdata.digest"), "utf8"),
      initdataDigest(initdataToml, "sha384"),
    );
    assert.doesNotMatch(forwarder?.output() ?? "", /PRIVATE KEY/);
  });

  test("a call through the proxy reaches the test agent process, which records it to its file", async () => {
    const res = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 5000 });
    assert.equal(res.status, 1);
    await client.call("grpc.AgentService", "CreateContainer", Buffer.from("0a0263313200", "hex"));
    const lines = (await readFile(path.join(dir, "calls.jsonl"), "utf8")).trim().split("\n");
    const calls = lines.map((l) => JSON.parse(l) as RecordedCall);
    assert.deepEqual(
      calls.map((c) => c.method),
      ["Check", "CreateContainer"],
    );
    const request = calls[1].request as { OCI: { Linux: { Namespaces: { Type: string; Path: string }[] } } };
    assert.deepEqual(request.OCI.Linux.Namespaces, [{ Type: "network", Path: "/run/netns/podns" }]);
  });

  test("the forwarder killed (SIGKILL) and restarted: a call in between fails, the next one works", async () => {
    forwarder?.child.kill("SIGKILL");
    await forwarder?.exited;
    await assert.rejects(
      client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 1500 }),
      (err: TtrpcError) => err.code === Code.Unavailable || err.code === Code.DeadlineExceeded,
    );
    forwarder = run(FORWARDER, forwarderArgs());
    await waitFor(forwarder, "listening on");
    const res = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 15_000 });
    assert.equal(res.status, 1);
  });
});

describe("caa forwarder start-up failures", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "apf-bad-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cases: [string, string | undefined, RegExp][] = [
    ["missing apf.json", undefined, /cannot read config .*apf\.json: file not found/],
    [
      "apf.json that is not JSON",
      "{ pod-network: ",
      /malformed config .*apf\.json: apf\.json is not valid JSON/,
    ],
    [
      "apf.json with a numeric route protocol",
      JSON.stringify({
        "pod-network": {
          podip: "10.0.0.2/24",
          routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1", dev: "eth0", protocol: 3 }],
        },
      }),
      /malformed config .*apf\.json: .*protocol/,
    ],
    ["apf.json without TLS material", JSON.stringify({ "pod-network": null }), /no TLS server certificate/],
  ];
  for (const [name, content, expected] of cases) {
    test(`${name}: exits 1 with a clear error`, async () => {
      const caseDir = path.join(dir, name.replace(/\W+/g, "-"));
      await mkdir(caseDir);
      const config = path.join(caseDir, "apf.json");
      if (content !== undefined) await writeFile(config, content);
      const proc = run(FORWARDER, [
        "-config",
        config,
        "-skip-provision",
        "-listen",
        "127.0.0.1:0",
        "-no-pod-network",
      ]);
      assert.equal(await proc.exited, 1, proc.output());
      assert.match(proc.output(), expected);
    });
  }

  test("an unknown flag exits 1 naming it", async () => {
    const proc = run(FORWARDER, ["-skip-provision", "-bogus", "1"]);
    assert.equal(await proc.exited, 1);
    assert.match(proc.output(), /unknown flag -bogus/);
  });
});
