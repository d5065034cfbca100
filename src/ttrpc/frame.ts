// ttrpc framing (containerd/ttrpc channel.go; docs/upstream-compat.md §1.4): a 10-byte big-endian header
// {length u32, streamId u32, type u8, flags u8} followed by `length` bytes of data.

export const HEADER_LENGTH = 10;
/** channel.go messageLengthMax. */
export const MAX_DATA_LENGTH = 4 << 20;

export const FrameType = { Request: 1, Response: 2, Data: 3 } as const;

export interface Frame {
  streamId: number;
  type: number;
  flags: number;
  data: Uint8Array;
}

/**
 * What the decoder yields: a whole frame, or an oversized frame whose data was skipped. Like channel.go, the
 * oversize event comes once its `length` bytes have been discarded, so the stream stays in sync.
 */
export type FrameEvent =
  { kind: "frame"; frame: Frame } | { kind: "oversize"; streamId: number; type: number; length: number };

/** "message length N exceed maximum message size of M" (channel.go). */
export function oversizeMessage(length: number): string {
  return `message length ${length} exceed maximum message size of ${MAX_DATA_LENGTH}`;
}

/** A Buffer view of the same bytes (the generated envelope types want Buffer). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Writes the 10-byte header of a frame carrying `length` bytes into `out` at `at`. */
export function writeHeader(
  out: Uint8Array,
  at: number,
  streamId: number,
  type: number,
  length: number,
  flags = 0,
): void {
  out[at] = length >>> 24;
  out[at + 1] = length >>> 16;
  out[at + 2] = length >>> 8;
  out[at + 3] = length;
  out[at + 4] = streamId >>> 24;
  out[at + 5] = streamId >>> 16;
  out[at + 6] = streamId >>> 8;
  out[at + 7] = streamId;
  out[at + 8] = type;
  out[at + 9] = flags;
}

/** Header and data in one buffer, so a frame goes out in a single write. */
export function encodeFrame(streamId: number, type: number, data: Uint8Array, flags = 0): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + data.length);
  writeHeader(out, 0, streamId, type, data.length, flags);
  out.set(data, HEADER_LENGTH);
  return out;
}

/**
 * Incremental decoder over a byte stream. Chunks are queued and each frame's bytes are copied once, so partial
 * and concatenated chunks cost linear time. Skipped (oversized) data is dropped as it arrives, never buffered.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private head = 0; // index of the first unconsumed chunk (avoids O(n) Array.shift)
  private queued = 0;
  private header: { length: number; streamId: number; type: number; flags: number } | undefined;
  private skipping = 0;

  /** Bytes held waiting for the rest of a frame (skipped bytes are not held). */
  get buffered(): number {
    return this.queued;
  }

  /** True while a frame is partly received (header or data), i.e. the stream is mid-frame. */
  get midFrame(): boolean {
    return this.queued > 0 || this.header !== undefined;
  }

  push(chunk: Uint8Array): FrameEvent[] {
    if (chunk.length > 0) {
      const buf = asBuffer(chunk);
      this.chunks.push(buf);
      this.queued += buf.length;
    }
    const events: FrameEvent[] = [];
    for (;;) {
      const h = this.header;
      if (h && h.length > MAX_DATA_LENGTH) {
        this.skipping -= this.drop(this.skipping);
        if (this.skipping > 0) return events;
        this.header = undefined;
        events.push({ kind: "oversize", streamId: h.streamId, type: h.type, length: h.length });
        continue;
      }
      if (h) {
        if (this.queued < h.length) return events;
        this.header = undefined;
        const data = this.take(h.length);
        events.push({ kind: "frame", frame: { streamId: h.streamId, type: h.type, flags: h.flags, data } });
        continue;
      }
      if (this.queued < HEADER_LENGTH) return events;
      const raw = this.take(HEADER_LENGTH);
      const view = new DataView(raw.buffer, raw.byteOffset, HEADER_LENGTH);
      const length = view.getUint32(0);
      this.header = { length, streamId: view.getUint32(4), type: raw[8], flags: raw[9] };
      if (length > MAX_DATA_LENGTH) this.skipping = length;
    }
  }

  /** Removes exactly n queued bytes (n <= queued), as one contiguous buffer. */
  private take(n: number): Buffer {
    const first = this.chunks[this.head];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      this.consume(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.head];
      const part = Math.min(c.length, n - filled);
      out.set(c.subarray(0, part), filled);
      filled += part;
      this.consume(part);
    }
    return out;
  }

  /** Discards up to n queued bytes; returns how many were discarded. */
  private drop(n: number): number {
    let dropped = 0;
    while (dropped < n && this.head < this.chunks.length) {
      const part = Math.min(this.chunks[this.head].length, n - dropped);
      this.consume(part);
      dropped += part;
    }
    return dropped;
  }

  private consume(n: number): void {
    const c = this.chunks[this.head];
    if (n < c.length) this.chunks[this.head] = c.subarray(n);
    else if (++this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    this.queued -= n;
  }
}
