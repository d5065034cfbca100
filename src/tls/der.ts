// The few DER (X.690) pieces an X.509 certificate needs: encoders for the types certgen.ts writes
// and a reader for the fields it takes from an issuer's certificate (its subject and key id).

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

export function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  let len: number[];
  if (n < 0x80) len = [n];
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = [0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(TAG.sequence, Buffer.concat(items));
export const set = (...items: Uint8Array[]): Buffer => tlv(TAG.set, Buffer.concat(items));
/** [n] EXPLICIT: a constructed context-specific wrapper. */
export const explicit = (n: number, inner: Uint8Array): Buffer => tlv(0xa0 | n, inner);
/** [n] IMPLICIT of a primitive type. */
export const implicit = (n: number, content: Uint8Array): Buffer => tlv(0x80 | n, content);
export const octetString = (b: Uint8Array): Buffer => tlv(TAG.octetString, b);
export const boolean = (v: boolean): Buffer => tlv(TAG.boolean, Buffer.from([v ? 0xff : 0]));

/** A non-negative INTEGER from big-endian magnitude bytes. */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const b = magnitude.subarray(i);
  return tlv(TAG.integer, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

/** A BIT STRING of whole bytes, or of named bits with the trailing zero bits dropped (DER). */
export function bitString(bytes: Uint8Array, named = false): Buffer {
  let unused = 0;
  if (named && bytes.length > 0) {
    const last = bytes[bytes.length - 1];
    while (unused < 8 && (last & (1 << unused)) === 0) unused++;
  }
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([unused]), bytes]));
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map(Number);
  const out = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift(0x80 | (v & 0x7f));
    out.push(...groups);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

/** PrintableString when the text allows it, else UTF8String (as Go's encoding/asn1 chooses). */
export function directoryString(s: string): Buffer {
  const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s);
  return tlv(printable ? TAG.printableString : TAG.utf8String, Buffer.from(s, "utf8"));
}

export const ia5 = (s: string): Buffer => Buffer.from(s, "ascii");

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5), to the second. */
export function time(d: Date): Buffer {
  const iso = d.toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  const utc = d.getUTCFullYear() < 2050;
  return tlv(utc ? TAG.utcTime : TAG.generalizedTime, Buffer.from(`${utc ? digits.slice(2) : digits}Z`));
}

/** One element read from DER: its tag, the whole encoding and its content. */
export interface Element {
  tag: number;
  raw: Buffer;
  content: Buffer;
}

/** The element at `offset` of `buf`. */
export function readElement(buf: Buffer, offset = 0): Element {
  if (offset + 2 > buf.length) throw new Error("DER: truncated element");
  const tag = buf[offset];
  let len = buf[offset + 1];
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || offset + 2 + n > buf.length) throw new Error("DER: bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i];
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new Error("DER: element runs past its container");
  return { tag, raw: buf.subarray(offset, end), content: buf.subarray(offset + header, end) };
}

/** The elements inside a constructed element. */
export function children(e: Element): Element[] {
  const out: Element[] = [];
  for (let off = 0; off < e.content.length;) {
    const c = readElement(e.content, off);
    out.push(c);
    off += c.raw.length;
  }
  return out;
}
