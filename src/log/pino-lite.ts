// pino for the pod-VM bundle (src/podvm/bundle.ts resolves "pino" to this file there, and only
// there): the part of pino's API that src/log/logger.ts and the pod-VM side use — the level
// methods, child(), level — writing the lines pino writes: `{"level":…,"time":…`, the child
// bindings, the object's fields, then msg, with the same redaction, Error serialisation (pino's own
// serializer) and %-interpolation. pino's dependency tree costs the forwarder of every pod VM a few
// MiB of memory and parse time at start; this is a few hundred lines. test/unit/pino-lite.test.ts
// compares both line by line. (Values JSON.stringify cannot write — cycles, BigInt — are written
// as "[Circular]" or a number where pino's fallback stringifier may differ in detail.)
import { err as serializeError } from "pino-std-serializers";

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
type LevelName = keyof typeof LEVELS;
const NAMES = Object.keys(LEVELS) as LevelName[];

export interface LiteOptions {
  level?: string;
  redact?: { paths: string[]; censor?: string };
  base?: unknown;
}

interface Destination {
  write(line: string): unknown;
  /**
   * Given, each entry comes here as the object JSON.parse would make of its line (same keys, order
   * and values), not as the line: a destination that formats lines of its own (the text format)
   * then needs no JSON round trip per line.
   */
  writeEntry?(entry: Record<string, unknown>): unknown;
}

/** Redaction paths as a tree: a key → null (censor it) or the paths below it. "*" is any key. */
type Shape = Map<string, Shape | null>;

function shapeOf(paths: readonly string[]): Shape {
  const root: Shape = new Map();
  for (const p of paths) {
    let node = root;
    const parts = p.split(".");
    parts.forEach((part, i) => {
      if (i === parts.length - 1) node.set(part, null);
      else {
        const next = node.get(part);
        if (next === null) return;
        node.set(part, next ?? new Map());
        node = node.get(part) as Shape;
      }
    });
  }
  return root;
}

function redacted(value: unknown, shape: Shape | undefined, censor: string): unknown {
  if (shape === undefined || typeof value !== "object" || value === null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, below] of shape) {
    const keys = key === "*" ? Object.keys(value) : Object.hasOwn(value, key) ? [key] : [];
    for (const k of keys) {
      const v = (value as Record<string, unknown>)[k];
      const out = below === null ? censor : redacted(v, below, censor);
      if (out === v) continue;
      copy ??= (Array.isArray(value) ? (value as unknown[]).slice() : { ...value }) as Record<
        string,
        unknown
      >;
      copy[k] = out;
    }
  }
  return copy ?? value;
}

/** Below a top-level key: its own paths and the wildcard's. */
function shapeBelow(shape: Shape, key: string): Shape | undefined {
  const own = shape.get(key);
  const any = shape.get("*");
  if (!own) return any ?? undefined;
  if (!any) return own;
  return new Map([...any, ...own]);
}

function stringify(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    const seen = new WeakSet<object>();
    return JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === "bigint") return Number(v);
      if (typeof v !== "object" || v === null) return v;
      if (seen.has(v)) return "[Circular]";
      seen.add(v);
      return v;
    });
  }
}

/** quick-format-unescaped, which pino uses: %s %d %i %f %j %o %O %% with the arguments after msg. */
function format(msg: unknown, args: unknown[]): unknown {
  if (typeof msg === "object" && msg !== null) {
    return args.length === 0 ? msg : [msg, ...args].map((a) => stringify(a) ?? "undefined").join(" ");
  }
  if (typeof msg !== "string" || args.length === 0) return msg;
  let out = "";
  let a = 0;
  let last = -1;
  for (let i = 0; i < msg.length; i++) {
    if (msg.charCodeAt(i) !== 37 || i + 1 >= msg.length) continue;
    last = last > -1 ? last : 0;
    const c = msg[i + 1];
    const arg = args[a];
    let piece: string | undefined;
    if (c === "%") {
      piece = "%";
      a--;
    } else if (a < args.length) {
      if ((c === "d" || c === "f") && arg != null) piece = String(Number(arg));
      else if (c === "i" && arg != null) piece = String(Math.floor(Number(arg)));
      else if ((c === "o" || c === "O" || c === "j") && arg !== undefined)
        piece =
          typeof arg === "string"
            ? `'${arg}'`
            : typeof arg === "function"
              ? arg.name || "<anonymous>"
              : String(stringify(arg));
      else if (c === "s") piece = String(arg);
    }
    if (piece !== undefined) {
      if (last < i) out += msg.slice(last, i);
      out += piece;
      last = i + 2;
      i++;
    }
    a++;
  }
  if (last === -1) return msg;
  return last < msg.length ? out + msg.slice(last) : out;
}

class LiteLogger {
  #value: number;
  readonly #out: Destination;
  readonly #shape: Shape | undefined;
  readonly #censor: string;
  readonly #bindings: string;
  /** The bindings as entry fields, for a destination with writeEntry. */
  readonly #bound: readonly [string, unknown][];

