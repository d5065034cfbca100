// ttrpc frames as the relay moves them: split out of the byte stream as views into the chunks the
// socket delivered (no copy, however big the frame), and written back as a new header plus those
// same views, so a 1 MiB WriteStdin crosses a hop without being assembled in memory.
import { HEADER_LENGTH, MAX_DATA_LENGTH, writeHeader } from "../ttrpc/frame.ts";

/** A whole frame; `parts` are views into the received chunks, `length` bytes in all. */
export interface RelayFrame {
  kind: "frame";
  streamId: number;
  type: number;
  length: number;
  parts: Buffer[];
}

/** A frame over MAX_DATA_LENGTH whose data was skipped (reported once skipped, as channel.go does). */
export interface OversizeFrame {
  kind: "oversize";
  streamId: number;
  length: number;
}

/** Frames up to this size are joined with their header into one write; bigger ones go out as a writev. */
const SMALL_FRAME = 16 << 10;

export class FrameSplitter {
  readonly #header = Buffer.alloc(HEADER_LENGTH);
  #headerFill = 0;
  #frame: RelayFrame | undefined;
  #missing = 0;
  #skipping: OversizeFrame | undefined;

  /** Bytes held for a frame not yet complete. */
  get buffered(): number {
    return this.#frame ? this.#frame.length - this.#missing : this.#headerFill;
  }

  push(chunk: Buffer): (RelayFrame | OversizeFrame)[] {
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
        this.#frame.parts.push(chunk.subarray(at, at + n));
        at += n;
        this.#missing -= n;
        if (this.#missing === 0) {
          out.push(this.#frame);
          this.#frame = undefined;
        }
      } else {
        const n = Math.min(HEADER_LENGTH - this.#headerFill, left);
        chunk.copy(this.#header, this.#headerFill, at, at + n);
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
    if (length > MAX_DATA_LENGTH) this.#skipping = { kind: "oversize", streamId, length };
    else {
      const frame: RelayFrame = { kind: "frame", streamId, type: h[8], length, parts: [] };
      if (length === 0) out.push(frame);
      else this.#frame = frame;
    }
  }
}

/** The frame's data as one buffer: a view when it arrived in one chunk, else a copy. */
export function joined(parts: readonly Buffer[], length: number): Buffer {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, length);
}

/** Header and data; small frames in one buffer, big ones as one corked writev of the views. */
export function writeFrame(
  socket: NodeJS.WritableStream & { cork(): void; uncork(): void },
  streamId: number,
  type: number,
  parts: readonly Uint8Array[],
  length: number,
): boolean {
  if (length <= SMALL_FRAME) {
    const out = Buffer.allocUnsafe(HEADER_LENGTH + length);
    writeHeader(out, 0, streamId, type, length);
    let at = HEADER_LENGTH;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return socket.write(out);
  }
  const header = Buffer.allocUnsafe(HEADER_LENGTH);
  writeHeader(header, 0, streamId, type, length);
  socket.cork();
  let ok = socket.write(header);
  for (const p of parts) ok = socket.write(p);
  socket.uncork();
  return ok;
}
