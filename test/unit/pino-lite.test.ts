// The pod-VM bundle's pino (src/log/pino-lite.ts) writes what pino writes: the same calls through
// both, with the daemon's options (src/log/logger.ts), give the same lines but for the time.
import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { pino as lite } from "../../src/log/pino-lite.ts";
import { REDACT_PATHS } from "../../src/log/logger.ts";
import { formatLine } from "../../src/log/text-format.ts";

type Calls = (log: ReturnType<typeof pino>) => void;

function linesOf(make: typeof pino | typeof lite, calls: Calls, level = "debug"): string[] {
  const lines: string[] = [];
  const out = { write: (s: string) => lines.push(s) };
  const opts = { level, redact: { paths: REDACT_PATHS, censor: "[redacted]" }, base: undefined };
  // The stand-in takes pino's options and destination; its logger has pino's methods.
  calls((make as typeof pino)(opts, out as unknown as NodeJS.WritableStream));
  return lines.map((l) => l.replace(/"time":\d+/, '"time":0'));
}

function same(calls: Calls, level?: string): string[] {
  const want = linesOf(pino, calls, level);
  assert.deepEqual(linesOf(lite, calls, level), want);
  return want;
}

test("messages, objects and levels are written as pino writes them", () => {
  const lines = same((log) => {
    log.info("plain");
    log.trace("below the level");
    log.debug({ a: 1, gone: undefined, f: () => 1, n: null, nan: NaN }, "fields");
    log.warn({ x: 1 });
    log.error({ msg: "from the object" });
    log.info(42);
    log.info(null, "null object");
    log.info({ nested: { b: 1, a: [1, "two", { c: true }] }, s: 'q"\\\n\u2028' }, "nested");
    log.fatal({ level: 7, time: 5 }, "reserved names");
  });
  assert.equal(lines.length, 8);
});

test("child bindings come first, a field of the call overrides them, a child of a child adds to them", () => {
  same((log) => {
    const c = log.child({ component: "forwarder", gone: undefined });
    c.info("one");
    c.child({ container: "c1" }).warn({ component: "other", a: 1 }, "two");
    log.info("parent unchanged");
  });
});

test("secrets are redacted at the top, one level down, in bindings and under headers", () => {
  const lines = same((log) => {
    log.info({ key: "k", tlsKey: { key: "nested" }, password: { deep: 1 }, other: 2 }, "top");
    log.info({ headers: { authorization: "Bearer x", accept: "*/*" } }, "headers");
    log.child({ secret: "s", cfg: { sessionToken: "t", region: "r" } }).info("bindings");
    log.info({ list: [{ key: "in an array" }] }, "arrays are not walked");
    log.info({ "tls-server-key": "pem", userData: "ud" }, "names with dashes");
  });
  for (const secret of ['"k"', "nested", "Bearer x", '"s"', '"t"', "pem", '"ud"'])
    assert.ok(!lines.some((l) => l.includes(secret)), `${secret} leaked`);
});

test("Errors are serialised by pino's serializer, with their causes", () => {
  // Made once, so that both see the same stacks.
  const e = Object.assign(new Error("boom"), { code: "E1" });
  const caused = new Error("outer", { cause: new Error("inner") });
  const bound = new TypeError("bound");
  same((log) => {
    log.error(e);
    log.error(e, "with a message");
    log.error({ err: e }, "under err");
    log.error({ err: caused });
    log.warn({ err: "a string" }, "not an error");
    log.child({ err: bound }).info("error in bindings");
  });
});

test("%-interpolation as pino's", () => {
  same((typed) => {
    // pino's types check the arguments against the placeholders; these calls test the odd cases.
    const log = typed as unknown as { info(...args: unknown[]): void };
    log.info("s=%s d=%d i=%i f=%f j=%j o=%o O=%O pct=%% end", "x", "3.5", 7.9, "1.5", { a: 1 }, "str", [1]);
    log.info({ a: 1 }, "after an object %s", "arg");
    log.info("missing %s %d");
    log.info("extra args", "are", "dropped");
    log.info("null %d and %s", null, null);
  });
});

test("silent, level changes and the text format", () => {
  assert.deepEqual(
    linesOf(lite, (log) => log.error("never"), "silent"),
    [],
  );
  const lines: string[] = [];
  const log = lite({ level: "info" }, { write: (s: string) => lines.push(s) });
  log.debug("hidden");
  log.level = "debug";
  log.debug("shown");
  assert.equal(log.level, "debug");
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.match(formatLine(entry), /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[adaptor\] shown\n$/);
  assert.throws(() => lite({ level: "loud" }), /unknown level loud/);
});

test("a destination taking entries gets what JSON.parse makes of each line", () => {
  // Made once, so that both see the same stacks.
  const e = Object.assign(new Error("boom"), { code: "E1" });
  const bound = new TypeError("bound");
  const calls = (log: ReturnType<typeof lite>) => {
    log.info("plain");
    log.debug({ a: 1, gone: undefined, f: () => 1, n: null, nan: NaN, inf: -Infinity }, "fields %s", "x");
    log.info({ nested: { b: 1, a: [1, "two", { c: true, d: undefined }] }, s: 'q"\\\n\u2028' }, "nested");
    log.info({ when: new Date(0), big: { n: 10n }, sym: Symbol("s"), neg: -0 }, "odd values");
    log.fatal({ level: 7, time: 5 }, "reserved names");
    log.error(e, "with a message");
    log.error({ err: e });
    log.info(
      { key: "k", tlsKey: { key: "nested" }, headers: { authorization: "x", accept: "*/*" } },
      "redacted",
    );
    const c = log.child({
      component: "adaptor/cloud",
      sandbox: "s1",
      secret: "s",
      cfg: { sessionToken: "t" },
    });
    c.info({ sandbox: "s2", stage: "created" }, "child %d", 3);
    c.child({ err: bound }).warn({ component: "other" }, "grandchild");
    log.info({ "1": "integer key", b: 2 }, "key order");
    log.info({ msg: "from the object" });
  };
  const opts = { level: "debug", redact: { paths: REDACT_PATHS, censor: "[redacted]" }, base: undefined };
  const lines: string[] = [];
  calls(lite(opts, { write: (s: string) => lines.push(s) }));
  const entries: Record<string, unknown>[] = [];
  calls(lite(opts, { write: () => assert.fail("a line"), writeEntry: (e) => entries.push(e) }));
  const untimed = (e: Record<string, unknown>) => ({ ...e, time: typeof e.time === "number" ? 0 : e.time });
  assert.equal(entries.length, lines.length);
  assert.deepEqual(
    entries.map((e) => JSON.stringify(untimed(e))),
    lines.map((l) => JSON.stringify(untimed(JSON.parse(l) as Record<string, unknown>))),
  );
  assert.deepEqual(
    entries.map((e) => formatLine(untimed(e)).slice(20)),
    lines.map((l) => formatLine(untimed(JSON.parse(l) as Record<string, unknown>)).slice(20)),
  );
});
