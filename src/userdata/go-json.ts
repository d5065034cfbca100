// Go encoding/json output: json.MarshalIndent(v, "", indent) for values whose field order is
// already the struct order (plain objects keep insertion order; no integer-like keys here).

export type GoJsonValue = string | number | boolean | null | GoJsonValue[] | { [key: string]: GoJsonValue };

const HEX = "0123456789abcdef";

/** Go's string encoding with HTML escaping on (the json.Marshal default). */
export function goJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) out += "\ufffd";
    else if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) out += `\\u00${HEX[c >> 4]}${HEX[c & 15]}`;
    else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else out += s[i];
  }
  return out + '"';
}

export function goMarshalIndent(value: GoJsonValue, indent: string): string {
  return encode(value, indent, "");
}

function encode(v: GoJsonValue, indent: string, prefix: string): string {
  if (v === null) return "null";
  if (typeof v === "string") return goJsonString(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new TypeError(`only integers are encoded here, got ${v}`);
    return String(v);
  }
  const inner = prefix + indent;
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    return `[\n${v.map((x) => inner + encode(x, indent, inner)).join(",\n")}\n${prefix}]`;
  }
  const entries = Object.entries(v);
  if (entries.length === 0) return "{}";
  const body = entries.map(([k, x]) => `${inner}${goJsonString(k)}: ${encode(x, indent, inner)}`).join(",\n");
  return `{\n${body}\n${prefix}}`;
}
