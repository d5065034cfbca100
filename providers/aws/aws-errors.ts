// EC2 failures, classified once at the provider's edge (as Karpenter types its errors):
// the retry middleware decides by class, the provider maps a final failure to a typed error
// whose message and `code` name the AWS error code.
import {
  InsufficientCapacityError,
  InvalidConfigError,
  NotFoundError,
  ProviderError,
  ThrottledError,
} from "../errors.ts";

/**
 * throttle: refused before doing anything, safe to repeat any call.
 * ambiguous: 5xx, timeout or dropped connection; the call may or may not have taken effect.
 * final: retrying the same call will not help.
 */
export type FailureClass = "throttle" | "ambiguous" | "final";

// EC2 API error codes (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
const THROTTLE_CODES = new Set([
  "RequestLimitExceeded",
  "Throttling",
  "ThrottlingException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "EC2ThrottledException",
]);

/** No room for this type now; another type may fit (Karpenter's unfulfillable-capacity codes, subset). */
const CAPACITY_CODES = new Set([
  "InsufficientInstanceCapacity",
  "InsufficientCapacity",
  "InsufficientHostCapacity",
  "InsufficientReservedInstanceCapacity",
  "Unsupported",
]);

const NOT_FOUND_CODES = new Set(["InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"]);

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);

const CONFIG_CODE =
  /^(InvalidAMIID\.|InvalidInstanceType|InvalidSubnetID\.|InvalidGroup\.|InvalidGroupId\.|InvalidKeyPair\.|InvalidLaunchTemplate|InvalidParameter|InvalidBlockDeviceMapping|MissingParameter|UnauthorizedOperation|AuthFailure|OptInRequired|InvalidClientTokenId|SignatureDoesNotMatch|Blocked)/;

interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

/** The AWS error code of an SDK failure, or the network error code for a dropped connection. */
export function awsCode(err: unknown): string {
  if (err instanceof ProviderError) return err.code;
  const e = err as SdkErrorLike | undefined;
  if (!e || typeof e !== "object") return "Unknown";
  if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) return e.code;
  if (typeof e.Code === "string" && e.Code) return e.Code;
  if (e.name === "TimeoutError") return "TimeoutError";
  if (typeof e.code === "string" && /^E[A-Z_]+$/.test(e.code)) return e.code;
  const status = httpStatus(e);
  if (e.name && e.name !== "Error" && e.name !== "Unknown" && e.name !== "EC2ServiceException") return e.name;
  if (status !== undefined) return `HTTP${status}`;
  return e.name || "Unknown";
}

function httpStatus(e: SdkErrorLike): number | undefined {
  return e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
}

export function classify(err: unknown): FailureClass {
  const code = awsCode(err);
  if (THROTTLE_CODES.has(code)) return "throttle";
  if (CAPACITY_CODES.has(code) || NOT_FOUND_CODES.has(code) || CONFIG_CODE.test(code)) return "final";
  if (NETWORK_CODES.has(code) || /^E[A-Z_]+$/.test(code)) return "ambiguous";
  const status = httpStatus(err as SdkErrorLike);
  if (status !== undefined && status >= 500) return "ambiguous";
  if (code === "InternalError" || code === "ServiceUnavailable" || code === "Unavailable") return "ambiguous";
  return "final";
}

export function isCapacityCode(code: string): boolean {
  return CAPACITY_CODES.has(code);
}

function awsMessage(err: unknown, code: string): string {
  // A 5xx without an EC2 error body only gives the SDK's XML parse error: say what happened.
  if (code.startsWith("HTTP")) return `HTTP ${code.slice(4)} without an EC2 error body`;
  const msg = (err as SdkErrorLike | undefined)?.message;
  return typeof msg === "string" && msg !== "" ? msg : "no message";
}

const attemptsByError = new WeakMap<object, number>();

/** Noted by the retry middleware when it gives up on a call. */
export function recordAttempts(err: unknown, attempts: number): void {
  if (typeof err === "object" && err !== null) attemptsByError.set(err, attempts);
}

/** How many attempts a failed call made (1 if it was not retried). */
export function attemptsOf(err: unknown): number {
  return (typeof err === "object" && err !== null && attemptsByError.get(err)) || 1;
}

/** `<what>: AWS <code>: <message>[ (after N attempts)]` as the matching typed error. */
export function toProviderError(what: string, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const code = awsCode(err);
  const attempts = attemptsOf(err);
  const message = `${what}: AWS ${code}: ${awsMessage(err, code)}${attempts > 1 ? ` (after ${attempts} attempts)` : ""}`;
  const opts = { code, cause: err };
  if (THROTTLE_CODES.has(code)) return new ThrottledError(`${message}; retry budget exhausted`, opts);
  if (CAPACITY_CODES.has(code)) return new InsufficientCapacityError(message, opts);
  if (NOT_FOUND_CODES.has(code)) return new NotFoundError(message, opts);
  if (CONFIG_CODE.test(code)) return new InvalidConfigError(message, opts);
  return new ProviderError(message, opts);
}
