// The conformance harness itself, against an in-memory provider: a correct one passes, each
// deliberate flaw fails the suite with a reason a provider author can act on, a real account is
// refused without confirmation, and cleanup always runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runConformance } from "../../src/conformance/runner.ts";
import { conformanceCommand } from "../../src/conformance/command.ts";
import { escapeXml } from "../../src/conformance/junit.ts";
import { ConformanceRefusedError, isRealCloud } from "../../src/conformance/real-account.ts";
import type { ConformanceOptions, ConformanceReport } from "../../src/conformance/types.ts";
import { FakeProvider, type Flaws } from "../helpers/fake-provider.ts";
import { capture } from "./fixtures/run-suite.ts";

async function run(
  flaws: Flaws,
  extra: Partial<ConformanceOptions> = {},
): Promise<{ report: ConformanceReport; out: string; junit: string; provider: FakeProvider }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "caa-conformance-test-"));
  try {
    const provider = new FakeProvider({ flaws });
    const out = capture();
    const junitPath = path.join(dir, "junit.xml");
    const report = await runConformance({
      provider,
      providerName: "memory",
      isRealCloud: false,
      yesIOwnThisAccount: false,
      junitPath,
      out: out.stream,
      caseTimeoutMs: 1000,
      pollIntervalMs: 20,
      ...extra,
    });
    return { report, out: out.text(), junit: await readFile(junitPath, "utf8"), provider };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function result(report: ConformanceReport, id: string) {
  const r = report.results.find((x) => x.id === id);
  assert.ok(r, `no result for case ${id}`);
  return r;
}

test("a provider that keeps the contract passes every case and leaves nothing behind", async () => {
  const { report, out, junit, provider } = await run({});
  assert.deepEqual(
    report.results.map((r) => `${r.id}:${r.status}`),
    [
      "start:pass",
      "instance-types:pass",
      "create:pass",
      "get:pass",
      "list:pass",
      "delete:pass",
      "concurrent-create:pass",
      "leak-collection:pass",
      "pool:pass",
      "cleanup:pass",
    ],
  );
  assert.equal(report.ok, true);
  assert.deepEqual(provider.remaining(), []);
  assert.match(result(report, "create").summary, /user-data read back intact/);
  assert.match(
    result(report, "pool").summary,
    /created with the pool bootstrap and peerpod-role=pool; kept while recorded/,
  );
  // Progress: a line as each case starts and one with its result, then the table.
  assert.match(out, /^\[1\/10\] start: starts, verifies its configuration/m);
  assert.match(out, /^\[7\/10\] concurrent-create: PASS \(\d+(\.\d)?m?s\) 5 instances/m);
  assert.match(out, /^CASE\s+RESULT\s+TIME\s+DETAIL$/m);
  assert.match(out, /^memory: 10 passed, 0 failed, 0 skipped in .* — CONFORMANT$/m);
  assert.match(
    junit,
    /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="caa conformance" tests="10" failures="0"/,
  );
  assert.equal(junit.match(/<testcase /g)?.length, 10);
  assert.doesNotMatch(junit, /<failure/);
});

test("a provider whose list ignores tags fails the list case and says why", async () => {
  const { report, out, junit } = await run({ listIgnoresTags: true });
  assert.equal(report.ok, false);
  const list = result(report, "list");
  assert.equal(list.status, "fail");
  assert.match(
    list.summary,
    /^list\(\{peerpod-cluster=conformance-[0-9a-f]{8}-other\}\) returned 1 instance\(s\) without those tags: mem-1; list must return only instances carrying every given owner tag$/,
  );
  assert.match(out, /\[5\/10\] list: FAIL/);
  assert.match(out, /NOT CONFORMANT$/m);
  assert.match(
    junit,
    /<testcase classname="conformance.memory" name="list: list filters by cluster, node and sandbox tags" time="[\d.]+">\n\s+<failure message="list\(\{peerpod-cluster=/,
  );
  assert.equal(result(report, "cleanup").status, "pass");
});

test("a provider whose delete leaks fails delete and cleanup, naming what to delete by hand", async () => {
  const { report, provider } = await run({ deleteLeaks: true }, { concurrency: 2 });
  const del = result(report, "delete");
  assert.equal(del.status, "fail");
  assert.match(
    del.summary,
    /^instance mem-1 still exists \d+ s after delete\(\) resolved \(get\(\) never threw NotFoundError\)/,
  );
  assert.match(del.summary, /gave up when the case timed out/);
  assert.equal(result(report, "concurrent-create").status, "fail");
  const cleanup = result(report, "cleanup");
  assert.equal(cleanup.status, "fail");
  assert.match(cleanup.detail!, /delete by hand what carries peerpod-cluster=conformance-[0-9a-f]{8}/);
  assert.match(cleanup.detail!, /still listed: mem-1, mem-2, mem-3, mem-4, mem-5, mem-6/);
  assert.deepEqual(provider.remaining(), ["mem-1", "mem-2", "mem-3", "mem-4", "mem-5", "mem-6"]);
});

test("a provider that re-encodes user-data fails create, and the dependent cases are skipped", async () => {
  const { report } = await run({ mangleUserData: true });
  const create = result(report, "create");
  assert.equal(create.status, "fail");
  assert.match(
    create.summary,
    /^user-data of mem-1 differs from what create\(\) was given: sent "#cloud-config\\n/,
  );
  for (const id of ["get", "list", "delete"]) {
    assert.equal(result(report, id).status, "skip");
    assert.equal(result(report, id).summary, "needs create to pass");
  }
  assert.equal(result(report, "cleanup").status, "pass");
});

test("a provider that drops the pool role tag fails the pool case, saying what the tag is for", async () => {
  const { report, provider } = await run({ dropsRoleTag: true });
  const pool = result(report, "pool");
  assert.equal(pool.status, "fail");
  assert.match(
    pool.summary,
    /^pooled instance mem-\d+ has peerpod-role=\(absent\); expected peerpod-role=pool \(the leak collector and restarts find pooled VMs by them\)$/,
  );
  assert.equal(result(report, "cleanup").status, "pass");
  assert.deepEqual(provider.remaining(), []);
});

test("an interrupted run skips the remaining cases but still cleans up", async () => {
  const interrupt = new AbortController();
  const provider = new FakeProvider();
  const origCreate = provider.create.bind(provider);
  provider.create = async (req) => {
    const inst = await origCreate(req);
    interrupt.abort(new Error("interrupted by SIGINT"));
    return inst;
  };
  const out = capture();
  const report = await runConformance({
    provider,
    providerName: "memory",
    isRealCloud: false,
    yesIOwnThisAccount: false,
    out: out.stream,
    signal: interrupt.signal,
    caseTimeoutMs: 1500,
    pollIntervalMs: 20,
  });
  assert.equal(report.ok, false);
  assert.equal(result(report, "get").summary, "interrupted");
  assert.equal(result(report, "cleanup").status, "pass");
  assert.deepEqual(provider.remaining(), []);
});

test("a real account is refused without --yes-i-own-this-account, before the provider is touched", async () => {
  const provider = new FakeProvider();
  await assert.rejects(
    runConformance({
      provider,
      providerName: "aws",
      isRealCloud: true,
      yesIOwnThisAccount: false,
      out: capture().stream,
    }),
    (err: Error) =>
      err instanceof ConformanceRefusedError &&
      /^refusing to run the conformance suite against a real aws account .*--yes-i-own-this-account/.test(
        err.message,
      ),
  );
  assert.deepEqual(provider.calls, []);
});

test("a real account is one without an emulator endpoint; local never is", () => {
  assert.equal(isRealCloud("local", {}), false);
  assert.equal(isRealCloud("aws", {}), true);
  assert.equal(isRealCloud("aws", { AWS_ENDPOINT: "" }), true);
  assert.equal(isRealCloud("aws", { AWS_ENDPOINT: "http://127.0.0.1:5000" }), false);
  assert.equal(isRealCloud("aws", { AWS_ENDPOINT_URL_EC2: "http://127.0.0.1:5000" }), false);
  assert.equal(isRealCloud("aws", { AWS_ENDPOINT_URL_EC2: "https://ec2.us-east-1.amazonaws.com" }), true);
  assert.equal(isRealCloud("azure", {}), true);
  assert.equal(isRealCloud("azure", { AZURE_ARM_ENDPOINT: "https://127.0.0.1:8443" }), false);
  assert.equal(isRealCloud("azure", { AZURE_ARM_ENDPOINT: "https://management.azure.com" }), true);
  assert.equal(isRealCloud("someplugin", { AWS_ENDPOINT: "http://127.0.0.1:5000" }), true);
});

test("caa conformance refuses a real account with exit code 2 and never builds the provider", async () => {
  const stderr = capture();
  let loaded = false;
  const code = await conformanceCommand(["--provider", "aws"], {
    env: { AWS_REGION: "us-east-1" },
    stdout: capture().stream,
    stderr: stderr.stream,
    load: async () => {
      loaded = true;
      return new FakeProvider();
    },
  });
  assert.equal(code, 2);
  assert.equal(loaded, false);
  assert.match(
    stderr.text(),
    /refusing to run the conformance suite against a real aws account \(none of AWS_ENDPOINT, AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL points at an emulator\)/,
  );
});

test("caa conformance runs the named provider, writes JUnit and exits 0 or 1 by the result", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "caa-conformance-cmd-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [flaws, expected] of [
    [{}, 0],
    [{ listIgnoresTags: true }, 1],
  ] as const) {
    const junit = path.join(dir, `junit-${expected}.xml`);
    const stdout = capture();
    const code = await conformanceCommand(["local", "--junit", junit, "--concurrency", "3"], {
      env: {},
      stdout: stdout.stream,
      stderr: capture().stream,
      load: async (name) => {
        assert.equal(name, "local");
        return new FakeProvider({ flaws });
      },
    });
    assert.equal(code, expected, stdout.text());
    assert.match(await readFile(junit, "utf8"), /<testsuite name="conformance.local"/);
    assert.match(stdout.text(), /3 instances with distinct ids and addresses/);
  }
});

test("caa conformance reports a usage error with exit code 2", async () => {
  const stderr = capture();
  assert.equal(await conformanceCommand([], { env: {}, stdout: capture().stream, stderr: stderr.stream }), 2);
  assert.match(stderr.text(), /no provider: pass --provider <name>/);
  const stderr2 = capture();
  assert.equal(
    await conformanceCommand(["--bogus"], { env: {}, stdout: capture().stream, stderr: stderr2.stream }),
    2,
  );
  assert.match(stderr2.text(), /unknown flag -bogus/);
});

test("JUnit text is escaped, and characters XML cannot carry are replaced", () => {
  assert.equal(escapeXml(`a & b < c > d "e" 'f'`), "a &amp; b &lt; c &gt; d &quot;e&quot; &apos;f&apos;");
  assert.equal(escapeXml("bell\x07 nul\x00 ok\ttab\nline"), "bell\uFFFD nul\uFFFD ok\ttab\nline");
  assert.equal(escapeXml("emoji \u{1F600} lone \uD800"), "emoji \u{1F600} lone \uFFFD");
});
