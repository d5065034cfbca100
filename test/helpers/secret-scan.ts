// What must never be in a log a test captured: PEM private keys (plain, or base64-encoded as they
// travel inside user-data and apf.json) and user-data itself.

/** Names of the kinds of secret found in `log`; empty when it is clean. */
export function secretsIn(log: string): string[] {
  const found: string[] = [];
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(log)) found.push("a PEM private key");
  // base64 of "-----BEGIN "
  if (log.includes("LS0tLS1CRUdJTi")) found.push("a base64-encoded PEM block");
  if (log.includes("#cloud-config")) found.push("user-data");
  return found;
}
