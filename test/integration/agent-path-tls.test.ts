// mTLS between the agent proxy and the forwarder: who is refused, what survives a daemon restart,
// custom (baked) certificates, and that key material stays out of files' group/other bits and logs.
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { AgentConnectError } from "../../src/agentproxy/index.ts";
import { HealthDefinition } from "../../src/gen/agent/health.ts";
import { generateCertificate, loadSigner } from "../../src/tls/certgen.ts";
import {
  CertAuthority,
  PODVM_SERVER_NAME,
  TlsMaterialError,
  apfTlsFields,
  buildClientTls,
} from "../../src/tls/index.ts";
import { TtrpcClient } from "../../src/ttrpc/index.ts";
import { VM_NAME, setupAgentPath, tlsConfig, type AgentPathEnv } from "../fixtures/test-agent-env.ts";
import { SERVING } from "../../providers/local/kata-agent.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import { goTlsCheck, startGoTlsRelay } from "../fixtures/test-agent-go.ts";

/** Calls Health/Check over a TLS connection opened with `options`; resolves with the status or rejects. */
async function checkOver(port: number, options: tls.ConnectionOptions): Promise<number> {
  const socket = tls.connect({ host: "127.0.0.1", port, servername: VM_NAME, ...options });
  await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
  const client = await TtrpcClient.connect({ socket });
  try {
    const res = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 5000 });
    return res.status;
  } finally {
    client.close();
  }
}

describe("mTLS refusals", () => {
  let env: AgentPathEnv;
  let other: CertAuthority;
  let otherDir: string;

  before(async () => {
    env = await setupAgentPath();
    otherDir = await mkdtemp(path.join(os.tmpdir(), "other-ca-"));
    other = await CertAuthority.loadOrCreate(otherDir);
  });
  after(async () => {
    await env.close();
    await rm(otherDir, { recursive: true, force: true });
  });

  test("the forwarder accepts the daemon's client cert (control for the refusals below)", async () => {
    const ok = await checkOver(env.forwarder.port, {
      ca: env.ca.caCertPem,
      cert: env.ca.clientCertPem,
      key: env.ca.clientKeyPem,
    });
    assert.equal(ok, SERVING);
  });

  for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
    test(`the forwarder refuses a client cert from another CA (${version})`, async () => {
      const before = env.agent.calls.length;
      await assert.rejects(
        checkOver(env.forwarder.port, {
          ca: env.ca.caCertPem,
          cert: other.clientCertPem,
          key: other.clientKeyPem,
          maxVersion: version,
        }),
      );
      assert.equal(env.agent.calls.length, before);
    });

    test(`the forwarder refuses a client without a cert (${version})`, async () => {
      const before = env.agent.calls.length;
      await assert.rejects(checkOver(env.forwarder.port, { ca: env.ca.caCertPem, maxVersion: version }));
      assert.equal(env.agent.calls.length, before);
    });
  }

  for (const version of ["TLSv1", "TLSv1.1"] as const) {
    test(`the forwarder refuses ${version}, even with the daemon's client cert`, async () => {
      const before = env.agent.calls.length;
      await assert.rejects(
        checkOver(env.forwarder.port, {
          ca: env.ca.caCertPem,
          cert: env.ca.clientCertPem,
          key: env.ca.clientKeyPem,
          minVersion: version,
          maxVersion: version,
          // Let this client offer the old protocol at all (OpenSSL's default level forbids it), so
          // that the refusal is the forwarder's: its protocol_version alert.
          ciphers: "DEFAULT@SECLEVEL=0",
        }),
        (err: NodeJS.ErrnoException) => {
          assert.equal(err.code, "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION", err.message);
          return true;
        },
      );
      assert.equal(env.agent.calls.length, before);
    });
  }

  test("the proxy refuses a forwarder whose cert is for another name", async () => {
    const proxy = env.newProxy({ serverName: "podvm-someone-else", timeoutMs: 1500 });
    await assert.rejects(proxy.start(), (err: Error) => {
      assert.ok(err instanceof AgentConnectError);
      assert.match(
        err.message,
        /after 1\.5s \(last error: Hostname\/IP does not match certificate's altnames/,
      );
      return true;
    });
  });

  test("the proxy refuses a forwarder whose cert comes from another CA", async () => {
    const options = { ...buildClientTls(env.tlsConfig, env.ca, VM_NAME), ca: other.caCertPem };
    const proxy = env.newProxy({ tls: options, timeoutMs: 1500 });
    await assert.rejects(proxy.start(), (err: Error) => {
      assert.ok(err instanceof AgentConnectError);
      assert.match(err.message, /last error: .*(certificate|issuer)/);
      return true;
    });
  });

  test("TLS_SKIP_VERIFY lets the proxy connect despite the wrong name", async () => {
    const options = buildClientTls(tlsConfig({ skipVerify: true }), env.ca, "podvm-someone-else");
    const proxy = env.newProxy({ tls: options, timeoutMs: 5000 });
    await proxy.start();
    assert.equal(proxy.connected, true);
  });
});

