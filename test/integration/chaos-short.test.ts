// The short form of the chaos harness (npm run chaos -- --short) on every change: each local
// fault scenario with a few small bursts, against the real daemon, failing on any sandbox lost,
// resource leaked or record torn. The seed is printed; CHAOS_SEED replays it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chaos } from "../chaos/run.ts";
import { needsRoot } from "../helpers/requires.ts";

test(
  "chaos harness, short form: nothing lost, nothing leaked, no torn record",
  { skip: needsRoot() },
  async (t) => {
    const seed = process.env.CHAOS_SEED ?? String(Math.floor(Math.random() * 0xffffffff));
    const run = await chaos(["--short", "--seed", seed], (line) => t.diagnostic(line));
    for (const r of run.results) {
      const l = r.ledger;
      assert.ok(r.skipped === undefined, `${r.scenario} was skipped: ${r.skipped}`);
      assert.ok(l.size > 0 && l.injections.length > 0, `${r.scenario} made sandboxes and injected faults`);
    }
    assert.ok(run.ok, `seed ${seed} (CHAOS_SEED=${seed} replays it):\n${run.report}`);
  },
);
