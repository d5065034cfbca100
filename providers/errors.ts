// Typed provider failures: the core decides by kind, never by parsing messages. A failure's kind
// is read from the error's `kind` (these classes set it) or from a `code` that names a kind, so an
// external plugin can throw a plain `{ code: "InsufficientCapacity", message }` and get the same
// treatment as a built-in provider without sharing our classes. `code` of these classes carries
// the cloud's own code (e.g. "InsufficientInstanceCapacity", "AllocationFailed") so that every
// failure reaching the shim names it.
import type { Instance } from "./types.ts";

/** What the core decides on: NotFound (gone), InsufficientCapacity (try the next type), … */
export const FAILURE_KINDS = ["NotFound", "InsufficientCapacity", "Throttled", "InvalidConfig"] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number] | "Unknown";

export class ProviderError extends Error {
  readonly code: string;
  readonly kind: FailureKind = "Unknown";
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "ProviderError";
    this.code = opts.code ?? "Unknown";
  }
}

/** The instance does not exist (or is terminated). Delete treats this as success. */
export class NotFoundError extends ProviderError {
  override readonly kind: FailureKind = "NotFound";
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? "NotFound", cause: opts.cause });
    this.name = "NotFoundError";
  }
}

/** The cloud has no capacity for this type now; another type may work. */
export class InsufficientCapacityError extends ProviderError {
  override readonly kind: FailureKind = "InsufficientCapacity";
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? "InsufficientCapacity", cause: opts.cause });
    this.name = "InsufficientCapacityError";
  }
}

/** The cloud throttled us and our retry budget ran out. */
export class ThrottledError extends ProviderError {
  override readonly kind: FailureKind = "Throttled";
  readonly retryAfterMs: number | undefined;
  constructor(message: string, opts: { code?: string; cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, { code: opts.code ?? "Throttled", cause: opts.cause });
    this.name = "ThrottledError";
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Configuration is wrong (missing image, unknown type, refused option); retrying will not help. */
export class InvalidConfigError extends ProviderError {
  override readonly kind: FailureKind = "InvalidConfig";
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? "InvalidConfig", cause: opts.cause });
    this.name = "InvalidConfigError";
  }
}

/**
 * The instance was created but a later step failed (like upstream's partial Instance + error):
 * the caller owns `instance` and must delete it.
 */
export class PartialCreateError extends ProviderError {
  readonly instance: Instance;
  constructor(message: string, instance: Instance, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { code: opts.code, cause: opts.cause });
    this.name = "PartialCreateError";
    this.instance = instance;
  }
}

const KIND_BY_NAME: Record<string, FailureKind> = {
  NotFoundError: "NotFound",
  InsufficientCapacityError: "InsufficientCapacity",
  ThrottledError: "Throttled",
  InvalidConfigError: "InvalidConfig",
};

function field(err: unknown, key: string): unknown {
  return typeof err === "object" && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

function asKind(v: unknown): FailureKind | undefined {
  return (FAILURE_KINDS as readonly unknown[]).includes(v) ? (v as FailureKind) : undefined;
}

/**
 * The kind of any thrown value. Our classes say it; anything else (a plugin's own error or a plain
 * object) by a `kind` or a `code` naming a kind, or by its class name.
 */
export function failureKind(err: unknown): FailureKind {
  if (err instanceof ProviderError) return err.kind;
  const name = field(err, "name");
  return (
    asKind(field(err, "kind")) ??
    asKind(field(err, "code")) ??
    (typeof name === "string" ? KIND_BY_NAME[name] : undefined) ??
    "Unknown"
  );
}

/** The `code` a failure carries (the cloud's code, or a kind), if it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = field(err, "code");
  return typeof code === "string" && code !== "" ? code : undefined;
}

/** Message of anything thrown, plain objects with a `message` included. */
export function messageOf(err: unknown): string {
  const message = field(err, "message");
  return typeof message === "string" ? message : String(err);
}

/** An instance a failed create made anyway (PartialCreateError or a plugin's `instance` field). */
export function partialInstance(err: unknown): Instance | undefined {
  const inst = field(err, "instance") as Partial<Instance> | undefined;
  if (typeof inst?.id !== "string" || inst.id === "") return undefined;
  return {
    id: inst.id,
    name: typeof inst.name === "string" ? inst.name : inst.id,
    ips: Array.isArray(inst.ips) ? inst.ips.filter((ip) => typeof ip === "string") : [],
    tags: inst.tags ?? {},
  };
}

/** Also true for an external provider module's own error (it may not share our classes). */
export function isNotFound(err: unknown): boolean {
  return failureKind(err) === "NotFound";
}
