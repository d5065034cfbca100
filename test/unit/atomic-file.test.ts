// Atomic record writes (src/util/atomic-file.ts): the directory fsync that concurrent writers share
// covers every rename done before it was asked for, and a write without fsync is still atomic.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { DirSync, fsyncPath, writeFileAtomic } from "../../src/util/atomic-file.ts";
import { mustSync } from "../../src/sandbox/recovery.ts";
import { tempDir } from "../helpers/temp-dir.ts";

test("concurrent writers share directory fsyncs, each started after the writer asked", async (t) => {
  const dir = await tempDir(t, "caa-atomic-");
  const starts: number[] = [];
  const sync = new DirSync(dir, async (d) => {
    starts.push(performance.now());
    await fsyncPath(d);
  });
  // Each write resolves only after a fsync that began after its own rename.
  const asked: number[] = [];
  const resolvedBy: number[] = [];
  await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      await writeFileAtomic(join(dir, `r${i}.json`), JSON.stringify({ i }), {
        syncDir: () => {
          asked[i] = performance.now();
          return sync.sync().then(() => void (resolvedBy[i] = starts.length));
        },
      });
    }),
  );
  assert.ok(starts.length < 40, `40 writers ran ${starts.length} directory fsyncs`);
  for (let i = 0; i < 40; i++) {
    const covering = starts[resolvedBy[i] - 1];
    assert.ok(covering >= asked[i], `writer ${i} was released by a fsync that started before it asked`);
  }
  assert.equal((await readdir(dir)).length, 40);
});

test("a failed directory fsync rejects its callers and the next one runs again", async (t) => {
  const dir = await tempDir(t, "caa-atomic-");
  let calls = 0;
  const sync = new DirSync(join(dir, "missing"), async (d) => {
    calls++;
    await fsyncPath(d);
  });
  const results = await Promise.allSettled([sync.sync(), sync.sync(), sync.sync()]);
  assert.ok(results.every((r) => r.status === "rejected"));
  await assert.rejects(sync.sync(), { code: "ENOENT" });
  assert.ok(calls >= 2 && calls <= 3, `${calls} fsyncs`);
});

test("a write without fsync replaces the file whole and leaves no temp file", async (t) => {
  const dir = await tempDir(t, "caa-atomic-");
  const file = join(dir, "rec.json");
  await writeFileAtomic(file, '{"stage":"created"}');
  await writeFileAtomic(file, '{"stage":"running"}', { durable: false });
  assert.equal(await readFile(file, "utf8"), '{"stage":"running"}');
  assert.deepEqual(await readdir(dir), ["rec.json"]);
});

test("records are fsynced before the cloud calls that create or delete, not where recovery redoes the step", () => {
  for (const stage of ["provisioning", "stopping", "failed"] as const) assert.equal(mustSync(stage), true);
  for (const stage of ["created", "running", "stopped"] as const) assert.equal(mustSync(stage), false);
});
