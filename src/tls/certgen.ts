// ECDSA P-256 certificates shaped like upstream's (CAA pkg/util/tlsutil/certgen.go): subject
// O=<org> (plus CN=<name> for server certs), key usage certSign|digitalSignature, one extended key
// usage (serverAuth, or clientAuth for the client cert), SAN DNS=<name> for server certs, PKCS#8 keys.
// Matching the shape keeps either end interoperable with upstream's Go peer. Encoded with node:crypto
// and der.ts: an X.509 library costs every daemon ~20 MB resident for these few fields.
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  generateKeyPair,
  randomBytes,
  sign,
  type KeyObject,
} from "node:crypto";
import { promisify } from "node:util";
import * as der from "./der.ts";

const generateEcKeyPair = promisify(generateKeyPair);

const CLOCK_SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  organization: "2.5.4.10",
  commonName: "2.5.4.3",
  subjectKeyId: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyId: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

// KeyUsage bits (RFC 5280 §4.2.1.3): digitalSignature (0) and keyCertSign (5), first bit high.
const KEY_USAGE = Buffer.from([0x80 | 0x04]);

export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

export interface Signer {
  key: KeyObject;
  /** The issuer's subject, as encoded in its certificate: every certificate it signs names it. */
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** The issuer's key identifier, for the authority key identifier of what it signs. */
  keyId: Buffer;
}

export interface CertRequest {
  org: string;
  /** Server name: becomes CN and the only DNS SAN. */
  name?: string;
  isCa?: boolean;
  isClient?: boolean;
  /** Overrides the one extended key usage, e.g. a CA that issues both server and client certs. */
  extendedKeyUsages?: ("serverAuth" | "clientAuth")[];
  validDays: number;
  /** Signs the new certificate; self-signed when absent. */
  issuer?: Signer;
  now?: Date;
}

export async function generateCertificate(req: CertRequest): Promise<CertAndKey> {
  const keys = await generateEcKeyPair("ec", { namedCurve: "P-256" });
  const spki = keys.publicKey.export({ type: "spki", format: "der" });
  const keyId = publicKeyId(spki);
  const subject = name(req.org, req.name);
  const now = (req.now ?? new Date()).getTime();
  let notBefore = new Date(now - CLOCK_SKEW_MS);
  let notAfter = new Date(notBefore.getTime() + req.validDays * DAY_MS);
  // Upstream clamps a leaf's validity into its issuer's.
  if (req.issuer) {
    if (notBefore < req.issuer.notBefore) notBefore = req.issuer.notBefore;
    if (notAfter > req.issuer.notAfter) notAfter = req.issuer.notAfter;
  }
  const usages = req.extendedKeyUsages ?? [req.isClient ? "clientAuth" : "serverAuth"];
  const extensions = [
    extension(OID.basicConstraints, true, der.sequence(...(req.isCa ? [der.boolean(true)] : []))),
    extension(OID.keyUsage, true, der.bitString(KEY_USAGE, true)),
    extension(OID.extKeyUsage, false, der.sequence(...usages.map((u) => der.oid(OID[u])))),
    extension(OID.subjectKeyId, false, der.octetString(keyId)),
  ];
  if (req.name) {
    extensions.push(extension(OID.subjectAltName, false, der.sequence(der.implicit(2, der.ia5(req.name)))));
  }
  if (req.issuer) {
    extensions.push(extension(OID.authorityKeyId, false, der.sequence(der.implicit(0, req.issuer.keyId))));
  }
  const algorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
  const tbs = der.sequence(
    der.explicit(0, der.unsignedInteger(Buffer.from([2]))),
    der.unsignedInteger(randomSerial()),
    algorithm,
    req.issuer ? req.issuer.subject : subject,
    der.sequence(der.time(notBefore), der.time(notAfter)),
    subject,
    spki,
    der.explicit(3, der.sequence(...extensions)),
  );
  const signature = sign("sha256", tbs, {
    key: req.issuer ? req.issuer.key : keys.privateKey,
    dsaEncoding: "der",
  });
  const cert = der.sequence(tbs, algorithm, der.bitString(signature));
  const keyPem = String(keys.privateKey.export({ type: "pkcs8", format: "pem" }));
  return { certPem: toPem("CERTIFICATE", cert), keyPem };
}

/** Parse a CA certificate and its PKCS#8 key into something that can sign. */
export async function loadSigner(pair: CertAndKey): Promise<Signer> {
  const cert = new X509Certificate(pair.certPem);
  const key = createPrivateKey(pair.keyPem);
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1")
    throw new Error("the CA key is not an ECDSA P-256 key");
  const tbs = der.children(der.readElement(cert.raw))[0];
  const fields = der.children(tbs);
  // version [0] is present in every v3 certificate; the fields after it are in a fixed order.
  const at = fields[0].tag === 0xa0 ? 1 : 0;
  const subject = fields[at + 4].raw;
  const spki = fields[at + 5].raw;
  return {
    key,
    subject: Buffer.from(subject),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    keyId: subjectKeyId(fields.slice(at + 6)) ?? publicKeyId(spki),
  };
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function name(org: string, commonName?: string): Buffer {
  const rdn = (type: string, value: string) =>
    der.set(der.sequence(der.oid(type), der.directoryString(value)));
  const rdns = [rdn(OID.organization, org)];
  if (commonName !== undefined) rdns.push(rdn(OID.commonName, commonName));
  return der.sequence(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits, as Go's x509 computes it. */
function publicKeyId(spki: Buffer): Buffer {
  const bits = der.children(der.readElement(spki))[1].content.subarray(1);
  return createHash("sha1").update(bits).digest();
}

/** The subject key identifier among a certificate's trailing fields ([3] extensions), if any. */
function subjectKeyId(trailing: der.Element[]): Buffer | undefined {
  const exts = trailing.find((f) => f.tag === 0xa3);
  if (!exts) return undefined;
  const ski = der.oid(OID.subjectKeyId);
  for (const ext of der.children(der.children(exts)[0])) {
    const parts = der.children(ext);
    if (!parts[0].raw.equals(ski)) continue;
    return Buffer.from(der.readElement(parts[parts.length - 1].content).content);
  }
  return undefined;
}

/** A positive 128-bit serial, as upstream (rand.Int below 2^128). */
function randomSerial(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes;
}
