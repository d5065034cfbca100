// docs/upstream-config.md against the code: every env name the daemon and the built-in providers read
// is in the document, and every upstream flag or env name it says we honour is one the code reads.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { awsOptions } from "../../providers/aws/options.ts";
import { azureOptions } from "../../providers/azure/options.ts";
import { LOCAL_OPTIONS } from "../../providers/local/config.ts";
import { serveOptionSpecs } from "../../src/config/daemon.ts";
import type { OptionSpec } from "../../src/config/options.ts";

const doc = readFileSync(new URL("../../docs/upstream-config.md", import.meta.url), "utf8");
const specs: OptionSpec[] = [...serveOptionSpecs(), awsOptions, azureOptions, LOCAL_OPTIONS];
const envs = new Set(specs.flatMap((s) => Object.values(s).flatMap((o) => (o.env ? [o.env] : []))));
const flags = new Set(specs.flatMap((s) => Object.values(s).map((o) => `-${o.flag}`)));

const rows = doc
  .split("\n")
  .filter((l) => l.startsWith("| `") || l.startsWith("| –") || l.startsWith("| ("))
  .map((l) => l.split("|").map((c) => c.trim()))
  .filter((cells) => cells.length >= 5)
  .map(([, flag, env, status]) => ({ flag, env, status }));
const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

test("every env name the code reads is in docs/upstream-config.md", () => {
  const missing = [...envs].filter((e) => !doc.includes(`\`${e}\``));
  assert.deepEqual(missing, []);
});

test("every upstream name the table says we read is read by the code", () => {
  const statuses = new Set(["same", "extended", "accepted and ignored", "not supported"]);
  assert.ok(rows.length > 40, `${rows.length} table rows`);
  // The other providers' row names providers, not flags.
  for (const row of rows.filter((r) => !r.flag.startsWith("`alibabacloud`"))) {
    assert.ok(statuses.has(row.status), `status of ${row.flag} ${row.env}: ${row.status}`);
    if (row.status === "not supported") {
      for (const f of ticked(row.flag)) assert.ok(!flags.has(f), `${f} is marked not supported but is read`);
      continue;
    }
    for (const f of ticked(row.flag)) assert.ok(flags.has(f), `flag ${f} (${row.status}) is not read`);
    for (const e of ticked(row.env)) assert.ok(envs.has(e), `env ${e} (${row.status}) is not read`);
  }
});
