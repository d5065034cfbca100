// The pod-VM loader (src/podvm/bundle.ts) keeps node's compile cache where only its owner can
// write: the forwarder runs as root and executes what it finds there.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, chown, copyFile, link, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { bundlePodVm, ROOT_COMPILE_CACHE } from "../../src/podvm/bundle.ts";
import { isRoot } from "../helpers/requires.ts";

const NOBODY = 65534;

let node = process.execPath;

async function setup(t: { after(fn: () => Promise<void>): void }): Promise<{ tmp: string; loader: string }> {
  const tmp = await mkdtemp(path.join(tmpdir(), "caa-ccache-"));
  t.after(() => rm(tmp, { recursive: true, force: true }));
  // Readable by the unprivileged user the non-root cases run as, node included (it may live
  // under a directory only root can enter).
  await chmod(tmp, 0o755);
  if (isRoot) {
    node = path.join(tmp, "node");
    await link(process.execPath, node).catch(() => copyFile(process.execPath, node));
  }
  return { tmp, loader: await bundlePodVm(path.join(tmp, "podvm")) };
}

/** `node caa-podvm.cjs --help`, as `uid`. */
function runLoader(loader: string, env: Record<string, string>, uid?: number): void {
  const res = spawnSync(node, [loader, "--help"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  assert.equal(res.status, 0, `${res.error?.message ?? ""}${res.stderr}`);
}

const entries = (dir: string) => readdir(dir, { recursive: true }).catch(() => [] as string[]);

test(
  "as root, the compile cache is ROOT_COMPILE_CACHE, mode 0700",
  { skip: !isRoot && "needs root" },
  async (t) => {
    const { tmp, loader } = await setup(t);
    runLoader(loader, { TMPDIR: tmp });
    const st = await stat(ROOT_COMPILE_CACHE);
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(st.uid, 0);
    assert.ok((await entries(ROOT_COMPILE_CACHE)).length > 0, "the loader wrote no cache");
    assert.deepEqual(
      await entries(path.join(tmp, "node-compile-cache")),
      [],
      "node's default place was used",
    );
  },
);

test("another user's cache is <tmpdir>/caa-podvm-<uid>, made 0700", async (t) => {
  const { tmp, loader } = await setup(t);
  const uid = isRoot ? NOBODY : process.getuid!();
  const tmpDir = path.join(tmp, "t");
  await mkdir(tmpDir, { mode: 0o1777 });
  await chmod(tmpDir, 0o1777);
  runLoader(loader, { TMPDIR: tmpDir }, isRoot ? NOBODY : undefined);
  const dir = path.join(tmpDir, `caa-podvm-${uid}`);
  const st = await stat(dir);
  assert.equal(st.mode & 0o777, 0o700);
  assert.equal(st.uid, uid);
  assert.ok((await entries(dir)).length > 0, "the loader wrote no cache");
});

test(
  "a cache directory others can write, or of another owner, is not used",
  { skip: !isRoot && "needs root" },
  async (t) => {
    const { tmp, loader } = await setup(t);
    const tmpDir = path.join(tmp, "t");
    await mkdir(tmpDir, { mode: 0o1777 });
    await chmod(tmpDir, 0o1777);
    const dir = path.join(tmpDir, `caa-podvm-${NOBODY}`);
    await mkdir(dir);
    // Root's directory: the user would run what root put there.
    await chmod(dir, 0o777);
    runLoader(loader, { TMPDIR: tmpDir }, NOBODY);
    assert.deepEqual(await entries(dir), []);
    // The user's own, but world-writable: anyone could plant code in it.
    await chown(dir, NOBODY, NOBODY);
    runLoader(loader, { TMPDIR: tmpDir }, NOBODY);
    assert.deepEqual(await entries(dir), []);
    // Made private, it is used.
    await chmod(dir, 0o700);
    runLoader(loader, { TMPDIR: tmpDir }, NOBODY);
    assert.ok((await entries(dir)).length > 0);
  },
);

test("NODE_COMPILE_CACHE, when set, is where the cache goes", async (t) => {
  const { tmp, loader } = await setup(t);
  const dir = path.join(tmp, "mine");
  runLoader(loader, { TMPDIR: tmp, NODE_COMPILE_CACHE: dir });
  assert.ok((await entries(dir)).length > 0);
});
