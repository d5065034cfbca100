// Warm-pool mode of the forwarder: a VM booted with only the pool bootstrap waits unbound on the
// agent port, takes exactly one bind from a pool client, writes what the cold path writes, then
// serves the agent. The refusals (other CA, a VM's own certificate, the agent CA's client, agent
// calls before the bind, a second bind, a replay to another VM) and what reaches the logs.
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { runForwarder, provisionFiles, type ForwarderHandle } from "../../src/forwarder/index.ts";
import { HealthDefinition } from "../../src/gen/agent/health.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { bindPoolVm, probePoolVm, type PoolVmAddress } from "../../src/pool/bind-client.ts";
import { CertAuthority, apfTlsFields, buildClientTls } from "../../src/tls/index.ts";
import { PoolAuthority } from "../../src/tls/pool-authority.ts";
import { Code, TtrpcClient, TtrpcError } from "../../src/ttrpc/index.ts";
import { buildUserData } from "../../src/userdata/build.ts";
import { encodeInitdata, initdataDigest } from "../../src/userdata/initdata.ts";
import {
  POOL_METHODS,
  POOL_PATHS,
  POOL_SERVICE,
  bootstrapFingerprint,
  encodeJson,
  renderPoolUserData,
} from "../../src/userdata/pool.ts";
import { tlsConfig } from "../fixtures/test-agent-env.ts";
import { SERVING, startAgentStandIn, type AgentStandIn } from "../../providers/local/kata-agent.ts";
import { captureLogger, type CapturedLogger } from "../helpers/capture-logger.ts";
import { freePort } from "../helpers/ports.ts";

const POD_VM_NAME = "podvm-nginx-5e1f00aa";
const AUTH_JSON = '{"auths":{"registry.example":{"auth":"cHVsbHVzZXI6cHVsbHNlY3JldA=="}}}';
const INITDATA_TOML = `algorithm = "sha384"
version = "0.1.0"

[data]
"aa.toml" = '''
[token_configs.kbs]
url = "https://kbs.example:8080"
'''
`;

interface PoolVm extends PoolVmAddress {
  root: string;
  agent: AgentStandIn;
  log: CapturedLogger;
  bootstrapKey: string;
  /** Resolves once the forwarder serves the agent (after the bind). */
  started: Promise<ForwarderHandle>;
  /** How often the forwarder reported ready (systemd's READY=1 in `caa forwarder`). */
  readyCount: () => number;
  stop: AbortController;
}

