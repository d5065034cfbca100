// A short, safe description of a failed API call for logs: HTTP code and the Status reason and
// message. ApiException's own message embeds response headers and the whole body; not logged.
import { ApiException } from "@kubernetes/client-node";

export interface ApiErrorInfo {
  status?: number;
  reason?: string;
  message: string;
}

export function apiError(err: unknown): ApiErrorInfo {
  if (err instanceof ApiException) {
    const status = (err as ApiException<unknown>).code;
    const body = parseBody((err as ApiException<unknown>).body);
    return { status, reason: body?.reason, message: body?.message ?? `HTTP ${status}` };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

export function isStatus(err: unknown, status: number): boolean {
  return err instanceof ApiException && (err as ApiException<unknown>).code === status;
}

function parseBody(body: unknown): { reason?: string; message?: string } | undefined {
  try {
    const obj: unknown = typeof body === "string" ? JSON.parse(body) : body;
    if (obj && typeof obj === "object") {
      const { reason, message } = obj as Record<string, unknown>;
      return {
        reason: typeof reason === "string" ? reason : undefined,
        message: typeof message === "string" ? message : undefined,
      };
    }
  } catch {
    // Not a Status object; the HTTP code alone is reported.
  }
  return undefined;
}
