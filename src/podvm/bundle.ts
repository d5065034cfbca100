// Builds the pod-VM side (src/podvm/entry.ts) into one self-contained ES module with esbuild: the
// forwarder, process-user-data and the local boot chain with only the dependency code they use,
// so a pod VM starts one file instead of resolving and type-stripping a few hundred.
import { mkdir } from "node:fs/promises";
import path from "node:path";

const ENTRY = path.join(import.meta.dirname, "entry.ts");
export const PODVM_BUNDLE_NAME = "caa-podvm.mjs";

/** esbuild is a build-time dependency: the import fails where it is not installed (production). */
export async function bundlePodVm(outFile: string): Promise<void> {
  const esbuild = await import("esbuild");
  await mkdir(path.dirname(outFile), { recursive: true });
  await esbuild.build({
    entryPoints: [ENTRY],
    outfile: outFile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minifySyntax: true,
    legalComments: "none",
    logLevel: "warning",
    // Modules that also run as scripts (src/forwarder/main.ts) must not start when bundled.
    define: { "import.meta.main": "false" },
    // Bundled CommonJS dependencies (pino, yaml) call require() for Node built-ins.
    banner: {
      js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);',
    },
  });
}
