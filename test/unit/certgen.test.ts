// The certificates src/tls/certgen.ts encodes by hand, read back by an independent X.509 parser
// (@peculiar/x509), node's X509Certificate and openssl: the shape upstream's Go peer expects.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { generateCertificate, loadSigner } from "../../src/tls/certgen.ts";
import { children, readElement, sequence, tlv } from "../../src/tls/der.ts";

const ext = <T extends x509.Extension>(c: x509.X509Certificate, type: new (raw: ArrayBuffer) => T): T => {
  const e = c.getExtension(type);
  assert.ok(e, `missing ${type.name}`);
  return e;
};

test("a CA and a leaf it signs carry upstream's fields and verify with openssl", async () => {
  const ca = await generateCertificate({ org: "agent-protocol-forwarder", isCa: true, validDays: 10 });
  const signer = await loadSigner(ca);
  const leaf = await generateCertificate({ org: "caa", name: "podvm-a-1", validDays: 5, issuer: signer });

  const c = new x509.X509Certificate(ca.certPem);
  assert.equal(c.subject, "O=agent-protocol-forwarder");
  assert.equal(c.issuer, c.subject);
  assert.equal((c.signatureAlgorithm as { name?: string }).name, "ECDSA");
  const bc = ext(c, x509.BasicConstraintsExtension);
  assert.equal(bc.ca, true);
  assert.equal(bc.critical, true);
  const ku = ext(c, x509.KeyUsagesExtension);
  assert.equal(ku.critical, true);
  assert.equal(ku.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature);
  assert.deepEqual([...ext(c, x509.ExtendedKeyUsageExtension).usages].map(String), ["1.3.6.1.5.5.7.3.1"]);
  const spki = new X509Certificate(ca.certPem).publicKey.export({ type: "spki", format: "der" });
  const bits = children(readElement(spki))[1].content.subarray(1);
  assert.equal(
    ext(c, x509.SubjectKeyIdentifierExtension).keyId,
    createHash("sha1").update(bits).digest("hex"),
  );

  const l = new x509.X509Certificate(leaf.certPem);
  assert.equal(l.subject, "O=caa, CN=podvm-a-1");
  assert.equal(l.issuer, c.subject);
  assert.equal(ext(l, x509.BasicConstraintsExtension).ca, false);
  assert.deepEqual(
    ext(l, x509.SubjectAlternativeNameExtension).names.items.map((n) => [n.type, n.value]),
    [["dns", "podvm-a-1"]],
  );
  assert.equal(
    ext(l, x509.AuthorityKeyIdentifierExtension).keyId,
    ext(c, x509.SubjectKeyIdentifierExtension).keyId,
  );
  assert.ok(await l.verify({ publicKey: c.publicKey, signatureOnly: true }));
  assert.ok(new X509Certificate(leaf.certPem).checkIssued(new X509Certificate(ca.certPem)));
  assert.ok(
    new X509Certificate(leaf.certPem).checkPrivateKey(
      (await import("node:crypto")).createPrivateKey(leaf.keyPem),
    ),
  );

  const dir = await mkdtemp(path.join(tmpdir(), "caa-certgen-"));
  try {
    await writeFile(path.join(dir, "ca.pem"), ca.certPem);
    await writeFile(path.join(dir, "leaf.pem"), leaf.certPem);
    const out = execFileSync(
      "openssl",
      ["verify", "-CAfile", path.join(dir, "ca.pem"), "-purpose", "sslserver", path.join(dir, "leaf.pem")],
      { encoding: "utf8" },
    );
    assert.match(out, /leaf\.pem: OK/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a leaf's validity is clamped into its issuer's; a client cert says clientAuth", async () => {
  const now = new Date("2030-01-01T00:00:00Z");
  const ca = await generateCertificate({ org: "o", isCa: true, validDays: 2, now });
  const client = await generateCertificate({
    org: "c",
    isClient: true,
    validDays: 400,
    issuer: await loadSigner(ca),
    now,
  });
  const c = new X509Certificate(ca.certPem);
  const l = new X509Certificate(client.certPem);
  assert.equal(l.validTo, c.validTo);
  assert.equal(l.validFrom, c.validFrom);
  assert.deepEqual(l.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
  assert.equal(new Date(c.validFrom).toISOString(), "2029-12-31T23:55:00.000Z");
});

test("names are encoded as given: no attribute injection, UTF-8 where PrintableString cannot hold them", async () => {
  const cert = await generateCertificate({ org: "a, CN=evil+O=x", name: "n", validDays: 1 });
  const c = new x509.X509Certificate(cert.certPem);
  assert.deepEqual(c.subjectName.getField("O"), ["a, CN=evil+O=x"]);
  assert.deepEqual(c.subjectName.getField("CN"), ["n"]);
  const utf = new x509.X509Certificate((await generateCertificate({ org: "Zürich", validDays: 1 })).certPem);
  assert.deepEqual(utf.subjectName.getField("O"), ["Zürich"]);
});

test("years from 2050 are GeneralizedTime", async () => {
  const cert = await generateCertificate({ org: "o", validDays: 1, now: new Date("2060-06-01T12:00:00Z") });
  assert.equal(new X509Certificate(cert.certPem).validFromDate.toISOString(), "2060-06-01T11:55:00.000Z");
});

test("DER lengths in long form read back, and a length past the buffer is refused", () => {
  for (const n of [0, 127, 128, 255, 256, 70_000]) {
    const e = readElement(sequence(tlv(0x04, Buffer.alloc(n, 7))));
    assert.equal(children(e)[0].content.length, n);
  }
  assert.throws(() => readElement(Buffer.from([0x30, 0x82, 0x01])), /bad length/);
  assert.throws(() => readElement(Buffer.from([0x30, 0x05, 0x00])), /past its container/);
});
