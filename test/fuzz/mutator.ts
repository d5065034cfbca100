// A small seeded mutator: every input a fuzz run tries is a function of (seed, iteration), so a
// finding is replayed from the two numbers the run prints. Byte-level mutations (flips, inserts,
// deletes, splices, boundary numbers) as AFL-style fuzzers do, plus helpers for structure-aware
// generators (pick, strings with unicode and control characters, huge sizes).

/** mulberry32: 32-bit state, fast, good enough to spread inputs; never for anything secret. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  /** A size that is usually small, sometimes at a power-of-two edge, rarely large. */
  size(max: number): number {
    const r = this.next();
    if (r < 0.6) return this.int(Math.min(max, 64) + 1);
    if (r < 0.9) return Math.min(max, 2 ** this.int(Math.log2(max) + 1) + this.pick([-1, 0, 1]));
    return this.int(max + 1);
  }
}

/** The rng of one iteration, derived from the run's seed so any iteration replays alone. */
export function iterationRng(seed: number, iteration: number): Rng {
  return new Rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(iteration + 1, 0xc2b2ae35));
}

const INTERESTING_32 = [
  0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x3fffff, 0x400000, 0x400001, 0x7fffffff,
  0x80000000, 0xffffffff,
];

/** Strings that break parsers and logs: controls, bidi and zero-width runes, surrogates, NUL, huge. */
export const NASTY_STRINGS = [
  "",
  " ",
  "\0",
  "\n",
  "\r\n",
  "\u001b[31m",
  "\u202e",
  "\u200b",
  "\ud800",
  "\udfff",
  "\ufeff",
  "é",
  "𝔘",
  "../",
  "/../..",
  "%00",
  "${x}",
  "{{x}}",
  "&a [*a]",
  "'",
  '"',
  "\\",
  "-1",
  "9223372036854775808",
  "1e309",
  "NaN",
  "0x10",
  "true",
  "null",
  "~",
];

export function nastyString(rng: Rng, maxBytes = 4096): string {
  const r = rng.next();
  if (r < 0.3) return rng.pick(NASTY_STRINGS);
  if (r < 0.5) return rng.pick(NASTY_STRINGS).repeat(1 + rng.size(maxBytes / 4));
  let s = "";
  const n = rng.size(Math.min(maxBytes, 256));
  for (let i = 0; i < n; i++) {
    const k = rng.next();
    s +=
      k < 0.6
        ? String.fromCharCode(0x20 + rng.int(95))
        : k < 0.75
          ? String.fromCharCode(rng.int(0x20))
          : k < 0.9
            ? String.fromCodePoint(0x80 + rng.int(0x10ff7f - 0x800 - 0x80))
            : rng.pick(NASTY_STRINGS);
  }
  return s;
}

/** 1–4 byte-level mutations of `input` (never returns `input` itself). */
export function mutateBytes(
  rng: Rng,
  input: Uint8Array,
  corpus: readonly Uint8Array[] = [],
  maxLen = 1 << 20,
): Buffer {
  let b = Buffer.from(input);
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(9)) {
      case 0: // bit flip
        if (b.length > 0) b[at] ^= 1 << rng.int(8);
        break;
      case 1: // random byte
        if (b.length > 0) b[at] = rng.int(256);
        break;
      case 2: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.size(64)), b.subarray(at)]);
        break;
      case 3: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.size(64)))]);
        break;
      case 4: // duplicate a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + rng.size(256)), b.subarray(at)]);
        break;
      case 5: // truncate
        b = b.subarray(0, at);
        break;
      case 6: // boundary u32, big-endian (ttrpc header lengths and ids)
        if (b.length >= 4) b.writeUInt32BE(rng.pick(INTERESTING_32), rng.int(b.length - 3));
        break;
      case 7: // splice from another corpus entry
        if (corpus.length > 0) {
          const other = rng.pick(corpus);
          const from = rng.int(other.length + 1);
          b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + rng.size(256))]);
        }
        break;
      default: // a nasty string in the middle
        b = Buffer.concat([b.subarray(0, at), Buffer.from(nastyString(rng, 256)), b.subarray(at)]);
    }
  }
  return b.length > maxLen ? b.subarray(0, maxLen) : b;
}
