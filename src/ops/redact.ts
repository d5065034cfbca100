// Scrubs PEM blocks (keys, certificates) out of free text such as error messages before it is
// served. Error messages should never carry them; this is the last guard at the HTTP edge.
const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g;

export function redactSecrets(text: string): string {
  return text.replace(PEM_BLOCK, "[redacted PEM block]");
}
