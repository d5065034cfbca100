// The certificates src/tls/certgen.ts writes by hand, checked by OpenSSL (the real parser and
// verifier) and by node:crypto: the chain verifies, the shape is upstream's, and a CA written by
// another tool (an older version of this daemon, or an operator's openssl) still signs.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { generateCertificate, loadSigner, p256Spki, type CertAndKey } from "../../src/tls/certgen.ts";
import { readElement } from "../../src/tls/der.ts";

let dir: string;
before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), "caa-certgen-"))));
after(() => rm(dir, { recursive: true, force: true }));

const openssl = (...args: string[]) => execFileSync("openssl", args, { encoding: "utf8", cwd: dir });

async function files(name: string, pair: CertAndKey): Promise<string> {
  await writeFile(path.join(dir, `${name}.crt`), pair.certPem);
  await writeFile(path.join(dir, `${name}.key`), pair.keyPem, { mode: 0o600 });
  return path.join(dir, `${name}.crt`);
}

describe("certificates (certgen)", () => {
  test("a server cert under the CA: OpenSSL verifies the chain and sees upstream's shape", async () => {
    const ca = await generateCertificate({ org: "agent-protocol-forwarder", isCa: true, validDays: 3650 });
    const leaf = await generateCertificate({
      org: "agent-protocol-forwarder",
      name: "podvm-nginx-0a1b2c3d",
      validDays: 730,
      issuer: await loadSigner(ca),
    });
    const caFile = await files("ca", ca);
    const leafFile = await files("leaf", leaf);
    assert.match(openssl("verify", "-purpose", "sslserver", "-CAfile", caFile, leafFile), /leaf\.crt: OK/);
    const text = openssl("x509", "-in", leafFile, "-noout", "-text");
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(text, /Issuer: O ?= ?agent-protocol-forwarder\n/);
    assert.match(text, /Subject: O ?= ?agent-protocol-forwarder, CN ?= ?podvm-nginx-0a1b2c3d/);
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /Key Usage: critical\s+Digital Signature, Certificate Sign/);
    assert.match(text, /Extended Key Usage: \s*TLS Web Server Authentication\n/);
    assert.match(text, /Subject Alternative Name: \s*DNS:podvm-nginx-0a1b2c3d\n/);
    assert.match(text, /ASN1 OID: prime256v1/);
    // The leaf names its issuer's key: the AKI equals the CA's SKI.
    const ski = /Subject Key Identifier: \s*([0-9A-F:]+)/.exec(
      openssl("x509", "-in", caFile, "-noout", "-text"),
    );
    assert.ok(ski);
    assert.match(text, new RegExp(`Authority Key Identifier: \\s*(keyid:)?${ski[1]}`));
    const x = new X509Certificate(leaf.certPem);
    assert.ok(x.checkIssued(new X509Certificate(ca.certPem)));
    assert.ok(x.verify(new X509Certificate(ca.certPem).publicKey));
    assert.equal(x.checkHost("podvm-nginx-0a1b2c3d"), "podvm-nginx-0a1b2c3d");
    assert.equal(x.ca, false);
    assert.equal(new X509Certificate(ca.certPem).ca, true);
    assert.ok(x.checkPrivateKey(await import("node:crypto").then((c) => c.createPrivateKey(leaf.keyPem))));
    assert.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  });

  test("the client cert is self-signed, clientAuth only, with a positive 128-bit serial", async () => {
    const client = await generateCertificate({ org: "cloud-api-adaptor", isClient: true, validDays: 3650 });
    const file = await files("client", client);
    assert.match(openssl("verify", "-purpose", "sslclient", "-CAfile", file, file), /OK/);
    const text = openssl("x509", "-in", file, "-noout", "-text");
    assert.match(text, /Extended Key Usage: \s*TLS Web Client Authentication\n/);
    assert.doesNotMatch(text, /Subject Alternative Name/);
    const serial = new X509Certificate(client.certPem).serialNumber;
    assert.ok(serial.length <= 32 && serial.length >= 30, serial);
    assert.ok(parseInt(serial[0], 16) < 8, "serial must be positive");
  });

  test("validity is clamped into the issuer's, with 5 minutes for clock skew", async () => {
    const now = new Date("2030-06-01T12:00:00Z");
    const ca = await generateCertificate({ org: "o", isCa: true, validDays: 10, now });
    const leaf = await generateCertificate({
      org: "o",
      name: "vm",
      validDays: 730,
      issuer: await loadSigner(ca),
      now,
    });
    const x = new X509Certificate(leaf.certPem);
    assert.equal(new Date(x.validFrom).toISOString(), "2030-06-01T11:55:00.000Z");
    assert.equal(
      new Date(x.validTo).toISOString(),
      new Date(new X509Certificate(ca.certPem).validTo).toISOString(),
    );
  });

  test("dates from 2050 are GeneralizedTime (RFC 5280), which OpenSSL reads back", async () => {
    const ca = await generateCertificate({
      org: "o",
      isCa: true,
      validDays: 3650,
      now: new Date("2045-01-01Z"),
    });
    const file = await files("late", ca);
    assert.match(openssl("x509", "-in", file, "-noout", "-enddate"), /notAfter=Dec 29 23:55:00 2054 GMT/);
  });

  test("a name outside PrintableString is written as UTF8String and reads back whole", async () => {
    const cert = await generateCertificate({ org: "ünïcødé, O=evil", name: "vm", validDays: 1 });
    const x = new X509Certificate(cert.certPem);
    // One O attribute holding the comma, not a second one: node escapes it when printing.
    assert.equal(x.subject, "O=ünïcødé\\, O=evil\nCN=vm");
  });

  test("a CA made by OpenSSL (as an operator or an older version would leave it) signs leaves", async () => {
    openssl(
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "30",
      "-subj",
      "/O=agent-protocol-forwarder",
      "-keyout",
      "ossl-ca.key",
      "-out",
      "ossl-ca.crt",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,digitalSignature",
    );
    const { readFile } = await import("node:fs/promises");
    const ca = {
      certPem: await readFile(path.join(dir, "ossl-ca.crt"), "utf8"),
      keyPem: await readFile(path.join(dir, "ossl-ca.key"), "utf8"),
    };
    const leaf = await generateCertificate({
      org: "agent-protocol-forwarder",
      name: "vm-1",
      validDays: 730,
      issuer: await loadSigner(ca),
    });
    const leafFile = await files("ossl-leaf", leaf);
    assert.match(openssl("verify", "-CAfile", path.join(dir, "ossl-ca.crt"), leafFile), /OK/);
    // Clamped into the 30-day CA.
    assert.ok(new Date(new X509Certificate(leaf.certPem).validTo).getTime() <= Date.now() + 31 * 86_400_000);
  });

  test("a P-256 key's SubjectPublicKeyInfo from its coordinates is OpenSSL's, byte for byte", () => {
    // Coordinates with leading zero bytes come up in ~1 key of 128; 400 keys meet some.
    for (let i = 0; i < 400; i++) {
      const { publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      assert.deepEqual(p256Spki(publicKey), publicKey.export({ type: "spki", format: "der" }));
    }
    const other = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey;
    assert.throws(() => p256Spki(other), /not a P-256 public key/);
  });

  test("the DER reader refuses truncated input with an error, not a bad read", () => {
    assert.throws(() => readElement(Buffer.from([0x30, 0x05, 0x01])), /DER: element runs past its container/);
    assert.throws(() => readElement(Buffer.from([0x30])), /DER: truncated element/);
    assert.throws(() => readElement(Buffer.from([0x30, 0x80, 0, 0])), /DER: unsupported length/);
  });
});
