// Typed provider failures: the caller decides by type, never by parsing messages.
// `code` carries the cloud's own error code (e.g. "InsufficientInstanceCapacity", "AllocationFailed")
// so that every failure reaching the shim names it.
import type { Instance } from "./types.ts";

export class ProviderError extends Error {
  readonly code: string;
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "ProviderError";
    this.code = opts.code ?? "Unknown";
  }
}

/** The instance does not exist (or is terminated). Delete treats this as success. */
export class NotFoundError extends ProviderError {
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? "NotFound", cause: opts.cause });
    this.name = "NotFoundError";
  }
}

/** The cloud has no capacity for this type now; another type may work. */
export class InsufficientCapacityError extends ProviderError {
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? "InsufficientCapacity", cause: opts.cause });
    this.name = "InsufficientCapacityError";
  }
}

/** The cloud throttled us and our retry budget ran out. */
export class ThrottledError extends ProviderError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, opts: { code?: string; cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, { code: opts.code ?? "Throttled", cause: opts.cause });
    this.name = "ThrottledError";
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Configuration is wrong (missing image, unknown type, refused option); retrying will not help. */
export class InvalidConfigError extends ProviderError {
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

/** Also true for an external provider module's own error named "NotFoundError" (it may not share our classes). */
export function isNotFound(err: unknown): err is NotFoundError {
  return err instanceof NotFoundError || (err instanceof Error && err.name === "NotFoundError");
}
