// What each entry loads at start: the static imports reachable from it (esbuild's metafile; dynamic
// imports are what loads on demand). The Kubernetes client alone holds ~80 MB once loaded, the cloud
// SDKs and the certificate code (@peculiar/x509) tens of MB each: `caa serve` on the local provider
// without NODE_NAME loads none of them at start, and `caa version` none of the daemon's packages.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import * as esbuild from "esbuild";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Packages reached by static imports from `entries`, each with one import chain that reaches it. */
async function staticPackages(entries: string[]): Promise<Map<string, string[]>> {
  return (await staticImports(entries)).packages;
}

/** The packages and the repository's files that static imports from `entries` reach. */
async function staticImports(
  entries: string[],
): Promise<{ packages: Map<string, string[]>; files: string[] }> {
  const r = await esbuild.build({
    entryPoints: entries.map((e) => path.join(ROOT, e)),
    outdir: path.join(ROOT, "dist/lazy-imports-test"),
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    packages: "external",
    metafile: true,
    write: false,
    logLevel: "silent",
  });
  const inputs = r.metafile.inputs;
  const rel = (f: string) => path.relative(ROOT, path.resolve(process.cwd(), f));
  const from = new Map<string, string | undefined>();
  const queue = Object.keys(inputs).filter((f) => entries.includes(rel(f)));
  for (const f of queue) from.set(f, undefined);
  const found = new Map<string, string[]>();
  const chain = (f: string | undefined): string[] => (f === undefined ? [] : [...chain(from.get(f)), rel(f)]);
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    for (const im of inputs[f].imports) {
      if (im.kind !== "import-statement") continue;
      if (im.external) {
        if (!im.path.startsWith("node:") && !found.has(im.path)) found.set(im.path, chain(f));
      } else if (!from.has(im.path)) {
        from.set(im.path, f);
        queue.push(im.path);
      }
    }
  }
  return { packages: found, files: [...from.keys()].map(rel) };
}

const HEAVY = /^(@kubernetes\/client-node|@aws-sdk\/|@azure\/|@smithy\/|@peculiar\/|reflect-metadata)/;

test("the walker sees a package a file imports statically", async () => {
  const found = await staticPackages(["src/k8s/client.ts"]);
  assert.deepEqual(found.get("@kubernetes/client-node"), ["src/k8s/client.ts"]);
});

test("caa serve on the local provider loads no Kubernetes client, cloud SDK or certificate code at start", async () => {
  const found = await staticPackages(["src/cli/main.ts", "src/cli/serve.ts", "providers/local/index.ts"]);
  assert.ok(
    found.has("pino-std-serializers"),
    `the walker found the daemon's packages: ${[...found.keys()].join(", ")}`,
  );
  const heavy = [...found].filter(([p]) => HEAVY.test(p)).map(([p, c]) => `${p} via ${c.join(" → ")}`);
  assert.deepEqual(heavy, []);
});

test("caa serve loads grpc-js only when a gRPC client connects (src/hypervisor/grpc.ts)", async () => {
  const found = await staticPackages(["src/cli/main.ts", "src/cli/serve.ts", "providers/local/index.ts"]);
  assert.ok(
    found.has("pino-std-serializers"),
    `the walker found the daemon's packages: ${[...found.keys()].join(", ")}`,
  );
  assert.equal(found.get("@grpc/grpc-js")?.join(" → "), undefined);
});

test("caa version loads none of the daemon's packages", async () => {
  const found = await staticPackages(["src/cli/main.ts"]);
  assert.deepEqual(
    [...found.keys()].filter((p) => p !== "@commander-js/extra-typings"),
    [],
    [...found].map(([p, c]) => `${p} via ${c.join(" → ")}`).join("\n"),
  );
});

test("caa version and caa sandbox take the default socket's directory without the daemon's option tables", async () => {
  const { files } = await staticImports(["src/cli/main.ts"]);
  assert.ok(files.includes("src/config/runtime-root.ts"), files.join(", "));
  assert.ok(!files.includes("src/config/daemon.ts"), files.join(", "));
});
