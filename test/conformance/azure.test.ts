// `caa conformance --provider azure` against the ARM emulator (test/azure-emulator) passes, writes
// JUnit, and leaves no VM, NIC, public IP or disk behind in the emulator.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { generatedPublicKey } from "../../providers/azure/ssh-key.ts";
import { azureProviderEnv, startArmEmulator, trustCaInProcess } from "../azure-emulator/index.ts";
import { runSuite } from "./fixtures/run-suite.ts";

test(
  "caa conformance --provider azure passes against the ARM emulator and leaves nothing",
  { timeout: 240_000 },
  async (t) => {
    const emu = await startArmEmulator({ lroDelayMs: 20 });
    const dir = await mkdtemp(path.join(os.tmpdir(), "caa-conformance-azure-"));
    t.after(async () => {
      await emu.stop();
      await rm(dir, { recursive: true, force: true });
    });
    // The SDK runs in this process, which started before the emulator's CA existed.
    trustCaInProcess(emu.caPem);
    const keyFile = path.join(dir, "id_rsa.pub");
    await writeFile(keyFile, `${await generatedPublicKey(2048)}\n`);
    const run = await runSuite("azure", azureProviderEnv(emu, { AZURE_SSH_KEY_PATH: keyFile }));
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^azure: 10 passed, 0 failed, 0 skipped .* — CONFORMANT$/m);
    assert.match(
      run.junit,
      /<testsuite name="conformance.azure" tests="10" failures="0" errors="0" skipped="0"/,
    );
    assert.ok(emu.count("vm.put") >= 10, `the emulator saw the run's VMs (${emu.count("vm.put")} PUTs)`);
    assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
  },
);
