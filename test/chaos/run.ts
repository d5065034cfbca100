// `npm run chaos`: bursts of sandboxes through the daemon's ttrpc socket while faults are injected,
// then the invariants (test/chaos/invariants.ts). Exits non-zero when a sandbox was lost, a
// resource leaked or a record was torn.
//   --seed N          replay a run (default: random, always printed)
//   --scenario NAME   only these (repeatable; default: all)
//   --target NAME     local (default) or a registered cloud target (repeatable)
//   --short           the CI form: a few rounds of small bursts, minutes
//   --fault-rate R    share of cloud API calls the cloud targets fault (default 0.3)
//   --rounds N, --burst N, --concurrency N   in place of the scenarios' own counts
//   --out FILE        write the markdown report there
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { runScenario, passed, type ScenarioResult } from "./harness.ts";
import { renderReport, table } from "./report.ts";
import { Rng } from "./rng.ts";
import type { ScenarioParams } from "./scenario.ts";
import { SCENARIOS } from "./scenarios/index.ts";
import { TARGETS } from "./targets.ts";

export interface ChaosRun {
  seed: number;
  results: ScenarioResult[];
  report: string;
  ok: boolean;
}

export async function chaos(argv: string[], log: (line: string) => void = console.log): Promise<ChaosRun> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: "string" },
      scenario: { type: "string", multiple: true },
      target: { type: "string", multiple: true },
      short: { type: "boolean", default: false },
      out: { type: "string" },
      "scenario-timeout": { type: "string" },
      "fault-rate": { type: "string" },
      rounds: { type: "string" },
      burst: { type: "string" },
      concurrency: { type: "string" },
    },
  });
  const seed = values.seed !== undefined ? Number(values.seed) : Rng.randomSeed();
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`--seed must be a non-negative integer, not ${values.seed}`);
  const names = values.scenario ?? SCENARIOS.map((s) => s.name);
  const scenarios = names.map((n) => {
    const s = SCENARIOS.find((x) => x.name === n);
    if (!s) throw new Error(`unknown scenario ${n}; known: ${SCENARIOS.map((x) => x.name).join(", ")}`);
    return s;
  });
  const targetNames = values.target ?? ["local"];
  for (const t of targetNames) {
    if (!TARGETS[t]) throw new Error(`unknown target ${t}; known: ${Object.keys(TARGETS).join(", ")}`);
  }
  const short = values.short ?? false;
  const faultRate = Number(values["fault-rate"] ?? 0.3);
  if (!(faultRate >= 0 && faultRate <= 1))
    throw new Error(`--fault-rate must be in [0, 1], not ${values["fault-rate"]}`);
  const override: Partial<ScenarioParams> = {};
  for (const k of ["rounds", "burst", "concurrency"] as const) {
    if (values[k] === undefined) continue;
    const n = Number(values[k]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} must be a positive integer, not ${values[k]}`);
    override[k] = n;
  }
  const timeoutMs = Number(values["scenario-timeout"] ?? (short ? 600 : 5400)) * 1000;
  log(`chaos: seed ${seed} (replay with --seed ${seed}), ${short ? "short form" : "full campaign"}`);
  const startedAt = new Date();
  const root = new Rng(seed);
  const results: ScenarioResult[] = [];
  for (const t of targetNames) {
    for (const s of scenarios) {
      log(`chaos: ${t}/${s.name}: ${s.fault}`);
      const r = await runScenario(TARGETS[t](), s, root.fork(`${t}/${s.name}`), {
        short,
        timeoutMs,
        log,
        faultRate,
        override,
      });
      results.push(r);
      log(`chaos: ${t}/${s.name}: ${r.skipped ? `skipped (${r.skipped})` : passed(r) ? "passed" : "FAILED"}`);
    }
  }
  const report = renderReport(
    {
      seed,
      short,
      command: ["npm run chaos --", ...argv].join(" "),
      startedAt,
      seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    },
    results,
  );
  if (values.out) await writeFile(values.out, report);
  return { seed, results, report, ok: results.every((r) => r.skipped || passed(r)) };
}

if (import.meta.main) {
  const run = await chaos(process.argv.slice(2));
  console.log(["", ...table(run.results), "", `seed ${run.seed}`].join("\n"));
  process.exitCode = run.ok ? 0 : 1;
}
