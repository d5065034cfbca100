// The short form of the fuzz campaign that CI runs on every change: each target for FUZZ_SECONDS
// (default 10) from a fresh seed (FUZZ_SEED to replay one), corpus first. A finding fails the test
// with the seed, the iteration, the input and the replay command.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatFinding, fuzz } from "./driver.ts";
import { TARGETS } from "./targets.ts";

const seconds = Number(process.env.FUZZ_SECONDS ?? "10");
const seed =
  process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;

for (const target of TARGETS) {
  test(`fuzz ${target.name}: ${seconds} s of mutated and generated inputs find nothing (seed ${seed})`, async (t) => {
    const report = await fuzz(target, { seed, seconds });
    t.diagnostic(formatFinding(report));
    assert.equal(report.finding, undefined, formatFinding(report));
    assert.ok(report.iterations > 0);
  });
}
