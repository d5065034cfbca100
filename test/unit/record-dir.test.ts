// Record directories under STATE_DIR: one unreadable record is moved aside instead of stopping the
// daemon, a symlink planted at a record's or a directory's name is never followed, and the warm
// pool's records get the same treatment as the sandbox records.
import assert from "node:assert/strict";
import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { PoolStore } from "../../src/pool/store.ts";
import { ensurePrivateDir, UnsafePathError } from "../../src/util/private-dir.ts";
import { loadRecords } from "../../src/util/record-dir.ts";
import { tempDir } from "../helpers/temp-dir.ts";

test("records load; empty, corrupt, misnamed and symlinked ones are quarantined; temp files go", async (t) => {
  const dir = await tempDir(t, "caa-record-dir-");
  const outside = join(dir, "outside.json");
  await writeFile(outside, JSON.stringify({ id: "linked" }));
  const records = join(dir, "records");
  await mkdir(records);
  await writeFile(join(records, "good.json"), JSON.stringify({ id: "good" }));
  await writeFile(join(records, "empty.json"), "");
  await writeFile(join(records, "torn.json"), '{"id":"to');
  await writeFile(join(records, "other.json"), JSON.stringify({ id: "someone-else" }));
  await symlink(outside, join(records, "linked.json"));
  await writeFile(join(records, "good.json.123.abc.tmp"), "{");

  const loaded = await loadRecords<{ id: string }>(records, ".json");
  assert.deepEqual(
    loaded.records.map((r) => r.id),
    ["good"],
  );
  const reasons = Object.fromEntries(
    loaded.quarantined.map((q) => [q.path.slice(records.length + 1), q.reason]),
  );
  assert.deepEqual(Object.keys(reasons).sort(), ["empty.json", "linked.json", "other.json", "torn.json"]);
  assert.match(reasons["empty.json"] ?? "", /JSON/);
  assert.equal(reasons["linked.json"], "is a symbolic link");
  assert.match(reasons["other.json"] ?? "", /does not match the file name/);
  assert.deepEqual(loaded.removedTmp, [join(records, "good.json.123.abc.tmp")]);
  assert.deepEqual(await readdir(records), ["good.json", "quarantine"].sort());
  assert.equal((await stat(join(records, "quarantine"))).mode & 0o777, 0o700);
  assert.equal(
    await readFile(outside, "utf8"),
    JSON.stringify({ id: "linked" }),
    "the link's target is untouched",
  );
  // Moved aside, not deleted: lstat throws if a quarantined file is gone.
  for (const q of loaded.quarantined) await lstat(q.movedTo);
});

test("ensurePrivateDir makes a 0700 directory and refuses a symlink or a file at its name", async (t) => {
  const dir = await tempDir(t, "caa-record-dir-");
  await ensurePrivateDir(join(dir, "a", "b"));
  assert.equal((await stat(join(dir, "a", "b"))).mode & 0o777, 0o700);
  const target = join(dir, "target");
  await mkdir(target);
  await symlink(target, join(dir, "link"));
  await assert.rejects(ensurePrivateDir(join(dir, "link")), UnsafePathError);
  await writeFile(join(dir, "file"), "");
  await assert.rejects(ensurePrivateDir(join(dir, "file")), /not a directory/);
  assert.deepEqual(await readdir(target), []);
  // A dangling symlink is refused too, and its target is not made.
  await symlink(join(dir, "nowhere"), join(dir, "dangling"));
  await assert.rejects(ensurePrivateDir(join(dir, "dangling")), UnsafePathError);
  await assert.rejects(stat(join(dir, "nowhere")), /ENOENT/);
  // An existing directory is kept and its mode put right; one under a missing parent gets both.
  await mkdir(join(dir, "open"), { mode: 0o755 });
  await ensurePrivateDir(join(dir, "open"));
  assert.equal((await stat(join(dir, "open"))).mode & 0o777, 0o700);
  await ensurePrivateDir(join(dir, "x", "y", "z"), 0o750);
  assert.equal((await stat(join(dir, "x", "y", "z"))).mode & 0o777, 0o750);
});

test("an unreadable warm-pool record is moved aside and the others load", async (t) => {
  const dir = await tempDir(t, "caa-record-dir-");
  const good = { slot: "pool-0a", key: "k", instanceType: "t", image: "", name: "n", fingerprint: "f" };
  await writeFile(join(dir, "pool-0a.json"), JSON.stringify({ ...good, state: "ready", createdAt: "" }));
  await writeFile(join(dir, "pool-0b.json"), "");
  const store = await PoolStore.open(dir);
  assert.deepEqual(
    store.all().map((r) => r.slot),
    ["pool-0a"],
  );
  assert.equal(store.quarantined.length, 1);
  assert.equal(store.quarantined[0]?.path, join(dir, "pool-0b.json"));
});
