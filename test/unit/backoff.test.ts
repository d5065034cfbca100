// The one retry loop (src/util/backoff.ts): what the cloud-call layer relies on — a queued retry is
// not slept but still checked against the budget, and time spent queued is not held against it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { retry, type Backoff } from "../../src/util/backoff.ts";

const slow: Backoff = { attempts: 10, baseMs: 200, capMs: 200, jitter: 0, budgetMs: 60_000, random: () => 0 };

test("a retry marked queued starts at once: the attempt waits by itself", async () => {
  const started = Date.now();
  let n = 0;
  const out = await retry(
    async () => {
      if (++n < 4) throw new Error("throttled");
      return "ok";
    },
    slow,
    { decide: () => ({ retry: true, afterMs: 5_000, queued: true }) },
  );
  assert.equal(out, "ok");
  assert.equal(n, 4);
  assert.ok(Date.now() - started < 1_000, `${Date.now() - started} ms: no retry slept`);
});

test("a queued retry whose delay overruns the budget gives up without a second attempt", async () => {
  let n = 0;
  await assert.rejects(
    retry(
      async () => {
        n++;
        throw new Error("throttled for a minute");
      },
      { ...slow, budgetMs: 2_000 },
      { decide: () => ({ retry: true, afterMs: 60_000, queued: true }) },
    ),
    /throttled for a minute/,
  );
  assert.equal(n, 1);
});

test("time reported as queued does not count against the budget", async () => {
  const budget: Backoff = { ...slow, baseMs: 50, capMs: 50, budgetMs: 300 };
  const attempt = (queuedPerAttempt: number) => {
    let n = 0;
    let queued = 0;
    return retry(
      async () => {
        n++;
        // An attempt that spent its time waiting for a token, then failed.
        await new Promise((r) => setTimeout(r, queuedPerAttempt));
        queued += queuedPerAttempt;
        if (n < 5) throw new Error("try again");
        return n;
      },
      budget,
      { excludedMs: () => queued },
    );
  };
  assert.equal(await attempt(100), 5, "400 ms queued in all, outside the 300 ms budget");
  // The same waits not reported as queued: the budget runs out.
  let n = 0;
  await assert.rejects(
    retry(async () => {
      n++;
      await new Promise((r) => setTimeout(r, 100));
      throw new Error("try again");
    }, budget),
    /try again/,
  );
  assert.ok(n < 5, `${n} attempts`);
});
