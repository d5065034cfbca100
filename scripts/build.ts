// Builds the production output the container image runs (Dockerfile): TypeScript compiled to
// JavaScript under <out>/src and <out>/providers (relative `.ts` imports rewritten to `.js`), plus
// every non-TypeScript file beside the sources (e.g. JSON read at run time), at the same paths;
// the pod-VM side as one bundle, <out>/podvm/caa-podvm.cjs and the code it loads (src/podvm/bundle.ts);
// and `caa` as one bundle, <out>/caa/main.js, which the image runs (scripts/bundle-daemon.ts).
// Usage: node scripts/build.ts [--out-dir DIR]   (default: dist)
import { spawnSync } from "node:child_process";
import { cp, readdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { bundlePodVm } from "../src/podvm/bundle.ts";
import { bundleDaemon } from "./bundle-daemon.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const SOURCE_DIRS = ["src", "providers"];

export async function build(outDir: string): Promise<void> {
  const out = path.resolve(ROOT, outDir);
  await rm(out, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const res = spawnSync(
    process.execPath,
    [tsc, "-p", path.join(ROOT, "tsconfig.build.json"), "--outDir", out],
    {
      stdio: "inherit",
    },
  );
  if (res.status !== 0)
    throw new Error(`tsc -p tsconfig.build.json failed (exit ${res.status ?? res.signal})`);
  for (const dir of SOURCE_DIRS) await copyAssets(path.join(ROOT, dir), path.join(out, dir));
  await bundlePodVm(path.join(out, "podvm"));
  await bundleDaemon(out);
}

async function copyAssets(from: string, to: string): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || entry.name.endsWith(".ts")) continue;
    const src = path.join(entry.parentPath, entry.name);
    await cp(src, path.join(to, path.relative(from, src)));
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { "out-dir": { type: "string", default: "dist" } } });
  await build(values["out-dir"]);
}
