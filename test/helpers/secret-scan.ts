// What must never be in a log a test captured: PEM private keys (plain, base64-encoded as they
// travel inside user-data and apf.json, or as base64 DER), the fake cloud credentials the tests
// use, and user-data or initdata itself.
import { EMULATOR_CLIENT_SECRET, MOTO_SECRET_ACCESS_KEY } from "./test-secrets.ts";

const PATTERNS: readonly [kind: string, test: (text: string) => boolean][] = [
  ["a PEM private key", (t) => /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(t)],
  // base64 of "-----BEGIN "
  ["a base64-encoded PEM block", (t) => t.includes("LS0tLS1CRUdJTi")],
  // PKCS#8 DER of a P-256 key (what src/tls/certgen.ts makes), in base64
  ["a base64 DER EC private key", (t) => t.includes("MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEH")],
  ["the moto secret access key", (t) => t.includes(MOTO_SECRET_ACCESS_KEY)],
  ["the ARM emulator's client secret", (t) => t.includes(EMULATOR_CLIENT_SECRET)],
  ["user-data", (t) => t.includes("#cloud-config")],
  // gzip (mtime 0, as Go's and Node's writers make it) in base64: initdata as delivered
  ["initdata (gzip+base64)", (t) => t.includes("H4sIAAAAAAAA")],
];

/** Names of the kinds of secret found in `log`; empty when it is clean. */
export function secretsIn(log: string): string[] {
  return PATTERNS.filter(([, test]) => test(log)).map(([kind]) => kind);
}

export interface SecretHit {
  line: number;
  kind: string;
}

/** Each line of `text` that holds a secret, with its kind (never the secret). */
export function secretLines(text: string): SecretHit[] {
  const hits: SecretHit[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++)
    for (const kind of secretsIn(lines[i])) hits.push({ line: i + 1, kind });
  return hits;
}
