// A seeded random number generator (mulberry32): the same seed replays the same fault schedule, so
// a failing campaign can be run again with its printed seed.
export class Rng {
  readonly seed: number;
  private state: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.state = this.seed;
  }

  /** A fresh seed for a run that was not given one. */
  static randomSeed(): number {
    return Math.floor(Math.random() * 0xffffffff) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Rng.pick of an empty list");
    return items[this.int(0, items.length - 1)];
  }

  /** 64 hex characters, as a kata sandbox id. */
  sandboxId(): string {
    let s = "";
    while (s.length < 64) s += this.int(0, 0xffff).toString(16).padStart(4, "0");
    return s;
  }

  /** A child generator, so one scenario's draws do not shift another's schedule. */
  fork(label: string): Rng {
    let h = this.seed;
    for (const c of label) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    return new Rng(h);
  }
}
