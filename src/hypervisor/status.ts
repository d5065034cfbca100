// gRPC status codes for lifecycle failures; ttrpc and gRPC share the numbers (docs/upstream-compat.md §1.4).
import { LifecycleError, type LifecycleErrorKind } from "../sandbox/errors.ts";
import { Code, TtrpcError } from "../ttrpc/status.ts";

const BY_KIND: Record<LifecycleErrorKind, number> = {
  "invalid-argument": Code.InvalidArgument,
  "not-found": Code.NotFound,
  "already-exists": Code.AlreadyExists,
  "failed-precondition": Code.FailedPrecondition,
  // Upstream returns plain Go errors for a failed StartVM, which ttrpc sends as Unknown; the kata
  // shim and the e2e suite read the message (`rpc error: code = Unknown desc = …`).
  failed: Code.Unknown,
};

export interface RpcFailure {
  code: number;
  message: string;
}

export function toRpcFailure(err: unknown): RpcFailure {
  if (err instanceof LifecycleError) return { code: BY_KIND[err.kind], message: err.message };
  // A call forwarded to the successor during a handover: its answer passes through unchanged.
  if (err instanceof TtrpcError) return { code: err.code, message: err.message };
  return { code: Code.Unknown, message: err instanceof Error ? err.message : String(err) };
}
