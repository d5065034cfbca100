// A record written on a full disk: the write fails with ENOSPC, the old record stays whole and no
// temp file is left behind (the daemon keeps running and writes again once space is freed).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { writeFileAtomic } from "../../src/util/atomic-file.ts";
import { needsRoot } from "../helpers/requires.ts";

test(
  "writeFileAtomic on a full disk fails with ENOSPC and leaves no temp file",
  { skip: needsRoot() },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "caa-enospc-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "caa-test-enospc", dir]);
    t.after(async () => {
      execFileSync("umount", [dir]);
      await rm(dir, { recursive: true, force: true });
    });
    const record = join(dir, "a.json");
    await writeFileAtomic(record, '{"stage":"created"}');
    // Fill what is left; tmpfs counts whole pages, so a few bytes may remain.
    await writeFile(join(dir, "filler"), Buffer.alloc(60 * 1024)).catch(() => undefined);
    await assert.rejects(
      writeFileAtomic(record, JSON.stringify({ stage: "running", pad: "x".repeat(32 * 1024) })),
      {
        code: "ENOSPC",
      },
    );
    assert.deepEqual((await readdir(dir)).sort(), ["a.json", "filler"], "no temp file is left");
    assert.equal(await readFile(record, "utf8"), '{"stage":"created"}', "the old record is whole");
  },
);
