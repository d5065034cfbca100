// A protobuf field reader over a frame held as several buffers (see frames.ts): it walks tags and
// varints across buffer boundaries and copies only the fields it is asked for, so the relay can read
// a request's routing fields and skip a megabyte payload without joining the frame.

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

export class PartsReader {
  readonly #parts: readonly Uint8Array[];
  readonly len: number;
  #part = 0;
  #at = 0;
  pos = 0;

  constructor(parts: readonly Uint8Array[], length: number) {
    this.#parts = parts;
    this.len = length;
  }

  /** [field number, wire type]. */
  tag(): [number, number] {
    const t = this.varint();
    return [Math.floor(t / 8), t % 8];
  }

  /** A varint as a float: exact up to 2^53, which is all a length, enum or timeout here needs. */
  varint(): number {
    let value = 0;
    for (let scale = 1, i = 0; i < 10; i++, scale *= 128) {
      const b = this.#byte();
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
    }
    throw new Error("invalid varint");
  }

  /** An int32 varint (a negative one takes 10 bytes; its low 32 bits are the value). */
  int32(): number {
    let value = 0;
    for (let shift = 0, i = 0; i < 10; i++, shift += 7) {
      const b = this.#byte();
      if (shift < 32) value |= (b & 0x7f) << shift;
      if (b < 0x80) return value | 0;
    }
    throw new Error("invalid varint");
  }

  /** A length-delimited field's bytes: a view when they lie in one buffer, else a copy. */
  bytes(): Uint8Array {
    const n = this.#length();
    const p = this.#parts[this.#part];
    if (p && this.#at + n <= p.length) {
      const out = p.subarray(this.#at, this.#at + n);
      this.#advance(n);
      return out;
    }
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.#byte();
    return out;
  }

  string(): string {
    return Buffer.from(this.bytes()).toString("utf8");
  }

  /** Skips a length-delimited field; returns where its bytes start and how many there are. */
  skipBytes(): { offset: number; length: number } {
    const length = this.#length();
    const offset = this.pos;
    this.#advance(length);
    return { offset, length };
  }

  skip(wireType: number): void {
    if (wireType === WIRE_VARINT) this.varint();
    else if (wireType === WIRE_FIXED64) this.#advance(8);
    else if (wireType === WIRE_LEN) this.skipBytes();
    else if (wireType === WIRE_FIXED32) this.#advance(4);
    else throw new Error(`cant skip wire type ${wireType}`);
  }

  #length(): number {
    const n = this.varint();
    if (n > this.len - this.pos) throw new Error(`premature EOF`);
    return n;
  }

  #byte(): number {
    if (this.pos >= this.len) throw new Error("premature EOF");
    let p = this.#parts[this.#part];
    while (this.#at >= p.length) {
      p = this.#parts[++this.#part];
      this.#at = 0;
    }
    this.pos++;
    return p[this.#at++];
  }

  #advance(n: number): void {
    if (n > this.len - this.pos) throw new Error("premature EOF");
    this.pos += n;
    let left = n;
    while (left > 0) {
      const room = this.#parts[this.#part].length - this.#at;
      if (left < room) {
        this.#at += left;
        return;
      }
      left -= room;
      this.#part++;
      this.#at = 0;
    }
  }
}

/** Bytes [offset, offset+length) of the parts as one buffer (a view when they lie in one part). */
export function sliceParts(parts: readonly Uint8Array[], offset: number, length: number): Uint8Array {
  let start = offset;
  for (const p of parts) {
    if (start < p.length) {
      if (start + length <= p.length) return p.subarray(start, start + length);
      break;
    }
    start -= p.length;
  }
  const out = new Uint8Array(length);
  let filled = 0;
  let skip = offset;
  for (const p of parts) {
    if (filled === length) break;
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    const piece = p.subarray(skip, Math.min(p.length, skip + length - filled));
    out.set(piece, filled);
    filled += piece.length;
    skip = 0;
  }
  return out;
}

export const WireType = { Varint: WIRE_VARINT, LengthDelimited: WIRE_LEN } as const;
