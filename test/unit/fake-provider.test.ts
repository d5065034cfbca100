// The tests' one fake provider keeps the Provider contract: the conformance suite passes against it,
// so a test that uses it exercises the behaviour a real provider has (e.g. get of a missing
// instance is NotFound).
import assert from "node:assert/strict";
import { test } from "node:test";
import { PassThrough } from "node:stream";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isNotFound } from "../../providers/errors.ts";
import { runConformance } from "../../src/conformance/runner.ts";
import { FakeProvider } from "../helpers/fake-provider.ts";

test("the fake provider passes the conformance suite", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "caa-fake-conformance-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const provider = new FakeProvider();
  const report = await runConformance({
    provider,
    providerName: "memory",
    isRealCloud: false,
    yesIOwnThisAccount: false,
    junitPath: path.join(dir, "junit.xml"),
    out: new PassThrough().resume(),
    caseTimeoutMs: 5000,
    pollIntervalMs: 20,
  });
  assert.deepEqual(
    report.results.filter((r) => r.status !== "pass").map((r) => `${r.id}: ${r.summary}`),
    [],
  );
  assert.equal(report.ok, true);
  assert.deepEqual(provider.remaining(), []);
});

test("get of a missing instance is NotFound, delete of one is done", async () => {
  const provider = new FakeProvider();
  await assert.rejects(provider.get("mem-404"), (err: unknown) => isNotFound(err));
  await provider.delete("mem-404");
});
