// Upstream's flag/env registrar, in TypeScript: one declaration gives the flag, the env name and
// the default. The env var overrides the default and an explicit flag overrides the env var; a
// bool is true iff its text is `1` or `true` in any case (CAA src/cloud-providers/util.go).

/** Where settings come from: the process environment and `--flag value` pairs from the command line. */
export interface ConfigSource {
  env: Readonly<Record<string, string | undefined>>;
  flags: Readonly<Record<string, string>>;
}

export interface Option<T> {
  /** Flag name without dashes, as upstream spells it (e.g. "pods-dir"). */
  flag: string;
  /** Env name as upstream spells it, if any. */
  env?: string;
  default: T;
  usage: string;
  /** Never printed in logs or help output with its value. */
  secret?: boolean;
  parse(text: string): T;
  /** The value as the user would type it (help output); String(value) when absent. */
  format?(value: T): string;
}

export type OptionSpec = Record<string, Option<unknown>>;
export type Resolved<S extends OptionSpec> = { [K in keyof S]: S[K] extends Option<infer T> ? T : never };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function str(
  flag: string,
  env: string | undefined,
  def: string,
  usage: string,
  secret = false,
): Option<string> {
  return { flag, env, default: def, usage, secret, parse: (t) => t };
}

export function bool(flag: string, env: string | undefined, def: boolean, usage: string): Option<boolean> {
  return { flag, env, default: def, usage, parse: parseBool };
}

export function int(flag: string, env: string | undefined, def: number, usage: string): Option<number> {
  return {
    flag,
    env,
    default: def,
    usage,
    parse: (t) => {
      if (!/^-?\d+$/.test(t.trim()))
        throw new ConfigError(`invalid integer ${JSON.stringify(t)} for ${describe(flag, env)}`);
      return Number.parseInt(t, 10);
    },
  };
}

/** A Go duration such as `5m`, `90s`, `1h30m`, `250ms`; value in milliseconds. */
export function duration(
  flag: string,
  env: string | undefined,
  defMs: number,
  usage: string,
): Option<number> {
  return {
    flag,
    env,
    default: defMs,
    usage,
    format: goDurationString,
    parse: (t) => {
      const ms = parseGoDuration(t);
      if (ms === undefined)
        throw new ConfigError(
          `invalid duration ${JSON.stringify(t)} for ${describe(flag, env)} (e.g. 5m, 90s)`,
        );
      return ms;
    },
  };
}

/** A comma-separated list; empty items are dropped. */
export function list(flag: string, env: string | undefined, usage: string): Option<string[]> {
  return { flag, env, default: [], usage, parse: parseList };
}

/** `k1=v1,k2=v2` (upstream TAGS). */
export function keyValues(
  flag: string,
  env: string | undefined,
  usage: string,
): Option<Record<string, string>> {
  return {
    flag,
    env,
    default: {},
    usage,
    parse: (t) => {
      const out: Record<string, string> = {};
      for (const item of parseList(t)) {
        const eq = item.indexOf("=");
        if (eq <= 0)
          throw new ConfigError(`invalid key=value item ${JSON.stringify(item)} in ${describe(flag, env)}`);
        out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
      }
      return out;
    },
  };
}

export function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  return t === "1" || t === "true";
}

export function parseList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

export function parseGoDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < t.length) {
    re.lastIndex = pos;
    const m = re.exec(t);
    if (!m) return undefined;
    total += Number.parseFloat(m[1]) * UNIT_MS[m[2]];
    pos = re.lastIndex;
  }
  return pos === 0 ? undefined : total;
}

/** Go's time.Duration.String() of a millisecond count: 5m0s, 1h0m0s, 1m30s, 1.5s, 250ms, 0s. */
export function goDurationString(ms: number): string {
  if (ms < 0) return `-${goDurationString(-ms)}`;
  if (ms === 0) return "0s";
  const trim = (n: number): string => String(Math.round(n * 1e6) / 1e6);
  if (ms < 1) return `${trim(ms * 1000)}µs`;
  if (ms < 1000) return `${trim(ms)}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = `${trim((ms % 60_000) / 1000)}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  return m > 0 ? `${m}m${s}` : s;
}

/** An option's default as typed on the command line; "" for a zero value (Go's flag package omits those). */
export function defaultText(opt: Option<unknown>): string {
  const d = opt.default;
  if (opt.format) return d === 0 ? "" : opt.format(d);
  if (Array.isArray(d)) return d.join(",");
  if (typeof d === "object" && d !== null)
    return Object.entries(d)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(",");
  return d === false || d === 0 ? "" : String(d);
}

/** The env names a spec reads, in declaration order (a provider's `envNames`). */
export function envNamesOf(spec: OptionSpec): string[] {
  return Object.values(spec).flatMap((o) => (o.env ? [o.env] : []));
}

/** Resolve every option of a spec: default, then env, then flag. */
export function resolve<S extends OptionSpec>(spec: S, src: ConfigSource): Resolved<S> {
  const out: Record<string, unknown> = {};
  for (const [key, opt] of Object.entries(spec)) {
    let value: unknown = opt.default;
    const envText = opt.env !== undefined ? src.env[opt.env] : undefined;
    if (envText !== undefined && envText !== "") value = opt.parse(envText);
    const flagText = src.flags[opt.flag];
    if (flagText !== undefined) value = opt.parse(flagText);
    out[key] = value;
  }
  return out as Resolved<S>;
}

/**
 * Split argv into flags (`--name value`, `--name=value`, `-name value`, a bare boolean `--name`)
 * for the given option specs. Unknown flags are an error naming them.
 */
export function parseFlags(argv: readonly string[], specs: readonly OptionSpec[]): Record<string, string> {
  const known = new Map<string, Option<unknown>>();
  for (const spec of specs) for (const opt of Object.values(spec)) known.set(opt.flag, opt);
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--?([A-Za-z0-9][A-Za-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}`);
    const name = m[1];
    const opt = known.get(name);
    if (!opt) throw new ConfigError(`unknown flag -${name}`);
    if (m[2] !== undefined) {
      flags[name] = m[2];
    } else if (typeof opt.default === "boolean") {
      flags[name] = "true";
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError(`flag -${name} needs a value`);
      flags[name] = next;
      i++;
    }
  }
  return flags;
}

function describe(flag: string, env: string | undefined): string {
  return env ? `${env} (-${flag})` : `-${flag}`;
}
