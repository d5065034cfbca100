/** A JSON-pointer segment (RFC 6901): `kata.peerpods.io/vm` → `kata.peerpods.io~1vm`. */
export function pointerSegment(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}