describe("TLS material on disk", () => {
  test("a restarted CertAuthority (same dir) keeps the CA and client cert, so existing VMs still connect", async () => {
    const env = await setupAgentPath();
    try {
      const restarted = await CertAuthority.loadOrCreate(env.ca.dir);
      assert.equal(restarted.caCertPem, env.ca.caCertPem);
      assert.equal(restarted.clientCertPem, env.ca.clientCertPem);
      // The forwarder still holds the server cert and client CA issued before the "restart".
      const proxy = env.newProxy({ ca: restarted });
      await proxy.start();
      const client = await TtrpcClient.connect(proxy.socketPath);
      try {
        const res = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 5000 });
        assert.equal(res.status, SERVING);
      } finally {
        client.close();
      }
    } finally {
      await env.close();
    }
  });

  test("key files are 0600 in a 0700 dir; a loosened key is tightened on load", async () => {
    const dir = path.join(await mkdtemp(path.join(os.tmpdir(), "ca-")), "tls");
    try {
      const ca = await CertAuthority.loadOrCreate(dir);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      for (const f of ["ca.key", "client.key", "ca.crt", "client.crt"])
        assert.equal((await stat(path.join(dir, f))).mode & 0o777, 0o600, f);
      await chmod(path.join(dir, "ca.key"), 0o644);
      const again = await CertAuthority.loadOrCreate(dir);
      assert.equal(again.caCertPem, ca.caCertPem);
      assert.equal((await stat(path.join(dir, "ca.key"))).mode & 0o777, 0o600);
    } finally {
      await rm(path.dirname(dir), { recursive: true, force: true });
    }
  });

  test("a certificate without its key is an error naming the file; a key without its cert is replaced", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "ca-"));
    try {
      const first = await CertAuthority.loadOrCreate(dir);
      await unlink(path.join(dir, "ca.key"));
      await assert.rejects(CertAuthority.loadOrCreate(dir), (err: Error) => {
        assert.ok(err instanceof TlsMaterialError);
        assert.match(err.message, /ca\.key is missing but .*ca\.crt exists/);
        return true;
      });
      await unlink(path.join(dir, "ca.crt"));
      await unlink(path.join(dir, "client.crt"));
      const second = await CertAuthority.loadOrCreate(dir);
      assert.notEqual(second.caCertPem, first.caCertPem);
      assert.notEqual(second.clientCertPem, first.clientCertPem);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a key that does not match its certificate is refused without echoing the key", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "ca-"));
    try {
      await CertAuthority.loadOrCreate(dir);
      const stranger = await generateCertificate({ org: "x", validDays: 1 });
      await writeFile(path.join(dir, "client.key"), stranger.keyPem, { mode: 0o600 });
      await assert.rejects(CertAuthority.loadOrCreate(dir), (err: Error) => {
        assert.match(err.message, /client\.key does not belong to .*client\.crt/);
        assert.doesNotMatch(err.message, /PRIVATE KEY/);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("no private key reaches the logs of the proxy or the forwarder", async () => {
    const capture = captureLogger();
    const env = await setupAgentPath({ logger: capture.logger });
    try {
      const proxy = env.newProxy();
      await proxy.start();
      const text = JSON.stringify(capture.lines);
      assert.ok(capture.lines.length > 3);
      assert.doesNotMatch(text, /PRIVATE KEY/);
      const keyBody = env.ca.clientKeyPem.split("\n")[1];
      assert.ok(!text.includes(keyBody));
    } finally {
      await env.close();
    }
  });
});

describe("custom TLS (CACERT_FILE/CERT_FILE/CERT_KEY) and disabled TLS", () => {
  test("baked certs: server name podvm-server, nothing TLS in apf.json but the profile, forwarder flags", async () => {
    const env = await setupAgentPath();
    try {
      const ca = await generateCertificate({ org: "baked", isCa: true, validDays: 10 });
      const signer = await loadSigner(ca);
      const server = await generateCertificate({
        org: "baked",
        name: PODVM_SERVER_NAME,
        validDays: 10,
        issuer: signer,
      });
      const client = await generateCertificate({
        org: "baked",
        isClient: true,
        validDays: 10,
        issuer: signer,
      });
      const files: Record<string, string> = {
        "ca.crt": ca.certPem,
        "server.crt": server.certPem,
        "server.key": server.keyPem,
        "client.crt": client.certPem,
        "client.key": client.keyPem,
      };
      for (const [name, text] of Object.entries(files))
        await writeFile(path.join(env.dir, name), text, { mode: 0o600 });
      const f = (name: string): string => path.join(env.dir, name);
      const cfg = tlsConfig({ caCertFile: f("ca.crt"), certFile: f("client.crt"), certKey: f("client.key") });
      assert.deepEqual(await apfTlsFields(cfg, env.ca, VM_NAME), {});
      const forwarder = await env.startForwarder(0, {
        caCertFile: f("ca.crt"),
        certFile: f("server.crt"),
        certKey: f("server.key"),
      });
      const options = buildClientTls(cfg, env.ca, VM_NAME);
      assert.equal(options?.servername, PODVM_SERVER_NAME);
      const proxy = env.newProxy({ port: forwarder.port, tls: options });
      await proxy.start();
      assert.equal(proxy.connected, true);
      // The daemon's own client cert is not from the baked CA: the baked forwarder refuses it.
      const auto = env.newProxy({ port: forwarder.port, serverName: PODVM_SERVER_NAME, timeoutMs: 1200 });
      await assert.rejects(auto.start(), AgentConnectError);
    } finally {
      await env.close();
    }
  });

  test("-disable-tls on both ends: plain TCP works, and a TLS client is refused by a plain forwarder", async () => {
    const env = await setupAgentPath();
    try {
      const forwarder = await env.startForwarder(0, { disableTls: true });
      const plain = env.newProxy({
        port: forwarder.port,
        tls: buildClientTls(tlsConfig({ disableTls: true }), env.ca, VM_NAME),
      });
      await plain.start();
      const client = await TtrpcClient.connect(plain.socketPath);
      try {
        const res = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 5000 });
        assert.equal(res.status, SERVING);
      } finally {
        client.close();
      }
      const tlsProxy = env.newProxy({ port: forwarder.port, timeoutMs: 1200 });
      await assert.rejects(tlsProxy.start(), AgentConnectError);
    } finally {
      await env.close();
    }
  });

  test("TLS_MIN_VERSION VersionTLS13 in apf.json makes the forwarder refuse TLS 1.2", async () => {
    const env = await setupAgentPath();
    try {
      const apf = JSON.parse(await readFile(env.apfPath, "utf8")) as Record<string, unknown>;
      apf["tls-min-version"] = "VersionTLS13";
      await writeFile(env.apfPath, JSON.stringify(apf));
      const forwarder = await env.startForwarder();
      const base = { ca: env.ca.caCertPem, cert: env.ca.clientCertPem, key: env.ca.clientKeyPem };
      assert.equal(await checkOver(forwarder.port, base), SERVING);
      await assert.rejects(
        checkOver(forwarder.port, { ...base, maxVersion: "TLSv1.2" }),
        /version|protocol/i,
      );
    } finally {
      await env.close();
    }
  });
});

