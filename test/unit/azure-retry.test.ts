// The one retry layer of the Azure provider: which requests it repeats, how long it waits, and
// that it replaces (not joins) the SDK's own retry policy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClientSecretCredential } from "@azure/identity";
import {
  ARM_RETRY_POLICY,
  armRetryPolicy,
  retryAfterMs,
  SDK_RETRY_POLICY,
  ThrottleGate,
  type PipelinePolicy,
} from "../../providers/azure/arm-retry.ts";
import { armOperation, armOutcome } from "../../providers/azure/call-names.ts";
import { makeClients } from "../../providers/azure/clients.ts";
import { ArmRateLimiter, parseRateLimits } from "../../providers/azure/rate-limit.ts";

type Req = Parameters<PipelinePolicy["sendRequest"]>[0];
type Res = Awaited<ReturnType<PipelinePolicy["sendRequest"]>>;

const SETTINGS = { maxAttempts: 5, budgetMs: 10_000, baseDelayMs: 1, maxDelayMs: 5, random: () => 0.5 };

function req(method: string): Req {
  return { url: "https://arm.test/subscriptions/s/resourceGroups/rg/x", method } as unknown as Req;
}

function res(status: number, headers: Record<string, string> = {}): Res {
  return { status, headers: { get: (n: string) => headers[n.toLowerCase()] } } as unknown as Res;
}

/** A `next` that answers from a script and records when each attempt came. */
function scripted(answers: Array<Res | Error>) {
  const times: number[] = [];
  const next = async (): Promise<Res> => {
    times.push(Date.now());
    const a = answers.shift();
    if (!a) throw new Error("script ran out");
    if (a instanceof Error) throw a;
    return a;
  };
  return { next, times };
}

test("429 waits the Retry-After ARM sent before the next attempt", async () => {
  const s = scripted([res(429, { "retry-after": "1" }), res(200)]);
  const out = await armRetryPolicy(SETTINGS, new ThrottleGate()).sendRequest(req("PUT"), s.next);
  assert.equal(out.status, 200);
  assert.equal(s.times.length, 2);
  assert.ok(s.times[1] - s.times[0] >= 1000, `retried after ${s.times[1] - s.times[0]} ms`);
});

test("5xx and dropped connections are retried for GET and DELETE, never for PUT", async () => {
  const policy = armRetryPolicy(SETTINGS, new ThrottleGate());
  const get = scripted([res(503), res(500), res(200)]);
  assert.equal((await policy.sendRequest(req("GET"), get.next)).status, 200);
  assert.equal(get.times.length, 3);
  const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
  const del = scripted([reset, res(202)]);
  assert.equal((await policy.sendRequest(req("DELETE"), del.next)).status, 202);
  const put = scripted([res(503)]);
  assert.equal((await policy.sendRequest(req("PUT"), put.next)).status, 503);
  assert.equal(put.times.length, 1);
  await assert.rejects(policy.sendRequest(req("PUT"), scripted([reset]).next), /socket hang up/);
});

test("a Retry-After beyond the budget returns the 429 at once, and the gate holds back other requests", async () => {
  const gate = new ThrottleGate();
  const s = scripted([res(429, { "retry-after": "60" })]);
  const out = await armRetryPolicy({ ...SETTINGS, budgetMs: 1000 }, gate).sendRequest(req("GET"), s.next);
  assert.equal(out.status, 429);
  assert.equal(s.times.length, 1);
  await assert.rejects(gate.wait(AbortSignal.timeout(50)), { name: "AbortError" });
});

test("attempts stop at maxAttempts", async () => {
  const s = scripted([res(500), res(500), res(500)]);
  const out = await armRetryPolicy({ ...SETTINGS, maxAttempts: 2 }, new ThrottleGate()).sendRequest(
    req("GET"),
    s.next,
  );
  assert.equal(out.status, 500);
  assert.equal(s.times.length, 2);
});

test("Retry-After is read as seconds or an HTTP date", () => {
  assert.equal(retryAfterMs("10"), 10_000);
  assert.equal(retryAfterMs(undefined), undefined);
  assert.equal(retryAfterMs(new Date(5_000).toUTCString(), 2_000), 3_000);
  assert.equal(retryAfterMs("soon"), undefined);
});

test("the SDK clients run our retry policy in place of the SDK's default one", () => {
  const credential = new ClientSecretCredential("t", "c", "s");
  const { compute, network } = makeClients(credential, {
    subscriptionId: "s",
    armEndpoint: "https://management.azure.com",
    retry: SETTINGS,
  });
  for (const pipeline of [compute.pipeline, network.pipeline]) {
    const names = pipeline.getOrderedPolicies().map((p) => p.name);
    assert.ok(names.includes(ARM_RETRY_POLICY), names.join(","));
    assert.ok(!names.includes(SDK_RETRY_POLICY), names.join(","));
    assert.equal(names.filter((n) => /retry/i.test(n)).length, 1, names.join(","));
  }
});

test("ARM calls are named by method and resource type, outcomes by Azure's error code", () => {
  const rg = "/subscriptions/s/resourceGroups/rg/providers";
  assert.equal(armOperation("PUT", `${rg}/Microsoft.Compute/virtualMachines/vm1`), "PUT virtualMachines");
  assert.equal(armOperation("GET", `${rg}/Microsoft.Compute/virtualMachines`), "LIST virtualMachines");
  assert.equal(
    armOperation("GET", "/subscriptions/s/providers/Microsoft.Compute/locations/eastus/operations/abc"),
    "GET operations",
  );
  assert.equal(
    armOperation("GET", "/subscriptions/s/providers/Microsoft.Compute/locations/eastus/vmSizes"),
    "LIST vmSizes",
  );
  assert.equal(armOutcome(201, "{}"), "ok");
  assert.equal(
    armOutcome(409, JSON.stringify({ error: { code: "OperationNotAllowed" } })),
    "OperationNotAllowed",
  );
  assert.equal(armOutcome(502, "<html>"), "HTTP502");
});

test("client-side buckets pace requests per class, and a 429 empties the class's bucket", async () => {
  const limiter = new ArmRateLimiter(parseRateLimits("reads=2:20,writes=1:1"));
  const t0 = Date.now();
  for (let i = 0; i < 4; i++) await limiter.take("GET");
  const fourReads = Date.now() - t0;
  assert.ok(fourReads >= 90, `2 reads beyond the burst at 20/s took ${fourReads} ms`);
  await limiter.take("PUT");
  const t1 = Date.now();
  limiter.drain("GET");
  await limiter.take("GET");
  assert.ok(Date.now() - t1 >= 40, "after a drain the next read waits for a refill");
  await limiter.take("DELETE");
  assert.deepEqual(parseRateLimits("off"), {});
  assert.throws(() => parseRateLimits("reads=10"), /AZURE_API_RATE_LIMIT: "reads=10"/);
});
