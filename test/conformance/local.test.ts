// `caa conformance --provider local` passes: the built-in local provider (VMs are network
// namespaces on a private bridge when root, loopback processes otherwise) keeps the contract.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { runSuite } from "./fixtures/run-suite.ts";

test(
  "caa conformance --provider local passes every case and writes JUnit",
  { timeout: 240_000 },
  async (t) => {
    const bridge = `caacf${randomBytes(3).toString("hex")}`;
    t.after(() => {
      if (process.getuid?.() !== 0) return;
      try {
        execFileSync("ip", ["link", "del", bridge], { stdio: "ignore" });
      } catch {
        // the provider never made it
      }
    });
    const run = await runSuite("local", {
      // A documentation range of its own, apart from the daemon tests' 203.0.113.0/24 subnets.
      LOCAL_VM_SUBNET: "198.51.100.240/28",
      LOCAL_BRIDGE: bridge,
      LOCAL_INSTANCE_TYPES: "local.small,local.medium,local.large,local.gpu",
    });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^local: 10 passed, 0 failed, 0 skipped .* — CONFORMANT$/m);
    assert.match(
      run.junit,
      /<testsuite name="conformance.local" tests="10" failures="0" errors="0" skipped="0"/,
    );
  },
);
