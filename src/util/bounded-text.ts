// Untrusted strings (sandbox ids, annotation keys) end up in error messages and logs; a caller
// that sends a megabyte must not get it echoed back whole.

/** JSON-quoted `s`, cut to `max` characters with its full size named when longer. */
export function quoteBounded(s: string, max = 64): string {
  if (s.length <= max) return JSON.stringify(s);
  return `${JSON.stringify(s.slice(0, max))}… (${Buffer.byteLength(s, "utf8")} bytes)`;
}
