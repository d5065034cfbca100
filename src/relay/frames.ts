// ttrpc frames as the relay moves them. Each frame is copied once, as it arrives, into a buffer of
// its own that keeps room for the header in front: the chunk it came in is then free at once (a
// TLS socket hands out every read, however small, in a fresh 64 KiB buffer, and chunks held until
// their frame completed made V8 run a full GC every ~100 ms), and the frame leaves in one write with
// the new header written over the old one. Chunks may be borrowed (a socket's reused read buffer):
// nothing here keeps a reference to one.
import { HEADER_LENGTH, MAX_DATA_LENGTH, writeHeader } from "../ttrpc/frame.ts";

/** A whole frame: `data` (`length` bytes) sits at HEADER_LENGTH in `wire`. */
export interface RelayFrame {
  kind: "frame";
  streamId: number;
  type: number;
  length: number;
  /** The data as one view (a list, for the readers in fields.ts and envelope.ts). */
  parts: Buffer[];
  /** Header room and data; writeFrame sends it as it is, with the header rewritten. */
  wire: Buffer;
  /** Gives `wire` back for reuse once written (set for big frames). */
  release?: () => void;
}

/** A frame over MAX_DATA_LENGTH whose data was skipped (reported once skipped, as channel.go does). */
export interface OversizeFrame {
  kind: "oversize";
  streamId: number;
  length: number;
}

/** Up to this size a frame's buffer comes from Node's shared pool of small buffers. */
const SMALL_FRAME = 16 << 10;
/** Big buffers are kept in sizes rounded up to this, so frames of one size reuse each other's. */
const SIZE_STEP = 64 << 10;
/** Free big buffers kept for reuse, in bytes; the rest is left to the GC. */
const FREE_LIMIT = 8 << 20;

// Big frame buffers are reused: allocated anew per frame they were external memory churning at
// the relay's rate (hundreds of MiB/s), which V8 answers with full GCs of the whole heap.
const free = new Map<number, Buffer[]>();
let freeBytes = 0;

function takeBuffer(size: number): { wire: Buffer; release?: () => void } {
  if (size <= SMALL_FRAME) return { wire: Buffer.allocUnsafe(size) };
  const capacity = Math.ceil(size / SIZE_STEP) * SIZE_STEP;
  const reused = free.get(capacity)?.pop();
  if (reused) freeBytes -= capacity;
  const whole = reused ?? Buffer.allocUnsafeSlow(capacity);
  let released = false;
  const release = (): void => {
    if (released || freeBytes + capacity > FREE_LIMIT) return;
    released = true;
    freeBytes += capacity;
    const l = free.get(capacity);
    if (l) l.push(whole);
    else free.set(capacity, [whole]);
  };
  return { wire: whole.subarray(0, size), release };
}

export class FrameSplitter {
  readonly #header = Buffer.alloc(HEADER_LENGTH);
  #headerFill = 0;
  #frame: RelayFrame | undefined;
  #fill = 0;
  #missing = 0;
  #skipping: OversizeFrame | undefined;

  /** Bytes held for a frame not yet complete (its whole buffer once the header is in). */
  get buffered(): number {
    return this.#frame ? this.#frame.wire.length : this.#headerFill;
  }

  push(chunk: Uint8Array): (RelayFrame | OversizeFrame)[] {
    const out: (RelayFrame | OversizeFrame)[] = [];
    let at = 0;
    while (at < chunk.length) {
      const left = chunk.length - at;
      if (this.#skipping) {
        const n = Math.min(this.#missing, left);
        at += n;
        this.#missing -= n;
        if (this.#missing === 0) {
          out.push(this.#skipping);
          this.#skipping = undefined;
        }
      } else if (this.#frame) {
        const n = Math.min(this.#missing, left);
        this.#frame.wire.set(n === chunk.length ? chunk : chunk.subarray(at, at + n), this.#fill);
        at += n;
        this.#fill += n;
        this.#missing -= n;
        if (this.#missing === 0) {
          out.push(this.#frame);
          this.#frame = undefined;
        }
      } else {
        const n = Math.min(HEADER_LENGTH - this.#headerFill, left);
        this.#header.set(chunk.subarray(at, at + n), this.#headerFill);
        at += n;
        this.#headerFill += n;
        if (this.#headerFill === HEADER_LENGTH) this.#startFrame(out);
      }
    }
    return out;
  }

  #startFrame(out: (RelayFrame | OversizeFrame)[]): void {
    this.#headerFill = 0;
    const h = this.#header;
    const length = h.readUInt32BE(0);
    const streamId = h.readUInt32BE(4);
    this.#missing = length;
    if (length > MAX_DATA_LENGTH) {
      this.#skipping = { kind: "oversize", streamId, length };
      return;
    }
    const { wire, release } = takeBuffer(HEADER_LENGTH + length);
    const frame: RelayFrame = {
      kind: "frame",
      streamId,
      type: h[8],
      length,
      parts: [wire.subarray(HEADER_LENGTH)],
      wire,
      release,
    };
    this.#fill = HEADER_LENGTH;
    if (length === 0) out.push(frame);
    else this.#frame = frame;
  }
}

/** The frame's data as one buffer: a view when it is in one part, else a copy. */
export function joined(parts: readonly Uint8Array[], length: number): Buffer {
  if (parts.length === 1) {
    const p = parts[0];
    return Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.length);
  }
  return Buffer.concat(parts, length);
}

/** A frame under a new stream id and type: header rewritten in place, one write. */
export function writeFrame(
  socket: NodeJS.WritableStream,
  frame: RelayFrame,
  streamId: number,
  type: number,
): boolean {
  writeHeader(frame.wire, 0, streamId, type, frame.length);
  // Written or failed, the socket is done with the bytes once the callback runs.
  return frame.release ? socket.write(frame.wire, frame.release) : socket.write(frame.wire);
}

/** A frame of the relay's own (a status reply, an edited request) around `data`. */
export function ownFrame(data: Uint8Array): RelayFrame {
  const wire = Buffer.allocUnsafe(HEADER_LENGTH + data.length);
  wire.set(data, HEADER_LENGTH);
  return {
    kind: "frame",
    streamId: 0,
    type: 0,
    length: data.length,
    parts: [wire.subarray(HEADER_LENGTH)],
    wire,
  };
}
