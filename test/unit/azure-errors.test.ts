// Azure error codes become typed errors that name the code.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  InsufficientCapacityError,
  InvalidConfigError,
  NotFoundError,
  ProviderError,
  ThrottledError,
} from "../../providers/errors.ts";
import { describeFailure, toProviderError } from "../../providers/azure/azure-errors.ts";
import { LroFailedError } from "../../providers/azure/lro-capture.ts";

function restError(statusCode: number, code: string, headers: Record<string, string> = {}) {
  return Object.assign(new Error(`${code} message`), {
    name: "RestError",
    code,
    statusCode,
    response: { headers: { get: (n: string) => headers[n.toLowerCase()] } },
  });
}

test("capacity codes from a failed LRO are InsufficientCapacityError, also inside a deployment wrapper", () => {
  for (const code of [
    "AllocationFailed",
    "ZonalAllocationFailed",
    "SkuNotAvailable",
    "OverconstrainedAllocationRequest",
  ]) {
    const err = toProviderError("create", new LroFailedError({ code, message: "no room" }, undefined));
    assert.ok(err instanceof InsufficientCapacityError, code);
    assert.equal(err.code, code);
    assert.equal(err.message, `create: Azure ${code}: no room`);
  }
  const wrapped = new LroFailedError(
    {
      code: "ResourceDeploymentFailure",
      message: "outer",
      details: [{ code: "AllocationFailed", message: "inner" }],
    },
    undefined,
  );
  assert.deepEqual(describeFailure(wrapped), { code: "AllocationFailed", message: "inner" });
});

test("409 quota is a ProviderError with Azure's code; 429 is ThrottledError with Retry-After", () => {
  const quota = toProviderError("create", restError(409, "OperationNotAllowed"));
  assert.ok(quota instanceof ProviderError && !(quota instanceof InsufficientCapacityError));
  assert.equal(quota.code, "OperationNotAllowed");
  assert.match(quota.message, /Azure OperationNotAllowed \(HTTP 409\)/);
  const throttled = toProviderError("create", restError(429, "TooManyRequests", { "retry-after": "17" }));
  assert.ok(throttled instanceof ThrottledError);
  assert.equal(throttled.retryAfterMs, 17_000);
});

test("404 of a resource is NotFoundError; a missing image, group or bad token is InvalidConfigError", () => {
  assert.ok(toProviderError("get", restError(404, "ResourceNotFound")) instanceof NotFoundError);
  assert.ok(toProviderError("create", restError(404, "ImageNotFound")) instanceof InvalidConfigError);
  assert.ok(toProviderError("list", restError(404, "ResourceGroupNotFound")) instanceof InvalidConfigError);
  assert.ok(
    toProviderError("list", restError(401, "InvalidAuthenticationToken")) instanceof InvalidConfigError,
  );
  const cred = Object.assign(new Error("AADSTS7000215: Invalid client secret provided."), {
    name: "AuthenticationRequiredError",
  });
  const err = toProviderError("start", cred);
  assert.ok(err instanceof InvalidConfigError);
  assert.equal(err.code, "AuthenticationFailed");
});
