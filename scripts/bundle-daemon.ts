// `caa` as one esbuild bundle (<out>/caa/main.js and the chunks its dynamic imports load), which
// the image's `caa` shim runs (Dockerfile). An idle `caa serve` from the per-file build loaded ~500
// modules (ours and ~40 packages'), each with its own file, wrapper and loader records; bundled it
// holds ~9 MB less (footprint bench). Dynamic imports stay chunks, so a provider's SDK and the
// Kubernetes client still load only when used. The per-file build (<out>/src, <out>/providers)
// stays beside it: the files our code finds next to itself (the local VMs' kata-agent stand-in, the
// pod-VM bundle) are found there, because each bundled `import.meta.url` is rewritten to the URL
// its file has in that build.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Plugin } from "esbuild";

const ROOT = path.resolve(import.meta.dirname, "..");
/** Where the bundle goes inside the build output. */
export const DAEMON_BUNDLE_DIR = "caa";

/** `import.meta.url` of each of our files → its URL in the per-file build, from the bundle's chunk. */
function perFileUrls(bundleDir: string, outDir: string): Plugin {
  return {
    name: "per-file-import-meta",
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        const rel = path.relative(ROOT, args.path);
        if (rel.startsWith("..") || rel.includes("node_modules")) return undefined;
        const text = await readFile(args.path, "utf8");
        if (!text.includes("import.meta.url")) return { contents: text, loader: "ts" };
        const built = path.relative(bundleDir, path.join(outDir, rel.replace(/\.ts$/, ".js")));
        const url = `new URL(${JSON.stringify(built.split(path.sep).join("/"))}, import.meta.url).href`;
        return { contents: text.replaceAll("import.meta.url", `(${url})`), loader: "ts" };
      });
    },
  };
}

/** Writes `outDir`/caa/main.js (and its chunks); `outDir` also holds the per-file build. */
export async function bundleDaemon(outDir: string): Promise<string> {
  const esbuild = await import("esbuild");
  const dir = path.join(outDir, DAEMON_BUNDLE_DIR);
  await esbuild.build({
    entryPoints: { main: path.join(ROOT, "src/cli/main.ts") },
    outdir: dir,
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
    // Modules that also run as scripts (src/forwarder/main.ts) must not start when bundled.
    define: { "import.meta.main": "false" },
    // CommonJS packages call require(); an ES module has none of its own.
    banner: {
      js: 'import{createRequire as __caaRequire}from"node:module";const require=__caaRequire(import.meta.url);',
    },
    // A build-time tool: only the local provider's bundle-from-source fallback imports it, never the
    // image (which has no devDependencies and ships the pod-VM bundle built).
    external: ["esbuild"],
    plugins: [perFileUrls(dir, outDir)],
  });
  return path.join(dir, "main.js");
}