describe("forwarder in warm-pool mode", () => {
  let dir: string;
  let pool: PoolAuthority;
  let otherPool: PoolAuthority;
  let agentCa: CertAuthority;
  let podUserData: string;
  const vms: PoolVm[] = [];

  /** Boots a pool VM the way a real one boots: its user-data through the cold path's provisioning. */
  async function bootPoolVm(name: string): Promise<PoolVm> {
    const root = path.join(dir, name, "root");
    const cidata = path.join(dir, name, "cidata");
    await mkdir(cidata, { recursive: true });
    const boot = await pool.issueBootstrap(name);
    await writeFile(
      path.join(cidata, "user-data"),
      renderPoolUserData({
        "pool-ca": pool.caCertPem,
        "bootstrap-cert": boot.certPem,
        "bootstrap-key": boot.keyPem,
      }),
    );
    const agent = await startAgentStandIn({ socketPath: path.join(dir, name, "agent.sock") });
    const port = await freePort();
    const log = captureLogger();
    const stop = new AbortController();
    let ready = 0;
    const started = runForwarder(
      {
        listen: `127.0.0.1:${port}`,
        kataAgentSocket: agent.socketPath,
        podNamespace: "/run/netns/podns",
        noPodNetwork: true,
        rootDir: root,
        cidataDir: cidata,
        imds: "none",
        tpmDevice: path.join(dir, name, "no-tpm"),
      },
      log.logger,
      { signal: stop.signal, onReady: () => ready++ },
    );
    started.catch(() => undefined);
    const vm: PoolVm = {
      ip: "127.0.0.1",
      port,
      name,
      fingerprint: bootstrapFingerprint(boot.certPem),
      root,
      agent,
      log,
      bootstrapKey: boot.keyPem,
      started,
      readyCount: () => ready,
      stop,
    };
    vms.push(vm);
    for (let i = 0; ; i++) {
      try {
        await probePoolVm(vm, pool, 1000);
        return vm;
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async function connectWith(vm: PoolVmAddress, options: tls.ConnectionOptions): Promise<TtrpcClient> {
    const socket = tls.connect({
      host: vm.ip,
      port: vm.port,
      servername: vm.name,
      ca: pool.caCertPem,
      ...options,
    });
    await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
    const client = await TtrpcClient.connect({ socket });
    // TLS 1.3 sends the server's verdict on the client certificate after the handshake: one call tells.
    await client.call(POOL_SERVICE, POOL_METHODS.status, new Uint8Array(0), { timeoutMs: 3000 });
    return client;
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "forwarder-pool-"));
    pool = await PoolAuthority.loadOrCreate(path.join(dir, "pool-tls"));
    otherPool = await PoolAuthority.loadOrCreate(path.join(dir, "other-pool-tls"));
    agentCa = await CertAuthority.loadOrCreate(path.join(dir, "agent-tls"));
    podUserData = buildUserData({
      apf: {
        "pod-network": null,
        "pod-namespace": "default",
        "pod-name": "nginx",
        ...(await apfTlsFields(tlsConfig(), agentCa, POD_VM_NAME)),
      },
      authJson: AUTH_JSON,
      initdata: encodeInitdata(INITDATA_TOML),
      scratchSpace: true,
    });
  });

  after(async () => {
    for (const vm of vms) {
      vm.stop.abort();
      await vm.started.then((h) => h.close()).catch(() => undefined);
      await vm.agent.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  test("an unbound VM answers the pool's status probe and refuses agent calls; none reaches the agent", async () => {
    const vm = await bootPoolVm("podvm-pool-aa000001");
    assert.deepEqual(await probePoolVm(vm, pool), { state: "unbound", vm: vm.fingerprint });
    const client = await connectWith(vm, { cert: pool.clientCertPem, key: pool.clientKeyPem });
    try {
      await assert.rejects(
        client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 3000 }),
        (err: TtrpcError) => err.code === Code.FailedPrecondition && /not bound/.test(err.message),
      );
      await assert.rejects(
        client.call("grpc.AgentService", "CreateContainer", new Uint8Array(0), { timeoutMs: 3000 }),
        (err: TtrpcError) => err.code === Code.FailedPrecondition,
      );
    } finally {
      client.close();
    }
    assert.equal(vm.agent.calls.length, 0);
  });

  test("a client certificate from another CA, the agent CA's client and a VM's own certificate are refused", async () => {
    const vm = await bootPoolVm("podvm-pool-aa000002");
    const other = await bootPoolVm("podvm-pool-aa000003");
    for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
      await assert.rejects(
        connectWith(vm, { cert: otherPool.clientCertPem, key: otherPool.clientKeyPem, maxVersion: version }),
        `other pool CA (${version})`,
      );
      await assert.rejects(
        connectWith(vm, { cert: agentCa.clientCertPem, key: agentCa.clientKeyPem, maxVersion: version }),
        `agent CA client (${version})`,
      );
      await assert.rejects(connectWith(vm, { maxVersion: version }), `no client cert (${version})`);
      // Another pooled VM holds a certificate of the pool CA, but for serving only (serverAuth).
      const otherCert = JSON.parse(
        await readFile(path.join(other.root, POOL_PATHS.bootstrap), "utf8"),
      ) as Record<string, string>;
      await assert.rejects(
        connectWith(vm, {
          cert: otherCert["bootstrap-cert"],
          key: otherCert["bootstrap-key"],
          maxVersion: version,
        }),
        `another VM's bootstrap cert (${version})`,
      );
    }
    assert.equal((await probePoolVm(vm, pool)).state, "unbound");
  });

  test("a bind for another VM (a replay) is refused and leaves the VM unbound", async () => {
    const a = await bootPoolVm("podvm-pool-aa000004");
    const b = await bootPoolVm("podvm-pool-aa000005");
    const client = await connectWith(b, { cert: pool.clientCertPem, key: pool.clientKeyPem });
    try {
      const replay = encodeJson({ vm: a.fingerprint, "user-data": podUserData });
      await assert.rejects(
        client.call(POOL_SERVICE, POOL_METHODS.bind, replay, { timeoutMs: 5000 }),
        (err: TtrpcError) => err.code === Code.PermissionDenied,
      );
    } finally {
      client.close();
    }
    assert.equal((await probePoolVm(b, pool)).state, "unbound");
    await assert.rejects(readFile(path.join(b.root, "run/peerpod/apf.json")));
    // And the daemon never sends a bind to a VM that does not hold the pinned certificate.
    await assert.rejects(bindPoolVm({ ...b, fingerprint: a.fingerprint }, pool, podUserData), /another VM/);
    assert.equal((await probePoolVm(b, pool)).state, "unbound");
  });

  test("a malformed bind gets a clear error and leaves the VM unbound", async () => {
    const vm = await bootPoolVm("podvm-pool-aa00000b");
    const client = await connectWith(vm, { cert: pool.clientCertPem, key: pool.clientKeyPem });
    const cases: [Uint8Array, RegExp][] = [
      [Buffer.from("{not json"), /bind request: not valid JSON/],
      [encodeJson({ vm: "abc", "user-data": podUserData }), /fingerprint/],
      [
        encodeJson({ vm: vm.fingerprint, "user-data": "#cloud-config\nruncmd: [reboot]\n" }),
        /field runcmd not found/,
      ],
      [encodeJson({ vm: vm.fingerprint, "user-data": "#cloud-config\n" }), /has no \/run\/peerpod\/apf.json/],
      [Buffer.alloc((1 << 20) + 1, 0x20), /exceeds/],
    ];
    try {
      for (const [payload, message] of cases)
        await assert.rejects(
          client.call(POOL_SERVICE, POOL_METHODS.bind, payload, { timeoutMs: 5000 }),
          (err: TtrpcError) => err.code === Code.InvalidArgument && message.test(err.message),
        );
    } finally {
      client.close();
    }
    assert.equal((await probePoolVm(vm, pool)).state, "unbound");
  });

  test("a bind writes what the cold path writes, then the agent is served with the pod's TLS", async () => {
    const vm = await bootPoolVm("podvm-pool-aa000006");
    // Ready as soon as it listens for the bind, which may come long after a unit's start timeout.
    assert.equal(vm.readyCount(), 1);
    const res = await bindPoolVm(vm, pool, podUserData);
    assert.equal(res["initdata-digest"], initdataDigest(INITDATA_TOML, "sha384"));
    const handle = await vm.started;
    assert.equal(vm.readyCount(), 1, "reported ready a second time once bound");

    // The same user-data through the cold path's provisioning, into another root.
    const coldRoot = path.join(dir, "cold-root");
    await mkdir(path.join(dir, "cold-cidata"), { recursive: true });
    await writeFile(path.join(dir, "cold-cidata/user-data"), podUserData);
    await provisionFiles({
      cidataDir: path.join(dir, "cold-cidata"),
      imds: false,
      rootDir: coldRoot,
      logger: silentLogger(),
    });
    const cold = await readdir(path.join(coldRoot, "run/peerpod"));
    const warm = (await readdir(path.join(vm.root, "run/peerpod"))).filter(
      (f) => !Object.values(POOL_PATHS).includes(`/run/peerpod/${f}` as never),
    );
    assert.deepEqual(warm.sort(), cold.sort());
    for (const f of cold)
      assert.equal(
        await readFile(path.join(vm.root, "run/peerpod", f), "utf8"),
        await readFile(path.join(coldRoot, "run/peerpod", f), "utf8"),
        f,
      );

    // The agent, over the pod's mTLS (the agent CA), as after a cold boot.
    const opts = buildClientTls(tlsConfig(), agentCa, POD_VM_NAME)!;
    const socket = tls.connect({ host: "127.0.0.1", port: handle.port, ...opts });
    await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
    const client = await TtrpcClient.connect({ socket });
    try {
      const health = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 5000 });
      assert.equal(health.status, SERVING);
    } finally {
      client.close();
    }
    assert.equal(vm.agent.calls.length, 1);
    // The pool client gets nothing from a bound VM: it no longer listens with the bootstrap cert.
    await assert.rejects(bindPoolVm(vm, pool, podUserData, { timeoutMs: 3000 }));
  });

  test("a second bind is refused, also when two race", async () => {
    const vm = await bootPoolVm("podvm-pool-aa000007");
    const c1 = await connectWith(vm, { cert: pool.clientCertPem, key: pool.clientKeyPem });
    const c2 = await connectWith(vm, { cert: pool.clientCertPem, key: pool.clientKeyPem });
    const payload = encodeJson({ vm: vm.fingerprint, "user-data": podUserData });
    const results = await Promise.allSettled([
      c1.call(POOL_SERVICE, POOL_METHODS.bind, payload, { timeoutMs: 5000 }),
      c2.call(POOL_SERVICE, POOL_METHODS.bind, payload, { timeoutMs: 5000 }),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    const refused = results.find((r) => r.status === "rejected")!;
    assert.equal((refused.reason as TtrpcError).code, Code.FailedPrecondition);
    // Once more on the connection that stays open: still refused.
    await assert.rejects(
      c1.call(POOL_SERVICE, POOL_METHODS.bind, payload, { timeoutMs: 5000 }),
      (err: TtrpcError) => err.code === Code.FailedPrecondition,
    );
    c1.close();
    c2.close();
    await vm.started;
  });

  test("a forwarder restarted after its bind serves the agent at once; one cut off mid-bind refuses to start", async () => {
    const vm = await bootPoolVm("podvm-pool-aa000008");
    await bindPoolVm(vm, pool, podUserData);
    await (await vm.started).close();
    const port = await freePort();
    const base = {
      listen: `127.0.0.1:${port}`,
      kataAgentSocket: vm.agent.socketPath,
      noPodNetwork: true,
      rootDir: vm.root,
      skipProvision: true,
      tpmDevice: path.join(dir, "no-tpm"),
    };
    const again = await runForwarder(base, silentLogger());
    assert.equal(again.config["pod-name"], "nginx");
    await again.close();

    await writeFile(path.join(vm.root, POOL_PATHS.bound), "binding\n");
    await assert.rejects(runForwarder(base, silentLogger()), /bind was interrupted/);
  });

  /** A stand-in tpm2_pcrextend first on PATH that records its TCTI and arguments, and a TPM device file. */
  async function fakeTpm(): Promise<{ tpm: string; record: string; restore: () => void }> {
    const bin = path.join(dir, "bin");
    await mkdir(bin, { recursive: true });
    const record = path.join(dir, "pcrextend.args");
    await rm(record, { force: true });
    await writeFile(path.join(bin, "tpm2_pcrextend"), `#!/bin/sh\necho "$TPM2TOOLS_TCTI $*" >> ${record}\n`);
    await chmod(path.join(bin, "tpm2_pcrextend"), 0o755);
    const tpm = path.join(dir, "tpmrm0");
    await writeFile(tpm, "");
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    return { tpm, record, restore: () => (process.env.PATH = savedPath) };
  }

  test("a forwarder that provisions itself (cold boot) extends PCR 8 with the initdata digest once per boot, as upstream's image does after process-user-data", async () => {
    const { tpm, record, restore } = await fakeTpm();
    try {
      const cidata = path.join(dir, "cold-tpm-cidata");
      await mkdir(cidata, { recursive: true });
      await writeFile(path.join(cidata, "user-data"), podUserData);
      const agent = await startAgentStandIn({ socketPath: path.join(dir, "cold-tpm-agent.sock") });
      // Twice on one root: systemd restarting the forwarder within one boot.
      for (let start = 0; start < 2; start++) {
        const handle = await runForwarder(
          {
            listen: `127.0.0.1:${await freePort()}`,
            kataAgentSocket: agent.socketPath,
            noPodNetwork: true,
            rootDir: path.join(dir, "cold-tpm-root"),
            cidataDir: cidata,
            imds: "none",
            tpmDevice: tpm,
          },
          silentLogger(),
        );
        await handle.close();
      }
      await agent.close();
      assert.deepEqual((await readFile(record, "utf8")).trim().split("\n"), [
        `device:${tpm} 8:sha256=${initdataDigest(INITDATA_TOML, "sha384").slice(0, 64)}`,
      ]);
    } finally {
      restore();
    }
  });

  test("where the VM has a TPM, the bind extends PCR 8 with the initdata digest (the pooled boot does not)", async () => {
    const { tpm, record, restore } = await fakeTpm();
    try {
      const vm = await bootPoolVm("podvm-pool-aa000009");
      vm.stop.abort();
      await vm.started.catch(() => undefined);
      // Boot a second forwarder on the same root with a TPM present.
      const port = await freePort();
      const started = runForwarder(
        {
          listen: `127.0.0.1:${port}`,
          kataAgentSocket: vm.agent.socketPath,
          noPodNetwork: true,
          rootDir: vm.root,
          skipProvision: true,
          tpmDevice: tpm,
        },
        silentLogger(),
      );
      const addr = { ...vm, port };
      for (let i = 0; ; i++) {
        try {
          await probePoolVm(addr, pool, 1000);
          break;
        } catch (err) {
          if (i > 100) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await assert.rejects(readFile(record, "utf8"), { code: "ENOENT" }, "measured before the bind");
      const res = await bindPoolVm(addr, pool, podUserData);
      await (await started).close();
      assert.equal(
        (await readFile(record, "utf8")).trim(),
        `device:${tpm} 8:sha256=${res["initdata-digest"].slice(0, 64)}`,
      );
    } finally {
      restore();
    }
  });

  test("bind material never reaches the logs", async () => {
    const vm = await bootPoolVm("podvm-pool-aa00000a");
    await bindPoolVm(vm, pool, podUserData);
    await vm.started;
    const text = vm.log.lines.map((l) => JSON.stringify(l)).join("\n");
    assert.equal(vm.log.lines.filter((l) => l.msg === "bound to a pod").length, 1, "the bind is logged");
    const secrets = [
      pool.clientKeyPem,
      vm.bootstrapKey,
      AUTH_JSON,
      "cHVsbHVzZXI6cHVsbHNlY3JldA",
      "kbs.example",
      encodeInitdata(INITDATA_TOML),
      podUserData,
    ];
    const keyBody = (pem: string) => pem.split("\n")[1];
    for (const s of secrets) assert.ok(!text.includes(s), `log holds ${s.slice(0, 20)}…`);
    for (const pem of [vm.bootstrapKey, pool.clientKeyPem]) assert.ok(!text.includes(keyBody(pem)));
    const podKey = /tls-server-key": "([^"]+)"/.exec(podUserData);
    if (podKey) assert.ok(!text.includes(podKey[1].split("\\n")[1]));
  });
});
