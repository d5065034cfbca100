// ECDSA P-256 certificates shaped like upstream's (CAA pkg/util/tlsutil/certgen.go): subject
// O=<org> (plus CN=<name> for server certs), key usage certSign|digitalSignature, one extended key
// usage (serverAuth, or clientAuth for the client cert), SAN DNS=<name> for server certs, PKCS#8 keys.
// Matching the shape keeps either end interoperable with upstream's Go peer.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto);

const EC_ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const CLOCK_SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

export interface Signer {
  cert: x509.X509Certificate;
  key: CryptoKey;
  /** The issuer's key identifier, computed once (loadSigner): every certificate it signs names it. */
  authorityKeyId?: x509.AuthorityKeyIdentifierExtension;
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
  const keys = await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
  const subject = req.name ? `O=${dnValue(req.org)}, CN=${dnValue(req.name)}` : `O=${dnValue(req.org)}`;
  const now = (req.now ?? new Date()).getTime();
  let notBefore = new Date(now - CLOCK_SKEW_MS);
  let notAfter = new Date(notBefore.getTime() + req.validDays * DAY_MS);
  // Upstream clamps a leaf's validity into its issuer's.
  if (req.issuer) {
    if (notBefore < req.issuer.cert.notBefore) notBefore = req.issuer.cert.notBefore;
    if (notAfter > req.issuer.cert.notAfter) notAfter = req.issuer.cert.notAfter;
  }
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(req.isCa === true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(
      (req.extendedKeyUsages ?? [req.isClient ? "clientAuth" : "serverAuth"]).map(
        (u) => x509.ExtendedKeyUsage[u],
      ),
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (req.name) extensions.push(new x509.SubjectAlternativeNameExtension([{ type: "dns", value: req.name }]));
  if (req.issuer)
    extensions.push(
      req.issuer.authorityKeyId ?? (await x509.AuthorityKeyIdentifierExtension.create(req.issuer.cert)),
    );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: req.issuer ? req.issuer.cert.subject : subject,
    notBefore,
    notAfter,
    signingAlgorithm: EC_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: req.issuer ? req.issuer.key : keys.privateKey,
    extensions,
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { certPem: cert.toString("pem") + "\n", keyPem: toPem("PRIVATE KEY", new Uint8Array(pkcs8)) };
}

/** Parse a CA certificate and its PKCS#8 key into something that can sign. */
export async function loadSigner(pair: CertAndKey): Promise<Signer> {
  const cert = new x509.X509Certificate(pair.certPem);
  const der = fromPem("PRIVATE KEY", pair.keyPem);
  const key = await webcrypto.subtle.importKey("pkcs8", der, EC_ALGORITHM, false, ["sign"]);
  return { cert, key, authorityKeyId: await x509.AuthorityKeyIdentifierExtension.create(cert) };
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function fromPem(label: string, pem: string): Uint8Array {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (!m) throw new Error(`no ${label} PEM block found`);
  return new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ""), "base64"));
}

/** A positive 128-bit serial, as upstream (rand.Int below 2^128). */
function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  if (bytes[0] === 0) bytes[0] = 1;
  return Buffer.from(bytes).toString("hex");
}

/** Escape RFC 4514 special characters so a name cannot inject extra attributes. */
function dnValue(value: string): string {
  return value.replace(/[\\,+"<>;=#]/g, (c) => `\\${c}`);
}