  constructor(
    level: string,
    out: Destination,
    shape: Shape | undefined,
    censor: string,
    bindings: string,
    bound: readonly [string, unknown][] = [],
  ) {
    this.#value = levelValue(level);
    this.#out = out;
    this.#shape = shape;
    this.#censor = censor;
    this.#bindings = bindings;
    this.#bound = bound;
  }

  get level(): string {
    return this.#value === Infinity ? "silent" : (NAMES.find((n) => LEVELS[n] === this.#value) ?? "info");
  }

  set level(name: string) {
    this.#value = levelValue(name);
  }

  isLevelEnabled(name: string): boolean {
    return levelValue(name) >= this.#value;
  }

  child(bindings: Record<string, unknown>): LiteLogger {
    let text = this.#bindings;
    const bound = [...this.#bound];
    for (const key in bindings) {
      if (!Object.hasOwn(bindings, key) || bindings[key] === undefined || key === "level") continue;
      const given = key === "err" ? serializeError(bindings[key] as Error) : bindings[key];
      const value = this.#field(key, given);
      if (value === undefined) continue;
      text += `,${JSON.stringify(key)}:${value}`;
      bound.push([key, JSON.parse(value)]);
    }
    return new LiteLogger(this.level, this.#out, this.#shape, this.#censor, text, bound);
  }

  trace = this.#method(LEVELS.trace);
  debug = this.#method(LEVELS.debug);
  info = this.#method(LEVELS.info);
  warn = this.#method(LEVELS.warn);
  error = this.#method(LEVELS.error);
  fatal = this.#method(LEVELS.fatal);
  silent = (): void => undefined;

  #method(num: number): (obj?: unknown, ...rest: unknown[]) => void {
    return (o?: unknown, ...n: unknown[]) => {
      if (num < this.#value) return;
      if (typeof o === "object") {
        const params = o === null && n.length === 0 ? [null] : n;
        const msg = o === null && n.length === 0 ? o : n.shift();
        this.#write(o, format(msg, params), num);
      } else {
        const msg = o === undefined ? n.shift() : o;
        this.#write(null, format(msg, n), num);
      }
    };
  }

  /** A field's JSON as pino writes it: censored, redacted below, undefined when it is left out. */
  #field(key: string, value: unknown): string | undefined {
    if (this.#shape === undefined) return stringify(value);
    if (this.#shape.get(key) === null) return JSON.stringify(this.#censor);
    return stringify(redacted(value, shapeBelow(this.#shape, key), this.#censor));
  }

  /** A field's value as JSON.parse gives it back from the line: censored, redacted, normalised. */
  #plain(key: string, value: unknown): unknown {
    if (this.#shape?.get(key) === null) return this.#censor;
    const v = this.#shape === undefined ? value : redacted(value, shapeBelow(this.#shape, key), this.#censor);
    if (typeof v === "string" || typeof v === "boolean" || v === null) return v;
    if (typeof v === "number") return Number.isFinite(v) ? v : null;
    const text = stringify(v);
    return text === undefined ? undefined : JSON.parse(text);
  }

  #write(given: unknown, msg: unknown, num: number): void {
    let obj: Record<string, unknown>;
    if (given === undefined || given === null) obj = {};
    else if (given instanceof Error) {
      obj = { err: given };
      msg ??= given.message;
    } else {
      obj = given as Record<string, unknown>;
      if (msg === undefined && obj.msg === undefined && obj.err)
        msg = (obj.err as { message?: unknown }).message;
    }
    const entry: Record<string, unknown> | undefined = this.#out.writeEntry
      ? { level: num, time: Date.now() }
      : undefined;
    let line = entry ? "" : `{"level":${num},"time":${Date.now()}${this.#bindings}`;
    if (entry) for (const [key, value] of this.#bound) entry[key] = value;
    const add = (key: string, value: unknown): void => {
      if (entry) {
        const plain = this.#plain(key, value);
        if (plain !== undefined) entry[key] = plain;
        return;
      }
      const text = this.#field(key, value);
      if (text !== undefined) line += `,${JSON.stringify(key)}:${text}`;
    };
    for (const key in obj) {
      let value = obj[key];
      if (!Object.hasOwn(obj, key) || value === undefined) continue;
      if (key === "err") value = serializeError(value as Error);
      if (typeof value === "function") continue;
      if (typeof value === "number" && !Number.isFinite(value)) value = null;
      add(key, value);
    }
    if (msg !== undefined && typeof msg !== "function")
      add("msg", typeof msg === "number" && !Number.isFinite(msg) ? null : msg);
    if (entry) this.#out.writeEntry?.(entry);
    else this.#out.write(`${line}}\n`);
  }
}

function levelValue(name: string): number {
  if (name === "silent") return Infinity;
  const value = LEVELS[name as LevelName];
  if (value === undefined) throw new Error(`unknown level ${name}`);
  return value;
}

export function pino(opts: LiteOptions = {}, destination: Destination = process.stdout): LiteLogger {
  const shape = opts.redact ? shapeOf(opts.redact.paths) : undefined;
  return new LiteLogger(opts.level ?? "info", destination, shape, opts.redact?.censor ?? "[Redacted]", "");
}
