// The cloud-call layer's pieces (providers/cloudapi/): token buckets per family with a queue that
// takes turns between callers, throttle feedback, and batches in which each caller gets its own
// answer or leaves. Ordering is asserted, never time.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Batcher } from "../../providers/cloudapi/batcher.ts";
import { CallBudget } from "../../providers/cloudapi/budget.ts";
import { parseRateLimits, parseShare, scaleLimits } from "../../providers/cloudapi/limits.ts";
import { ThrottledError } from "../../providers/errors.ts";

const budget = (capacity: number, refillPerSec: number, maxWaitMs = 60_000) =>
  new CallBudget({ run: { capacity, refillPerSec } }, { cloud: "test", maxWaitMs });

describe("call budget", () => {
  test("one caller's many queued calls (its retries) do not hold back other callers: turns go round", async () => {
    const b = budget(1, 200);
    // The cloud has just throttled: everything below queues up before the first token is there.
    b.throttled("run", 200);
    const order: string[] = [];
    const take = (caller: string, front = false) =>
      b.acquire("run", caller, undefined, front).then(() => order.push(caller));
    const calls = [take("a")];
    for (let i = 0; i < 8; i++) calls.push(take("a", true));
    calls.push(take("b"), take("c"));
    assert.equal(b.snapshot()[0].queued, 11);
    assert.equal(b.snapshot()[0].callers, 3);
    await Promise.all(calls);
    assert.deepEqual(order.slice(0, 4), ["a", "b", "c", "a"]);
  });

  test("a family without a bucket passes at once; a queued call leaves when its signal aborts", async () => {
    const b = budget(1, 0.001);
    assert.equal(await b.acquire("other", "x"), 0);
    await b.acquire("run", "x");
    const ac = new AbortController();
    const waiting = b.acquire("run", "y", ac.signal);
    assert.equal(b.snapshot()[0].queued, 1);
    ac.abort();
    await assert.rejects(waiting, { name: "AbortError" });
    assert.equal(b.snapshot()[0].queued, 0);
    b.close();
  });

  test("a throttle drains the bucket and holds the whole queue; a call that waits too long is a ThrottledError", async () => {
    const b = budget(10, 0.001, 50);
    b.throttled("run");
    const [state] = b.snapshot();
    assert.equal(state.tokens, 0);
    assert.equal(state.throttles, 1);
    assert.ok(state.heldForMs > 0);
    await assert.rejects(b.acquire("run", "x"), (err: Error) => {
      assert.ok(err instanceof ThrottledError);
      assert.equal(err.code, "ClientQueueTimeout");
      assert.match(err.message, /test run: no request token within/);
      return true;
    });
  });
});

describe("rate-limit settings", () => {
  test("parsed per family, scaled by the node's share, bad text named", () => {
    const limits = parseRateLimits("X_RATE", "run=5:2, describe=100:20", ["run", "describe"]);
    assert.deepEqual(limits, {
      run: { capacity: 5, refillPerSec: 2 },
      describe: { capacity: 100, refillPerSec: 20 },
    });
    assert.deepEqual(scaleLimits(limits, parseShare("0.1")), {
      run: { capacity: 1, refillPerSec: 0.2 },
      describe: { capacity: 10, refillPerSec: 2 },
    });
    assert.deepEqual(parseRateLimits("X_RATE", "off", ["run"]), {});
    assert.throws(() => parseRateLimits("X_RATE", "walk=1:1", ["run"]), /X_RATE: "walk=1:1" is not/);
    assert.throws(() => parseShare("1.5"), /CLOUD_API_RATE_SHARE/);
    assert.throws(() => parseShare("0"), /CLOUD_API_RATE_SHARE/);
  });
});

describe("batcher", () => {
  const window = { idleMs: 20, maxMs: 200, maxItems: 500 };

  test("items of many callers go out in one call and each caller gets its own result or error", async () => {
    const batches: string[][] = [];
    const b = new Batcher<string, string>(window, async (ids) => {
      batches.push([...ids]);
      return ids.map((id) => (id === "bad" ? new Error(`no ${id}`) : `ok ${id}`));
    });
    const results = await Promise.allSettled(["a", "bad", "c"].map((id) => b.add(id)));
    assert.deepEqual(batches, [["a", "bad", "c"]]);
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message)),
      ["ok a", "no bad", "ok c"],
    );
  });

  test("a caller cancelled inside the window is left out of the call; the others are answered", async () => {
    const batches: string[][] = [];
    const b = new Batcher<string, string>(window, async (ids) => {
      batches.push([...ids]);
      return ids.map((id) => `ok ${id}`);
    });
    const ac = new AbortController();
    const a = b.add("a");
    const gone = b.add("gone", ac.signal);
    const c = b.add("c");
    ac.abort();
    await assert.rejects(gone, { name: "AbortError" });
    assert.deepEqual(await Promise.all([a, c]), ["ok a", "ok c"]);
    assert.deepEqual(batches, [["a", "c"]]);
  });

  test("a caller cancelled while the call is out stops waiting at once; the others get their answers", async () => {
    let release = () => {};
    let sent = () => {};
    const out = new Promise<void>((r) => (sent = r));
    const b = new Batcher<string, string>(window, async (ids) => {
      sent();
      await new Promise<void>((r) => (release = r));
      return ids.map((id) => `ok ${id}`);
    });
    const ac = new AbortController();
    const a = b.add("a");
    const gone = b.add("gone", ac.signal);
    await out;
    ac.abort();
    await assert.rejects(gone, { name: "AbortError" });
    release();
    assert.equal(await a, "ok a");
  });

  test("a whole-call failure is every caller's error; more items than fit go out in further calls", async () => {
    const sizes: number[] = [];
    const b = new Batcher<number, number>({ idleMs: 20, maxMs: 200, maxItems: 3 }, async (items) => {
      sizes.push(items.length);
      if (items.includes(99)) throw new Error("cloud down");
      return items.map((i) => i * 2);
    });
    assert.deepEqual(await Promise.all([1, 2, 3, 4].map((i) => b.add(i))), [2, 4, 6, 8]);
    assert.deepEqual(sizes, [3, 1]);
    const failing = await Promise.allSettled([5, 99].map((i) => b.add(i)));
    assert.ok(failing.every((r) => r.status === "rejected" && /cloud down/.test(String(r.reason))));
  });
});
