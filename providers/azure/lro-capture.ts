// The SDK reports a failed long-running operation as a plain Error whose message holds only the
// outer error code. The operation-status body has the whole ARM error (code, message, details),
// so this pipeline policy keeps the last failed status body seen inside captureLroFailure().
import { AsyncLocalStorage } from "node:async_hooks";
import type { PipelinePolicy } from "./arm-retry.ts";

export interface ArmErrorBody {
  code?: string;
  message?: string;
  details?: ArmErrorBody[];
}

/** A long-running operation ended Failed; `error` is what the operation resource said. */
export class LroFailedError extends Error {
  readonly error: ArmErrorBody;
  constructor(error: ArmErrorBody, cause: unknown) {
    super(`long-running operation failed: ${error.code ?? "unknown"}: ${error.message ?? ""}`, { cause });
    this.name = "LroFailedError";
    this.error = error;
  }
}

const store = new AsyncLocalStorage<{ failure?: ArmErrorBody }>();

export const LRO_CAPTURE_POLICY = "peerpodLroFailureCapture";

export function lroCapturePolicy(): PipelinePolicy {
  return {
    name: LRO_CAPTURE_POLICY,
    async sendRequest(request, next) {
      const response = await next(request);
      const slot = store.getStore();
      const text = response.bodyAsText;
      if (slot && response.status === 200 && text?.includes('"Failed"')) {
        try {
          const body = JSON.parse(text) as { status?: string; error?: ArmErrorBody };
          if (body.status === "Failed" && body.error) slot.failure = body.error;
        } catch {
          // Not JSON: nothing to keep; the SDK reports its own parse error.
        }
      }
      return response;
    },
  };
}

/** Run an LRO; if it fails after a Failed status body was seen, throw LroFailedError with that body. */
export async function captureLroFailure<T>(run: () => Promise<T>): Promise<T> {
  const slot: { failure?: ArmErrorBody } = {};
  return store.run(slot, async () => {
    try {
      return await run();
    } catch (err) {
      if (slot.failure) throw new LroFailedError(slot.failure, err);
      throw err;
    }
  });
}
