// Azure error codes mapped to our typed errors at the provider's edge (as Karpenter does):
// capacity → InsufficientCapacityError (another size may work), 429 → ThrottledError, quota and
// other refusals → ProviderError carrying Azure's code, configuration problems → InvalidConfigError.
import {
  InsufficientCapacityError,
  InvalidConfigError,
  NotFoundError,
  ProviderError,
  ThrottledError,
} from "../errors.ts";
import { retryAfterMs } from "./arm-retry.ts";
import { LroFailedError, type ArmErrorBody } from "./lro-capture.ts";

export const CAPACITY_CODES = new Set([
  "AllocationFailed",
  "ZonalAllocationFailed",
  "SkuNotAvailable",
  "OverconstrainedAllocationRequest",
  "OverconstrainedZonalAllocationRequest",
]);

/** Codes that say the configuration (image, subnet, group, credentials) is wrong. */
const CONFIG_CODES = new Set([
  "ImageNotFound",
  "GalleryImageNotFound",
  "InvalidResourceReference",
  "SubscriptionNotFound",
  "InvalidSubscriptionId",
  "ResourceGroupNotFound",
  "AuthorizationFailed",
  "LinkedAuthorizationFailed",
  "InvalidAuthenticationToken",
  "AuthenticationFailed",
  "InvalidAuthenticationTokenTenant",
  "NoRegisteredProviderFound",
  "LocationNotAvailableForResourceType",
]);

/** Wrapper codes whose first detail names the real cause (e.g. ResourceDeploymentFailure → AllocationFailed). */
const WRAPPER_CODES = new Set([
  "ResourceDeploymentFailure",
  "DeploymentFailed",
  "Conflict",
  "BadRequest",
  "InternalOperationError",
]);

/** @azure/identity's error names: the login endpoint refused us or no credential was usable. */
const CREDENTIAL_ERRORS = new Set([
  "AuthenticationError",
  "AuthenticationRequiredError",
  "CredentialUnavailableError",
]);

export interface AzureFailure {
  code: string;
  message: string;
  status?: number;
  retryAfterMs?: number;
}

function fromBody(error: ArmErrorBody, fallbackCode: string): { code: string; message: string } {
  const detail = error.details?.find((d) => d.code && CAPACITY_CODES.has(d.code)) ?? error.details?.[0];
  if (detail?.code && (WRAPPER_CODES.has(error.code ?? "") || CAPACITY_CODES.has(detail.code))) {
    return { code: detail.code, message: detail.message ?? error.message ?? "" };
  }
  return { code: error.code ?? fallbackCode, message: error.message ?? "" };
}

interface RestErrorLike {
  name: string;
  message: string;
  code?: string;
  statusCode?: number;
  response?: { bodyAsText?: string | null; headers?: { get(name: string): string | undefined } };
}

function isRestError(err: unknown): err is RestErrorLike {
  return typeof err === "object" && err !== null && (err as { name?: string }).name === "RestError";
}

/** What Azure said, from an SDK error, a failed LRO or a credential error. */
export function describeFailure(err: unknown): AzureFailure {
  if (err instanceof LroFailedError) return fromBody(err.error, "OperationFailed");
  if (isRestError(err)) {
    const status = err.statusCode;
    let body: { error?: ArmErrorBody } | undefined;
    try {
      body = err.response?.bodyAsText
        ? (JSON.parse(err.response.bodyAsText) as { error?: ArmErrorBody })
        : undefined;
    } catch {
      body = undefined;
    }
    const fallback = err.code ?? (status ? `HTTP${status}` : "RequestFailed");
    const { code, message } = body?.error
      ? fromBody(body.error, fallback)
      : { code: fallback, message: err.message };
    return {
      code,
      message: message || err.message,
      status,
      retryAfterMs: retryAfterMs(err.response?.headers?.get("retry-after")),
    };
  }
  const e = err as { name?: string; message?: string } | undefined;
  if (e?.name !== undefined && CREDENTIAL_ERRORS.has(e.name)) {
    return { code: "AuthenticationFailed", message: e.message ?? "" };
  }
  if (e?.name === "AbortError") return { code: "Aborted", message: e.message ?? "aborted" };
  if (e?.name === "AddressNotReadyError") return { code: "AddressNotReady", message: e.message ?? "" };
  return { code: "Unknown", message: e?.message ?? String(err) };
}

export function isNotFoundFailure(f: AzureFailure): boolean {
  return f.status === 404 && !CONFIG_CODES.has(f.code);
}

/**
 * A typed error for `what` (e.g. "Azure VM create podvm-x (Standard_DC2as_v5 in eastus)") from
 * whatever Azure returned, naming Azure's code; `suffix` adds what we did about it.
 */
export function toProviderError(what: string, err: unknown, suffix = ""): ProviderError {
  const f = describeFailure(err);
  const status = f.status ? ` (HTTP ${f.status})` : "";
  const message = `${what}: Azure ${f.code}${status}: ${f.message}${suffix}`;
  const opts = { code: f.code, cause: err };
  if (CAPACITY_CODES.has(f.code)) return new InsufficientCapacityError(message, opts);
  if (f.status === 429) return new ThrottledError(message, { ...opts, retryAfterMs: f.retryAfterMs });
  if (CONFIG_CODES.has(f.code) || f.status === 401 || f.status === 403)
    return new InvalidConfigError(message, opts);
  if (isNotFoundFailure(f)) return new NotFoundError(message, opts);
  return new ProviderError(message, opts);
}
