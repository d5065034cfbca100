import type { Any } from "../gen/google/protobuf/any.ts";
import type { Status } from "../gen/google/rpc/status.ts";

/** gRPC status codes as carried in ttrpc responses (docs/upstream-compat.md §1.4). */
export const Code = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

export type Code = (typeof Code)[keyof typeof Code];

const names = new Map<number, string>(Object.entries(Code).map(([name, code]) => [code, name]));

/** The code's name as grpc-go prints it ("Unknown"), or "Code(N)" for numbers outside the table. */
export function codeName(code: number): string {
  return names.get(code) ?? `Code(${code})`;
}

/** An error that travels as a ttrpc status: handlers throw it, clients reject with it. */
export class TtrpcError extends Error {
  readonly code: number;
  readonly details: Any[];

  constructor(code: number, message: string, details: Any[] = []) {
    super(message);
    this.name = "TtrpcError";
    this.code = code;
    this.details = details;
  }

  /** The text the kata shim shows for this error: "rpc error: code = Unknown desc = boom". */
  describe(): string {
    return `rpc error: code = ${codeName(this.code)} desc = ${this.message}`;
  }

  toStatus(): Status {
    return { code: this.code, message: this.message, details: this.details };
  }

  static fromStatus(status: Status): TtrpcError {
    return new TtrpcError(status.code, status.message, status.details);
  }
}

export function isTtrpcError(err: unknown, code?: number): err is TtrpcError {
  return err instanceof TtrpcError && (code === undefined || err.code === code);
}

/** The errors a Go context yields, with grpc-go's texts: a handler that rethrows its signal's reason keeps them. */
export const deadlineExceeded = (): TtrpcError =>
  new TtrpcError(Code.DeadlineExceeded, "context deadline exceeded");
export const canceled = (): TtrpcError => new TtrpcError(Code.Canceled, "context canceled");

/**
 * Any thrown value as the status the server sends. Matches containerd's services.go: a status error keeps its
 * code, anything else becomes 2 Unknown with the error's text (Go: status.New(convertCode(err), err.Error())).
 */
export function toStatus(err: unknown): Status {
  if (err instanceof TtrpcError) return err.toStatus();
  if (err instanceof Error) {
    if (err.name === "TimeoutError") return deadlineExceeded().toStatus();
    if (err.name === "AbortError") return canceled().toStatus();
    return { code: Code.Unknown, message: err.message, details: [] };
  }
  return { code: Code.Unknown, message: String(err), details: [] };
}
