// The short form of the chaos harness's cloud targets on every change: kill -9 of `caa serve`
// during small bursts against moto behind the fault proxy and against the ARM emulator, each with
// 30 % of the cloud calls faulted (throttling, 5xx, dropped connections, capacity errors, slow
// answers), failing on any sandbox lost, instance (or NIC, disk, IP) leaked or record torn. The
// seed is printed; CHAOS_SEED replays it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chaos } from "../chaos/run.ts";
import { needsMoto } from "../helpers/moto.ts";

const TARGETS = [
  { target: "moto", skip: needsMoto() },
  { target: "arm-emulator", skip: false as const },
];

for (const { target, skip } of TARGETS) {
  test(
    `chaos harness, short form on ${target} with 30 % cloud faults: nothing lost, nothing leaked`,
    { skip },
    async (t) => {
      const seed = process.env.CHAOS_SEED ?? String(Math.floor(Math.random() * 0xffffffff));
      const run = await chaos(
        ["--short", "--seed", seed, "--scenario", "kill9", "--target", target],
        (line) => t.diagnostic(line),
      );
      const [r] = run.results;
      assert.ok(r.skipped === undefined, `skipped: ${r.skipped}`);
      assert.ok(r.ledger.size > 0 && r.ledger.injections.length > 0, "sandboxes were made and killed under");
      assert.ok(
        Object.values(r.cloudFaults ?? {}).reduce((a, b) => a + b, 0) > 0,
        "cloud faults were injected",
      );
      assert.ok(run.ok, `seed ${seed} (CHAOS_SEED=${seed} replays it):\n${run.report}`);
    },
  );
}

test("a scenario a cloud target cannot run is reported as skipped, and the run passes", async () => {
  // The cloud targets have no tmpfs state directory; before, disk-full failed the whole run there.
  const run = await chaos(
    ["--short", "--seed", "1", "--scenario", "disk-full", "--target", "arm-emulator"],
    () => {},
  );
  assert.equal(run.results[0].skipped, "target arm-emulator has no tmpfs state directory");
  assert.ok(run.ok);
  assert.match(run.report, /skipped: target arm-emulator has no tmpfs state directory/);
});
