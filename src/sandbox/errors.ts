// Lifecycle failures by kind; the RPC edge maps each kind to a status code.
export type LifecycleErrorKind =
  "invalid-argument" | "not-found" | "already-exists" | "failed-precondition" | "failed";

export class LifecycleError extends Error {
  readonly kind: LifecycleErrorKind;
  /** The cloud's error code when a provider failed (e.g. InsufficientInstanceCapacity). */
  readonly code: string | undefined;
  constructor(kind: LifecycleErrorKind, message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "LifecycleError";
    this.kind = kind;
    this.code = opts.code;
  }
}
