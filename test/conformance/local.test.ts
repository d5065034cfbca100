// `caa conformance --provider local` passes: the built-in local provider (VMs are network
// namespaces on a private bridge when root, loopback processes otherwise) keeps the contract.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { conformanceCommand } from "../../src/conformance/command.ts";

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (c: Buffer) => (text += c.toString("utf8")));
  return { stream, text: () => text };
}

test(
  "caa conformance --provider local passes every case and writes JUnit",
  { timeout: 240_000 },
  async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "caa-conformance-local-"));
    const bridge = `caacf${randomBytes(3).toString("hex")}`;
    t.after(async () => {
      if (process.getuid?.() === 0) {
        try {
          execFileSync("ip", ["link", "del", bridge], { stdio: "ignore" });
        } catch {
          // the provider never made it
        }
      }
      await rm(dir, { recursive: true, force: true });
    });
    const junit = path.join(dir, "junit-conformance-local.xml");
    const stdout = capture();
    const stderr = capture();
    const code = await conformanceCommand(["--provider", "local", "--junit", junit], {
      env: {
        // A documentation range of its own, apart from the daemon tests' 203.0.113.0/24 subnets.
        LOCAL_VM_SUBNET: "198.51.100.240/28",
        LOCAL_BRIDGE: bridge,
        LOCAL_INSTANCE_TYPES: "local.small,local.medium,local.large,local.gpu",
      },
      stdout: stdout.stream,
      stderr: stderr.stream,
    });
    assert.equal(code, 0, `${stdout.text()}\n${stderr.text()}`);
    assert.match(stdout.text(), /^local: 9 passed, 0 failed, 0 skipped .* — CONFORMANT$/m);
    const xml = await readFile(junit, "utf8");
    assert.match(xml, /<testsuite name="conformance.local" tests="9" failures="0" errors="0" skipped="0"/);
  },
);
