// Builds the pod-VM side (src/podvm/entry.ts) into one self-contained CommonJS file with esbuild:
// the forwarder, process-user-data and the local boot chain with only the dependency code they
// use, minified, inside a small loader (src/podvm/loader.ts) that keeps V8's compiled code between
// starts. A pod VM starts one file instead of resolving and type-stripping a few hundred. CommonJS
// and minified because both start faster and take less memory than the same code as an ES module.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Plugin } from "esbuild";

const ENTRY = path.join(import.meta.dirname, "entry.ts");
const LOADER = path.join(import.meta.dirname, "loader.ts");
export const PODVM_BUNDLE_NAME = "caa-podvm.cjs";

const PINO_LITE = path.join(import.meta.dirname, "../log/pino-lite.ts");

/** pino's API on a small footprint (src/log/pino-lite.ts): pino's tree is most of the bundle's start-up. */
const pinoLite: Plugin = {
  name: "pino-lite",
  setup(build) {
    build.onResolve({ filter: /^pino$/ }, () => ({ path: PINO_LITE }));
  },
};

/** esbuild is a build-time dependency: the import fails where it is not installed (production). */
export async function bundlePodVm(outFile: string): Promise<void> {
  const esbuild = await import("esbuild");
  await mkdir(path.dirname(outFile), { recursive: true });
  const common = {
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node24",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
  } as const;
  const inner = await esbuild.build({
    ...common,
    entryPoints: [ENTRY],
    write: false,
    // Modules that also run as scripts (src/forwarder/main.ts) must not start when bundled.
    define: { "import.meta.main": "false" },
    plugins: [pinoLite],
  });
  // The loader runs the code as a CommonJS module body.
  const body = `(function (exports, require, module, __filename, __dirname) {${inner.outputFiles[0].text}\n})`;
  await esbuild.build({
    ...common,
    entryPoints: [LOADER],
    outfile: outFile,
    define: { CAA_PODVM_CODE: JSON.stringify(body) },
  });
}
