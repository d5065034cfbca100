// ECDSA P-256 certificates shaped like upstream's (CAA pkg/util/tlsutil/certgen.go): subject
// O=<org> (plus CN=<name> for server certs), key usage certSign|digitalSignature, one extended key
// usage (serverAuth, or clientAuth for the client cert), SAN DNS=<name> for server certs, PKCS#8 keys.
// Matching the shape keeps either end interoperable with upstream's Go peer. The DER is written
// by hand (der.ts) and signed with node:crypto: one certificate per VM costs well under 1 ms.
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
import {
  TAG,
  bitString,
  boolean,
  children,
  contextTag,
  directoryString,
  octetString,
  oid,
  readElement,
  sequence,
  time,
  tlv,
  unsignedInteger,
} from "./der.ts";

const generateEcKeyPair = promisify(generateKeyPair);

/** SubjectPublicKeyInfo of a P-256 key up to its point: id-ecPublicKey, prime256v1, BIT STRING. */
const P256_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex");

/**
 * A P-256 public key's SubjectPublicKeyInfo (DER), from its coordinates: what export({ type:
 * "spki", format: "der" }) writes, for a seventh of its CPU (OpenSSL's encoder is slow to set up,
 * and the daemon makes a certificate per VM).
 */
export function p256Spki(publicKey: KeyObject): Buffer {
  const { x, y } = publicKey.export({ format: "jwk" });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(x!, "base64url"), Buffer.from(y!, "base64url")]);
  if (point.length !== 65) throw new Error("not a P-256 public key");
  return Buffer.concat([P256_SPKI_PREFIX, point]);
}

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

export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

/** A CA that can sign: what loadSigner reads from its certificate once. */
export interface Signer {
  /** The CA's subject Name, byte for byte: a leaf's issuer must match it exactly. */
  subjectDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** The CA's subject key identifier, named by every certificate it signs. */
  keyId: Buffer;
  key: KeyObject;
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
  const { publicKey, privateKey } = await generateEcKeyPair("ec", { namedCurve: "prime256v1" });
  const spki = p256Spki(publicKey);
  const keyId = subjectKeyId(spki);
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
    extension(OID.basicConstraints, true, sequence(...(req.isCa ? [boolean(true)] : []))),
    // digitalSignature (bit 0) | keyCertSign (bit 5): 0b10000100, the last two bits unused.
    extension(OID.keyUsage, true, bitString(Buffer.from([0x84]), 2)),
    extension(OID.extKeyUsage, false, sequence(...usages.map((u) => oid(OID[u])))),
    extension(OID.subjectKeyId, false, octetString(keyId)),
  ];
  if (req.name)
    extensions.push(
      extension(
        OID.subjectAltName,
        false,
        sequence(tlv(contextTag(2, false), Buffer.from(req.name, "ascii"))),
      ),
    );
  if (req.issuer)
    extensions.push(
      extension(OID.authorityKeyId, false, sequence(tlv(contextTag(0, false), req.issuer.keyId))),
    );
  const signatureAlgorithm = sequence(oid(OID.ecdsaWithSha256));
  const tbs = sequence(
    tlv(contextTag(0, true), unsignedInteger(Buffer.from([2]))), // v3
    unsignedInteger(randomSerial()),
    signatureAlgorithm,
    req.issuer ? req.issuer.subjectDer : subject,
    sequence(time(notBefore), time(notAfter)),
    subject,
    spki,
    tlv(contextTag(3, true), sequence(...extensions)),
  );
  const signature = sign("sha256", tbs, {
    key: req.issuer ? req.issuer.key : privateKey,
    dsaEncoding: "der",
  });
  const der = sequence(tbs, signatureAlgorithm, bitString(signature));
  return {
    certPem: toPem("CERTIFICATE", der) + "\n",
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}

/** Parse a CA certificate and its PKCS#8 key into something that can sign. */
export async function loadSigner(pair: CertAndKey): Promise<Signer> {
  const cert = new X509Certificate(pair.certPem);
  // Certificate ::= SEQUENCE { tbsCertificate, ... }; tbs ::= SEQUENCE { [0] version, serial,
  // signature, issuer, validity, subject, subjectPublicKeyInfo, ..., [3] extensions }.
  const tbs = children(children(readElement(cert.raw).content)[0].content);
  const version = tbs[0].tag === contextTag(0, true) ? 1 : 0;
  const subjectDer = tbs[version + 4].raw;
  const spki = tbs[version + 5].raw;
  return {
    subjectDer,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    keyId: extensionValue(tbs, OID.subjectKeyId) ?? subjectKeyId(spki),
    key: createPrivateKey(pair.keyPem),
  };
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** O=<org>[, CN=<name>]: one attribute per RDN, as Go's pkix.Name writes them. */
function name(org: string, commonName: string | undefined): Buffer {
  const rdn = (type: string, value: string) => tlv(TAG.SET, sequence(oid(type), directoryString(value)));
  return sequence(rdn(OID.organization, org), ...(commonName ? [rdn(OID.commonName, commonName)] : []));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

/** RFC 5280 §4.2.1.2 method 1 (as Go): SHA-1 of the subjectPublicKey BIT STRING's bits. */
function subjectKeyId(spki: Buffer): Buffer {
  const [, publicKey] = children(readElement(spki).content);
  return createHash("sha1").update(publicKey.content.subarray(1)).digest();
}

/** The OCTET STRING inside a v3 extension's value, e.g. the subject key identifier's. */
function extensionValue(tbs: ReturnType<typeof children>, id: string): Buffer | undefined {
  const wrapped = tbs.find((e) => e.tag === contextTag(3, true));
  if (!wrapped) return undefined;
  const wanted = oid(id);
  for (const ext of children(readElement(wrapped.content).content)) {
    const parts = children(ext.content);
    if (!parts[0].raw.equals(wanted)) continue;
    return readElement(parts[parts.length - 1].content).content;
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
