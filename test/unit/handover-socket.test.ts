// The handover socket across a rolling upgrade: a retired owner closing its server must not take
// its successor's socket (at the same path) with it, or the next daemon to start finds no owner to
// ask and gives up.
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { handoverSocketPath, serveHandover, type HandoverOwner } from "../../src/handover/channel.ts";

const idle: HandoverOwner = {
  release: () => Promise.reject(new Error("not in this test")),
  succeeded: () => Promise.resolve(),
  abandoned: () => undefined,
};

const connects = (path: string) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(path, () => (s.destroy(), resolve(true)));
    s.on("error", () => resolve(false));
  });

test("a retired owner's close leaves its successor's handover socket in place", async () => {
  const dir = await mkdtemp(join(tmpdir(), "caa-handover-"));
  const path = handoverSocketPath(dir);
  const retired = await serveHandover(path, idle);
  const successor = await serveHandover(path, idle);
  try {
    await retired.close();
    assert.ok(await stat(path).catch(() => undefined), "the successor's socket is still at the path");
    assert.equal(await connects(path), true, "and a third daemon reaches the successor");
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  } finally {
    await successor.close();
    await rm(dir, { recursive: true, force: true });
  }
});