describe("mixed with upstream's Go TLS peers (crypto/tls configured as CAA's tlsutil)", () => {
  let env: AgentPathEnv;
  const file = (name: string): string => path.join(env.dir, name);
  before(async () => {
    env = await setupAgentPath();
    const server = await env.ca.issueServerCert(VM_NAME);
    const files: Record<string, string> = {
      "ca.pem": env.ca.caCertPem,
      "client.pem": env.ca.clientCertPem,
      "client.key": env.ca.clientKeyPem,
      "client-ca.pem": env.ca.clientCaPem,
      "server.pem": server.certPem,
      "server.key": server.keyPem,
    };
    for (const [name, text] of Object.entries(files)) await writeFile(file(name), text, { mode: 0o600 });
  });
  after(async () => {
    await env.close();
  });

  test("a Go client with our client cert, as CAA's proxy, calls Health/Check through our forwarder", async () => {
    const common = {
      addr: `127.0.0.1:${env.forwarder.port}`,
      ca: file("ca.pem"),
      cert: file("client.pem"),
      key: file("client.key"),
    };
    const ok = await goTlsCheck({ ...common, serverName: VM_NAME });
    assert.deepEqual([ok.code, ok.payloadHex], [0, "0801"]);
    const wrongName = await goTlsCheck({ ...common, serverName: "podvm-other" });
    assert.equal(wrongName.code, 14);
    assert.match(wrongName.message, /certificate is valid for podvm-nginx-0a1b2c3d, not podvm-other/);
  });

  test("our proxy, with its self-signed client cert as tls-client-ca, is accepted by a Go listener as APF's", async () => {
    const relay = await startGoTlsRelay({
      ca: file("client-ca.pem"),
      cert: file("server.pem"),
      key: file("server.key"),
      agent: env.agent.socketPath,
    });
    try {
      const proxy = env.newProxy({ port: relay.port });
      await proxy.start();
      const client = await TtrpcClient.connect(proxy.socketPath);
      try {
        const res = await client.callMethod(HealthDefinition, "check", { service: "" }, { timeoutMs: 5000 });
        assert.equal(res.status, SERVING);
      } finally {
        client.close();
      }
    } finally {
      await relay.stop();
    }
  });
});
