// No import cycles in src/ and providers/: a small walker over the relative imports (type imports
// included), so that data keeps flowing one way (RPC edge → lifecycle → provider/network/proxy).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(IMPORT)].map((m) => resolve(dirname(file), m[1] ?? m[2]));
}

/** One cycle (as a path list) if the graph has any. */
export function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === "done") return undefined;
    if (state.get(n) === "open") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "open");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = graph.has(m) ? visit(m) : undefined;
      if (c) return c;
    }
    stack.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

test("the walker finds a cycle when there is one", () => {
  const g = new Map([
    ["a", ["b"]],
    ["b", ["c"]],
    ["c", ["a"]],
  ]);
  assert.deepEqual(findCycle(g), ["a", "b", "c", "a"]);
  assert.equal(
    findCycle(
      new Map([
        ["a", ["b"]],
        ["b", []],
      ]),
    ),
    undefined,
  );
});

test("src/ and providers/ have no import cycle", () => {
  const files = [...tsFiles(join(ROOT, "src")), ...tsFiles(join(ROOT, "providers"))];
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const edges = [...graph.values()].reduce((n, v) => n + v.length, 0);
  assert.ok(edges > files.length, `${edges} imports read from ${files.length} files`);
  const cycle = findCycle(graph);
  assert.equal(cycle?.map((f) => relative(ROOT, f)).join(" → "), undefined);
});
