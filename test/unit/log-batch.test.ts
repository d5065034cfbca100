// Log lines to stderr are written once per turn of the event loop (src/log/line-batch.ts), and
// none is lost when the process exits or dies of an uncaught exception right after logging.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { batchLines } from "../../src/log/line-batch.ts";

const logger = path.resolve(import.meta.dirname, "../../src/log/logger.ts");

test("lines of one turn reach the destination in one write, in order", async () => {
  const writes: string[] = [];
  const out = batchLines({ write: (chunk: string) => writes.push(chunk) });
  out.write("a\n");
  out.write("b\n");
  out.write("c\n");
  assert.equal(writes.length, 0);
  await nextTurn();
  assert.deepEqual(writes, ["a\nb\nc\n"]);
  out.write("d\n");
  await nextTurn();
  assert.deepEqual(writes, ["a\nb\nc\n", "d\n"]);
});

test("a turn that logs more than 64 KiB writes as it goes", () => {
  const writes: string[] = [];
  const out = batchLines({ write: (chunk: string) => writes.push(chunk) });
  const line = "x".repeat(1023) + "\n";
  for (let i = 0; i < 100; i++) out.write(line);
  assert.equal(writes.length, 1);
  assert.equal(writes[0], line.repeat(64));
  out.flush();
  assert.equal(writes.join(""), line.repeat(100));
});

function run(code: string): { status: number | null; stderr: string } {
  const script = `import { createLogger } from ${JSON.stringify(logger)}; const log = createLogger(); ${code}`;
  const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  return { status: res.status, stderr: res.stderr };
}

test("lines logged right before process.exit are written", () => {
  const { status, stderr } = run(
    `log.info("first line"); log.error({ sandbox: "s1" }, "fatal line"); process.exit(3);`,
  );
  assert.equal(status, 3);
  assert.match(stderr, /\[adaptor\] first line\n.*\[adaptor\] error: fatal line sandbox=s1\n/);
});

test("lines logged right before an uncaught exception are written", () => {
  const { status, stderr } = run(`log.warn("before the crash"); throw new Error("boom");`);
  assert.equal(status, 1);
  assert.match(stderr, /\[adaptor\] warn: before the crash\n/);
  assert.match(stderr, /Error: boom/);
});

test("loggers of one process share stderr's buffer: lines keep their order, one exit handler", () => {
  const { status, stderr } = run(
    `const other = createLogger({ format: "json" });
     for (let i = 0; i < 20; i++) (i % 2 ? other : createLogger()).info("line " + i);`,
  );
  assert.equal(status, 0);
  const order = [...stderr.matchAll(/line (\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(
    order,
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.doesNotMatch(stderr, /MaxListenersExceeded/);
});
