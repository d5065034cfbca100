// Atomic record writes (src/util/atomic-file.ts): the directory fsync that concurrent writers share
// covers every rename done before it was asked for, a write without fsync is still atomic, and a
// store on tmpfs makes no fsync.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { DirSync, fsyncPath, writeFileAtomic } from "../../src/util/atomic-file.ts";
import type { SandboxRecord } from "../../src/sandbox/model.ts";
import { mustSync } from "../../src/sandbox/recovery.ts";
import { SandboxStore } from "../../src/sandbox/store.ts";
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

test("a store on tmpfs skips the fsyncs, one on a disk makes them, as statfs says", async (t) => {
  // The expectation comes from coreutils' `stat -f`, not from the code under test.
  const fsType = (dir: string) =>
    spawnSync("stat", ["-f", "-c", "%T", dir], { encoding: "utf8" }).stdout.trim();
  if (fsType("/dev/shm") !== "tmpfs") return t.skip("/dev/shm is not tmpfs on this machine");
  const shm = await mkdtemp(join("/dev/shm", "caa-store-"));
  t.after(() => rm(shm, { recursive: true, force: true }));
  const disk = await tempDir(t, "caa-store-");
  for (const dir of [shm, disk]) {
    const store = await SandboxStore.open(dir);
    const type = fsType(dir);
    assert.equal(store.fsyncs, type !== "tmpfs" && type !== "ramfs", `${dir} (${type})`);
  }
  // Written without fsyncs, a record is still there, whole, for the next daemon.
  const first = await SandboxStore.open(shm);
  const record = { id: "s1", stage: "provisioning", timings: {} } as unknown as SandboxRecord;
  await first.put(record);
  const again = await SandboxStore.open(shm);
  assert.equal(again.get("s1")?.stage, "provisioning");
  assert.deepEqual(await readdir(shm), ["s1.json"]);
});
