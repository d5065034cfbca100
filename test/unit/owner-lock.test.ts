// The state-directory lock: one holder at a time, and a holder killed with -9 leaves no stale lock.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { OwnerLock } from "../../src/handover/owner-lock.ts";

const LOCK = fileURLToPath(new URL("../../src/handover/owner-lock.ts", import.meta.url));

test("one owner per state directory; a kill -9'd owner's lock is taken over at once", async () => {
  const dir = `/tmp/caa-lock-test-${process.pid}/state`;
  const holder = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const { OwnerLock } = await import(${JSON.stringify(LOCK)}); await OwnerLock.tryAcquire(${JSON.stringify(dir)}); console.log("locked"); setInterval(() => {}, 1e6);`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  try {
    await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
    assert.equal(await OwnerLock.tryAcquire(dir), undefined, "held by the other process");
    assert.ok(await OwnerLock.tryAcquire(`${dir}-other`).then((l) => l?.release().then(() => true)));
    holder.kill("SIGKILL");
    const lock = await OwnerLock.acquire(dir, 5000);
    assert.ok(lock, "taken over after the owner died");
    assert.equal(await OwnerLock.tryAcquire(dir), undefined, "and now held by us");
    await lock.release();
  } finally {
    holder.kill("SIGKILL");
  }
});
