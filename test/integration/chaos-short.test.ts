// The short form of the chaos harness (npm run chaos -- --short) on every change: each local
// fault scenario with a few small bursts, against the real daemon, failing on any sandbox lost,
// resource leaked or record torn. The seed is printed; CHAOS_SEED replays it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chaos } from "../chaos/run.ts";
import { SCENARIOS } from "../chaos/scenarios/index.ts";
import { needsRoot } from "../helpers/requires.ts";

const seed = process.env.CHAOS_SEED ?? String(Math.floor(Math.random() * 0xffffffff));

for (const scenario of SCENARIOS) {
  test(
    `chaos, short form, ${scenario.name} (${scenario.fault}): nothing lost, nothing leaked, no torn record`,
    { skip: needsRoot() },
    async (t) => {
      const run = await chaos(["--short", "--seed", seed, "--scenario", scenario.name], (line) =>
        t.diagnostic(line),
      );
      const [r] = run.results;
      assert.equal(r.skipped, undefined, `skipped: ${r.skipped}`);
      assert.ok(r.ledger.size > 0 && r.ledger.injections.length > 0, "it made sandboxes and injected faults");
      assert.ok(run.ok, `CHAOS_SEED=${seed} replays it:\n${run.report}`);
    },
  );
}
