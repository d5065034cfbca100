// The markdown report of a run: a table per target (sandboxes, injections, lost, leaked per
// fault), what was lost or leaked in detail, and how the run can be repeated (seed, commit,
// machine, command). RELIABILITY.md quotes one such report.
import { execFileSync } from "node:child_process";
import os from "node:os";
import { shapeOf, type Finding } from "./ledger.ts";
import { passed, type ScenarioResult } from "./harness.ts";

export interface RunInfo {
  seed: number;
  short: boolean;
  command: string;
  startedAt: Date;
  seconds: number;
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

export function commitOf(): string {
  const head = git(["rev-parse", "--short=12", "HEAD"]);
  const dirty = git(["status", "--porcelain", "--untracked-files=no"]);
  return dirty && dirty !== "unknown" ? `${head} (with uncommitted changes)` : head;
}

export function machine(): string {
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(1));
  return `${os.type()} ${os.release()} ${os.arch()}, ${cpus.length} × ${cpus[0]?.model.trim() ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${load.join(" ")} at the start, Node ${process.version}`;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The most common shapes of the findings' messages, counted. */
function shapes(list: Finding[], max = 3): string {
  const n = new Map<string, number>();
  for (const f of list) {
    const shape = shapeOf(f.what);
    n.set(shape, (n.get(shape) ?? 0) + 1);
  }
  return [...n.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, max)
    .map(([m, k]) => `${k} × ${cell(m).slice(0, 160)}`)
    .join("; ");
}

function findings(title: string, list: Finding[], max = 20): string[] {
  if (list.length === 0) return [];
  const lines = list
    .slice(0, max)
    .map((f) => `  - ${f.sandbox ? `\`${f.sandbox.slice(0, 12)}…\` ` : ""}${cell(f.what)}`);
  if (list.length > max) lines.push(`  - … and ${list.length - max} more`);
  return [`- ${title}:`, ...lines];
}

export function table(results: ScenarioResult[]): string[] {
  const out = [
    "| Target | Scenario | Fault | Rounds × burst | Sandboxes | Injections | Lost | Leaked | Other violations | Time |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    const l = r.ledger;
    out.push(
      r.skipped
        ? `| ${r.target} | ${r.scenario} | ${cell(r.fault)} | — | — | — | — | — | skipped: ${cell(r.skipped)} | — |`
        : `| ${r.target} | ${r.scenario} | ${cell(r.fault)} | ${r.params.rounds} × ${r.params.burst} | ${l.size} | ${l.injections.length} | ${l.lost.length} | ${l.leaked.length} | ${l.violations.length} | ${r.seconds} s |`,
    );
  }
  return out;
}

export function renderReport(info: RunInfo, results: ScenarioResult[]): string {
  const ok = results.every((r) => r.skipped || passed(r));
  const out = [
    `# Chaos run ${info.startedAt.toISOString()}`,
    "",
    `- Result: **${ok ? "passed" : "FAILED"}** (${info.short ? "short form" : "full campaign"}, ${info.seconds} s)`,
    `- Seed: ${info.seed}`,
    `- Commit: ${commitOf()}`,
    `- Machine: ${machine()}`,
    `- Command: \`${info.command}\``,
    "",
    ...table(results),
    "",
  ];
  for (const r of results.filter((x) => !x.skipped)) {
    const l = r.ledger;
    out.push(`## ${r.target} / ${r.scenario}`, "");
    out.push(
      `- ${l.size} sandboxes, ${[...l.entries.values()].filter((e) => e.started).length} started; ${l.injections.length} injections`,
    );
    const faults = Object.entries(r.cloudFaults ?? {}).sort((a, b) => b[1] - a[1]);
    if (faults.length > 0) {
      const total = faults.reduce((n, [, k]) => n + k, 0);
      out.push(`- cloud faults injected: ${total} (${faults.map(([k, n]) => `${k} ${n}`).join(", ")})`);
    }
    if (l.faultFailed.length > 0)
      out.push(
        `- calls failed by an injected cloud fault, not by the handover: ${l.faultFailed.length} (${shapes(l.faultFailed)})`,
      );
    if (l.retriedStops.length > 0)
      out.push(
        `- StopVMs failed by an injected cloud fault and finished by the daemon's own retry: ${l.retriedStops.length}`,
      );
    out.push(
      ...findings("lost", l.lost),
      ...findings("leaked", l.leaked),
      ...findings("other", l.violations),
    );
    const errors = [...l.errors.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
    if (errors.length > 0) {
      out.push("- errors the shim saw (most common first):");
      for (const [m, n] of errors) out.push(`  - ${n} × ${cell(m).slice(0, 300)}`);
    }
    const shown = l.injections.slice(0, 5).map(cell).join("; ");
    if (shown) out.push(`- injections (first ${Math.min(5, l.injections.length)}): ${shown}`);
    out.push("");
  }
  return out.join("\n");
}
