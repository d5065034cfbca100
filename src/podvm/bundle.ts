// Builds the pod-VM side (src/podvm/entry.ts) with esbuild into two files in one directory: the
// forwarder, process-user-data and the local boot chain with only the dependency code they use, as
// one minified CommonJS file (caa-podvm.bundle.cjs), and the file a pod VM runs (caa-podvm.cjs),
// which turns on node's compile cache before it loads the bundle, so that a VM's forwarder neither
// parses nor compiles the bundle again after the first start (the cache cannot cover the file that
// turns it on, and a launcher may not set NODE_COMPILE_CACHE). CommonJS and minified because both
// start faster and take less memory than the same code as an ES module.
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Plugin } from "esbuild";
import { PODVM_NODE_FLAGS } from "./node-flags.ts";

const ENTRY = path.join(import.meta.dirname, "entry.ts");
const PINO_LITE = path.join(import.meta.dirname, "../log/pino-lite.ts");
/** The loader: `node caa-podvm.cjs forwarder …`. */
export const PODVM_BUNDLE_NAME = "caa-podvm.cjs";
/** What a pod VM runs: `caa-podvm forwarder …`, the loader with the pod VM's node flags. */
export const PODVM_LAUNCHER_NAME = "caa-podvm";
const BODY_NAME = "caa-podvm.bundle.cjs";

/** Where the loader keeps node's compile cache when NODE_COMPILE_CACHE is not set, for root. */
export const ROOT_COMPILE_CACHE = "/var/cache/caa-podvm";

// The forwarder runs as root and executes what it finds in the cache, so the cache is a directory
// only its owner can write: ROOT_COMPILE_CACHE for root, <tmpdir>/caa-podvm-<uid> for anyone else,
// made 0700 and used only if it is a directory of ours that no one else can write (never node's
// default, the world-writable <tmpdir>/node-compile-cache). Without it the bundle compiles as usual.
const LOADER = `"use strict";
// The pod-VM side of the peer-pod cloud-api-adaptor (src/podvm/bundle.ts builds it).
const m = require("node:module");
if (process.env.NODE_COMPILE_CACHE) m.enableCompileCache();
else {
  const fs = require("node:fs");
  const uid = process.getuid();
  const dir = uid === 0 ? ${JSON.stringify(ROOT_COMPILE_CACHE)} : require("node:path").join(require("node:os").tmpdir(), "caa-podvm-" + uid);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0) m.enableCompileCache(dir);
  } catch {
    // No cache where the directory cannot be made (read-only image): the bundle compiles as usual.
  }
}
require("./${BODY_NAME}");
`;

/**
 * Launchers with upstream's names, so that a pod-VM image built for upstream runs ours with its own
 * systemd units unchanged (docs/pod-vm-image.md): upstream's forwarder never provisions, its
 * process-user-data unit has done that before.
 */
export const UPSTREAM_LAUNCHERS: Readonly<Record<string, readonly string[]>> = {
  "agent-protocol-forwarder": ["forwarder", "-skip-provision"],
  "process-user-data": ["process-user-data"],
};

// readlink -f: the launchers may be symlinked into /usr/local/bin, the loader stays beside them.
function launcher(args: readonly string[]): string {
  return `#!/bin/sh
# The pod-VM side of the peer-pod cloud-api-adaptor with the node flags a pod VM runs it with
# (src/podvm/node-flags.ts says why).
exec node ${PODVM_NODE_FLAGS.join(" ")} "$(dirname "$(readlink -f "$0")")/${PODVM_BUNDLE_NAME}" ${args.map((a) => `${a} `).join("")}"$@"
`;
}

/** pino's API on a small footprint (src/log/pino-lite.ts): pino's tree is most of the bundle's start-up. */
const pinoLite: Plugin = {
  name: "pino-lite",
  setup(build) {
    build.onResolve({ filter: /^pino$/ }, () => ({ path: PINO_LITE }));
  },
};

/**
 * Writes `dir`/caa-podvm.cjs, the bundle and the launchers beside it; returns the loader. esbuild
 * is a build-time dependency: the import fails where it is not installed (production).
 */
export async function bundlePodVm(dir: string): Promise<string> {
  const esbuild = await import("esbuild");
  await mkdir(dir, { recursive: true });
  await esbuild.build({
    entryPoints: [ENTRY],
    outfile: path.join(dir, BODY_NAME),
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node24",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
    // Modules that also run as scripts (src/forwarder/main.ts) must not start when bundled.
    define: { "import.meta.main": "false" },
    plugins: [pinoLite],
  });
  const entry = path.join(dir, PODVM_BUNDLE_NAME);
  await writeFile(entry, LOADER);
  const launchers = { [PODVM_LAUNCHER_NAME]: [], ...UPSTREAM_LAUNCHERS };
  for (const [name, args] of Object.entries(launchers)) {
    const file = path.join(dir, name);
    await writeFile(file, launcher(args));
    await chmod(file, 0o755);
  }
  return entry;
}
