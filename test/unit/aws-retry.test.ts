// The one retry wrapper around EC2 calls: backoff with full jitter inside a budget, which
// failures are retried, typed errors that name the AWS code, and per-attempt metrics.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { awsCode, classify, toProviderError } from "../../providers/aws/aws-errors.ts";
import { backoffDelay, retryPlugin, type CallHooks } from "../../providers/aws/retry.ts";
import {
  InsufficientCapacityError,
  InvalidConfigError,
  NotFoundError,
  ProviderError,
  ThrottledError,
} from "../../providers/errors.ts";
import { connectionReset, ec2Error, Ec2Stub } from "../helpers/ec2-stub.ts";

function client(hooks: Partial<CallHooks>, stub: Ec2Stub): EC2Client {
  const c = new EC2Client({
    region: "us-east-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
    maxAttempts: 1,
  });
  c.middlewareStack.use(
    retryPlugin({ policy: { maxAttempts: 5, budgetMs: 10_000, baseDelayMs: 1, maxDelayMs: 2 }, ...hooks }),
  );
  stub.install(c);
  return c;
}

describe("backoff", () => {
  test("full jitter stays within min(max, base·2^(n-1))", () => {
    const policy = { maxAttempts: 10, budgetMs: 1e9, baseDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(
      backoffDelay(policy, 1, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(policy, 1, () => 0.9999),
      99,
    );
    assert.equal(
      backoffDelay(policy, 3, () => 0.9999),
      399,
    );
    assert.equal(
      backoffDelay(policy, 8, () => 0.9999),
      999,
    );
    assert.equal(
      backoffDelay(policy, 3, () => 0.5),
      200,
    );
  });

  test("no retry starts past the budget", async () => {
    const stub = new Ec2Stub();
    stub.handlers.DescribeInstances = () => {
      throw ec2Error("RequestLimitExceeded", 503);
    };
    const c = client(
      { policy: { maxAttempts: 100, budgetMs: 120, baseDelayMs: 40, maxDelayMs: 40 }, random: () => 0.9999 },
      stub,
    );
    const t0 = Date.now();
    await assert.rejects(c.send(new DescribeInstancesCommand({})), { name: "RequestLimitExceeded" });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 400, `stopped within the budget (${elapsed} ms)`);
    assert.ok(stub.calls.length >= 2 && stub.calls.length <= 4, `${stub.calls.length} attempts`);
  });

  test("an abort during backoff ends the call at once", async () => {
    const stub = new Ec2Stub();
    stub.handlers.DescribeInstances = () => {
      throw ec2Error("RequestLimitExceeded", 503);
    };
    const c = client(
      {
        policy: { maxAttempts: 5, budgetMs: 60_000, baseDelayMs: 10_000, maxDelayMs: 10_000 },
        random: () => 0.9,
      },
      stub,
    );
    const t0 = Date.now();
    await assert.rejects(c.send(new DescribeInstancesCommand({}), { abortSignal: AbortSignal.timeout(50) }));
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(stub.calls.length, 1);
  });
});

describe("what is retried", () => {
  test("throttles, 5xx and dropped connections are retried; a client error is not; every attempt is reported", async () => {
    const stub = new Ec2Stub();
    const outcomes: string[] = [];
    const failures = [ec2Error("RequestLimitExceeded", 503), ec2Error("Unavailable", 503), connectionReset()];
    stub.handlers.DescribeInstances = (_i, n) => {
      if (n <= failures.length) throw failures[n - 1];
      return { Reservations: [] };
    };
    const c = client({ onAttempt: (op, o) => outcomes.push(`${op}:${o}`) }, stub);
    await c.send(new DescribeInstancesCommand({}));
    assert.deepEqual(outcomes, [
      "DescribeInstances:RequestLimitExceeded",
      "DescribeInstances:Unavailable",
      "DescribeInstances:ECONNRESET",
      "DescribeInstances:ok",
    ]);

    stub.handlers.DescribeInstances = () => {
      throw ec2Error("InvalidParameterValue");
    };
    stub.calls.length = 0;
    await assert.rejects(c.send(new DescribeInstancesCommand({})), { name: "InvalidParameterValue" });
    assert.equal(stub.calls.length, 1);
  });

  test("the SDK client's own retries are off", async () => {
    const stub = new Ec2Stub();
    const c = client({}, stub);
    assert.equal(await c.config.maxAttempts(), 1);
  });
});

describe("EC2 errors become typed errors naming the AWS code", () => {
  const cases: [Error, string, string, new (...a: never[]) => ProviderError][] = [
    [ec2Error("RequestLimitExceeded", 503), "throttle", "RequestLimitExceeded", ThrottledError],
    [
      ec2Error("InsufficientInstanceCapacity", 500),
      "final",
      "InsufficientInstanceCapacity",
      InsufficientCapacityError,
    ],
    [ec2Error("InvalidInstanceID.NotFound"), "final", "InvalidInstanceID.NotFound", NotFoundError],
    [ec2Error("InvalidAMIID.NotFound"), "final", "InvalidAMIID.NotFound", InvalidConfigError],
    [ec2Error("UnauthorizedOperation", 403), "final", "UnauthorizedOperation", InvalidConfigError],
    [ec2Error("InternalError", 500), "ambiguous", "InternalError", ProviderError],
    [connectionReset(), "ambiguous", "ECONNRESET", ProviderError],
  ];
  for (const [err, kind, code, type] of cases)
    test(`${code}: ${kind}, ${type.name}`, () => {
      assert.equal(classify(err), kind);
      assert.equal(awsCode(err), code);
      const mapped = toProviderError("RunInstances m6a.large", err);
      assert.ok(mapped instanceof type);
      assert.equal(mapped.code, code);
      assert.ok(mapped.message.startsWith(`RunInstances m6a.large: AWS ${code}: `), mapped.message);
    });

  test("a 503 without an EC2 error body says so", () => {
    const err = Object.assign(new Error("@aws-sdk XML parse error"), { $metadata: { httpStatusCode: 503 } });
    assert.equal(classify(err), "ambiguous");
    assert.equal(
      toProviderError("DescribeImages", err).message,
      "DescribeImages: AWS HTTP503: HTTP 503 without an EC2 error body",
    );
  });
});
