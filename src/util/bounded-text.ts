// Untrusted strings (sandbox ids, annotation keys) end up in error messages and logs; a caller
// that sends a megabyte must not get it echoed back whole, and one that sends terminal or line
// controls must not get them echoed raw.

/**
 * Characters JSON.stringify leaves as they are but a log reader or terminal acts on: DEL, the C1
 * controls (U+009B is a CSI), the Unicode line and paragraph separators, and the bidi overrides.
 */
const UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

// eslint-disable-next-line no-control-regex
const C0 = /[\u0000-\u001f]/g;

function hexEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

function escapeUnsafe(quoted: string): string {
  return quoted.replace(UNSAFE, hexEscape);
}

/**
 * JSON-quoted `s` with every control escaped, cut so that at most `max` characters sit between the
 * quotes (escapes count whole: a string of controls is not echoed six times longer), with its full
 * size named when cut.
 */
export function quoteBounded(s: string, max = 64): string {
  let out = "";
  let taken = 0;
  for (const ch of s) {
    const enc = escapeUnsafe(JSON.stringify(ch).slice(1, -1));
    if (out.length + enc.length > max) break;
    out += enc;
    taken += ch.length;
  }
  const quoted = `"${out}"`;
  return taken === s.length ? quoted : `${quoted}… (${Buffer.byteLength(s, "utf8")} bytes)`;
}

/**
 * `text` (an error message that may quote its input, as V8's JSON.parse errors do) as one line:
 * every control character escaped, cut to `max` characters.
 */
export function oneLine(text: string, max = 512): string {
  const safe = escapeUnsafe(text.replace(C0, hexEscape));
  return safe.length <= max ? safe : `${safe.slice(0, max)}… (${safe.length} characters)`;
}
