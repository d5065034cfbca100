// Records written on a full disk (a tmpfs of the test's own): the write fails with ENOSPC, the old
// record stays whole and nothing is left behind — no temp file, no VM directory without its record
// — so the daemon keeps running and works again once space is freed.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { LOCAL_OPTIONS } from "../../providers/local/config.ts";
import { LocalProvider } from "../../providers/local/provider.ts";
import { resolve } from "../../src/config/options.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { writeFileAtomic } from "../../src/util/atomic-file.ts";
import { fill, mountTmpfs, unfill, unmountTmpfs } from "../chaos/tmpfs.ts";
import { needsRoot } from "../helpers/requires.ts";

async function smallDisk(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "caa-enospc-"));
  await mountTmpfs(dir, 256 * 1024);
  t.after(async () => {
    await unmountTmpfs(dir);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

test(
  "writeFileAtomic on a full disk fails with ENOSPC and leaves no temp file",
  { skip: needsRoot() },
  async (t) => {
    const dir = await smallDisk(t);
    const record = join(dir, "a.json");
    await writeFileAtomic(record, '{"stage":"created"}');
    await fill(dir);
    await assert.rejects(
      writeFileAtomic(record, JSON.stringify({ stage: "running", pad: "x".repeat(32 * 1024) })),
      {
        code: "ENOSPC",
      },
    );
    assert.deepEqual((await readdir(dir)).sort(), [".chaos-filler", "a.json"], "no temp file is left");
    assert.equal(await readFile(record, "utf8"), '{"stage":"created"}', "the old record is whole");
  },
);

test(
  "a local VM whose record cannot be saved (disk full) leaves no directory, and the next create works",
  { skip: needsRoot() },
  async (t) => {
    const dir = await smallDisk(t);
    const env = {
      LOCAL_LOOPBACK: "true",
      LOCAL_LOOPBACK_SUBNET: "127.77.2.0/24",
      LOCAL_VM_COMMAND: `/bin/sh -c "sleep 300; true"`,
    };
    const p = new LocalProvider(resolve(LOCAL_OPTIONS, { env, flags: {} }), {
      logger: silentLogger(),
      stateDir: dir,
    });
    await p.start();
    const owner = {
      cluster: "c1",
      node: "n1",
      sandboxId: "b".repeat(64),
      podName: "web",
      podNamespace: "shop",
    };
    const request = {
      name: "podvm-web-bbbbbbbb",
      userData: "#cloud-config\n",
      spec: { instanceType: "local.medium", vcpus: 0, memoryMiB: 0, gpus: 0, image: "" },
      owner,
    };
    await fill(dir);
    await assert.rejects(p.create(request), /ENOSPC/);
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.startsWith("local-")),
      [],
      "no VM directory or record is left",
    );
    await unfill(dir);
    const vm = await p.create(request);
    try {
      assert.deepEqual(await p.list({}), [await p.get(vm.id)]);
    } finally {
      await p.delete(vm.id);
    }
  },
);
