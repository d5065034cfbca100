import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigError, parseFlags, resolve } from "../../src/config/options.ts";
import {
  CertAuthority,
  PODVM_SERVER_NAME,
  TLS_OPTIONS,
  apfTlsFields,
  buildClientTls,
  nodeMinVersion,
  opensslCiphers,
  validateTlsConfig,
  type TlsConfig,
} from "../../src/tls/index.ts";

const cfg = (over: Partial<TlsConfig> = {}): TlsConfig => ({
  ...resolve(TLS_OPTIONS, { env: {}, flags: {} }),
  ...over,
});

describe("TLS settings", () => {
  test("upstream's env names and flags", () => {
    const env = {
      CACERT_FILE: "/c/ca.crt",
      CERT_FILE: "/c/tls.crt",
      CERT_KEY: "/c/tls.key",
      TLS_SKIP_VERIFY: "true",
      TLS_MIN_VERSION: "VersionTLS13",
      TLS_CIPHER_SUITES: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256",
    };
    const r = resolve(TLS_OPTIONS, { env, flags: parseFlags(["-disable-tls"], [TLS_OPTIONS]) });
    assert.deepEqual(r, {
      caCertFile: "/c/ca.crt",
      certFile: "/c/tls.crt",
      certKey: "/c/tls.key",
      skipVerify: true,
      minVersion: "VersionTLS13",
      cipherSuites: ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"],
      disableTls: true,
    });
  });

  test("TLS_MIN_VERSION: Go names, floor 1.2, anything else refused", () => {
    assert.equal(nodeMinVersion(""), "TLSv1.2");
    assert.equal(nodeMinVersion("VersionTLS10"), "TLSv1.2");
    assert.equal(nodeMinVersion("VersionTLS12"), "TLSv1.2");
    assert.equal(nodeMinVersion("VersionTLS13"), "TLSv1.3");
    assert.throws(() => nodeMinVersion("TLS1.3"), ConfigError);
  });

  test("TLS_CIPHER_SUITES: IANA names become OpenSSL's for TLS 1.2; TLS 1.3 suites stay on", () => {
    assert.equal(opensslCiphers([]), undefined);
    assert.equal(
      opensslCiphers([
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_AES_128_GCM_SHA256",
      ]),
      "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384",
    );
    assert.throws(
      () => opensslCiphers(["TLS_RSA_WITH_RC4_128_SHA"]),
      /unsupported TLS cipher suite "TLS_RSA_WITH_RC4_128_SHA"/,
    );
  });

  test("validateTlsConfig refuses what upstream refuses", () => {
    assert.doesNotThrow(() => validateTlsConfig(cfg()));
    assert.throws(
      () => validateTlsConfig(cfg({ certFile: "/x" })),
      /CERT_FILE and CERT_KEY must be given together/,
    );
    assert.throws(
      () => validateTlsConfig(cfg({ caCertFile: "/x", skipVerify: true })),
      /specifying a root certificates file with the insecure flag is not allowed/,
    );
  });
});

describe("apf.json TLS fields and client options", () => {
  let dir: string;
  let ca: CertAuthority;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "tls-unit-"));
    ca = await CertAuthority.loadOrCreate(dir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("auto TLS: a server cert for the instance name (upstream's shape) and the client cert as tls-client-ca", async () => {
    const f = await apfTlsFields(cfg({ minVersion: "VersionTLS13" }), ca, "podvm-a-1");
    assert.equal(f["tls-client-ca"], ca.clientCertPem);
    assert.equal(f["tls-min-version"], "VersionTLS13");
    const cert = new X509Certificate(f["tls-server-cert"] ?? "");
    assert.equal(cert.subjectAltName, "DNS:podvm-a-1");
    assert.equal(cert.subject, "O=agent-protocol-forwarder\nCN=podvm-a-1");
    assert.ok(cert.checkIssued(new X509Certificate(ca.caCertPem)));
    assert.equal(cert.ca, false);
    assert.match(f["tls-server-key"] ?? "", /^-----BEGIN PRIVATE KEY-----\n/);
    const client = new X509Certificate(ca.clientCertPem);
    assert.equal(client.subject, "O=cloud-api-adaptor");
    assert.ok(client.checkIssued(client), "the client cert is self-signed, as upstream's");
  });

  test("custom CA file: nothing issued, no tls-client-ca, server name podvm-server", async () => {
    const custom = cfg({ caCertFile: path.join(dir, "ca.crt") });
    assert.deepEqual(await apfTlsFields(custom, ca, "podvm-a-1"), {});
    assert.equal(buildClientTls(custom, ca, "podvm-a-1")?.servername, PODVM_SERVER_NAME);
  });

  test("disabled TLS: no fields, no client options", async () => {
    assert.deepEqual(await apfTlsFields(cfg({ disableTls: true }), ca, "podvm-a-1"), {});
    assert.equal(buildClientTls(cfg({ disableTls: true }), ca, "podvm-a-1"), null);
  });

  test("a missing custom file is a config error naming it", () => {
    assert.throws(
      () => buildClientTls(cfg({ caCertFile: path.join(dir, "nope.crt") }), ca, "x"),
      /cannot read CACERT_FILE .*nope\.crt: ENOENT/,
    );
  });

  test("server certs are only issued for DNS names", async () => {
    await assert.rejects(ca.issueServerCert("bad name"), /not a DNS name/);
    await assert.rejects(ca.issueServerCert("a,O=evil"), /not a DNS name/);
  });
});
