// Instance name `podvm-<pod>-<id[:8]>`, byte for byte as upstream GenerateInstanceName
// (CAA src/cloud-providers/util/instance.go). The e2e suite looks VMs up by this name.

const PREFIX = "podvm";

/**
 * Go's sanitize(): strings.ToLower, then every rune outside [a-z0-9-] becomes one '-'.
 * Go lower-cases rune by rune (unicode.ToLower); the only non-ASCII runes whose simple
 * lower-case mapping is ASCII are U+0130 (→ 'i') and U+212A KELVIN SIGN (→ 'k').
 */
export function sanitizeName(input: string): string {
  let out = "";
  for (const ch of input) {
    const c = goLowerAsciiOrSelf(ch);
    out += /^[a-z0-9-]$/.test(c) ? c : "-";
  }
  return out;
}

function goLowerAsciiOrSelf(ch: string): string {
  if (ch >= "A" && ch <= "Z") return ch.toLowerCase();
  if (ch === "\u0130") return "i";
  if (ch === "\u212a") return "k";
  return ch;
}

export function vmName(podName: string, sandboxId: string, maxLen = 63): string {
  const pod = sanitizeName(podName);
  const id = sanitizeName(sandboxId);
  let podLen = pod.length;
  // Upstream reserves 10 bytes for the two dashes and the 8-char id (`len(prefix)+len(pod)+10`).
  if (maxLen > 0 && PREFIX.length + podLen + 10 > maxLen) {
    podLen = maxLen - PREFIX.length - 10;
    if (podLen < 0) throw new RangeError(`podvmNameMax is too small: ${maxLen}`);
  }
  return `${PREFIX}-${pod.slice(0, podLen)}-${id.slice(0, 8)}`;
}
