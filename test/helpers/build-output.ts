// The production build (scripts/build.ts) in a temp dir laid out as the image (/app/dist,
// package.json, node_modules): what the image's `caa` runs and what a pod VM image takes.
import { spawnSync } from "node:child_process";
import { copyFile, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PODVM_LAUNCHER_NAME } from "../../src/podvm/bundle.ts";
import { imageShim } from "./image.ts";

const repo = path.resolve(import.meta.dirname, "../..");

export interface BuildOutput {
  /** What the image's `caa` shim runs (Dockerfile): dist/caa/main.js. */
  cli: string;
  /** dist/podvm/caa-podvm.cjs */
  bundle: string;
  /** dist/podvm/caa-podvm: the bundle with the pod VM's node flags, as a pod VM runs it. */
  launcher: string;
  cleanup(): Promise<void>;
}

export async function buildOutput(): Promise<BuildOutput> {
  const app = await mkdtemp(path.join(tmpdir(), "caa-build-app-"));
  const res = spawnSync(
    process.execPath,
    [path.join(repo, "scripts/build.ts"), "--out-dir", path.join(app, "dist")],
    {
      encoding: "utf8",
    },
  );
  if (res.status !== 0) throw new Error(`scripts/build.ts failed:\n${res.stdout}${res.stderr}`);
  await copyFile(path.join(repo, "package.json"), path.join(app, "package.json"));
  await symlink(path.join(repo, "node_modules"), path.join(app, "node_modules"));
  return {
    cli: path.join(app, path.relative("/app", imageShim().script)),
    bundle: path.join(app, "dist/podvm/caa-podvm.cjs"),
    launcher: path.join(app, "dist/podvm", PODVM_LAUNCHER_NAME),
    cleanup: () => rm(app, { recursive: true, force: true }),
  };
}
