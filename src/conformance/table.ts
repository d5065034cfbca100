// The readable summary printed at the end of a run.
import type { ConformanceReport } from "./types.ts";

const MARK = { pass: "PASS", fail: "FAIL", skip: "SKIP" } as const;
const MAX_SUMMARY = 100;

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

function oneLine(text: string): string {
  const line = text.split("\n")[0].trim();
  return line.length > MAX_SUMMARY ? `${line.slice(0, MAX_SUMMARY - 1)}…` : line;
}

export function formatTable(report: ConformanceReport): string {
  const rows = report.results.map((r) => [
    r.id,
    MARK[r.status],
    formatDuration(r.durationMs),
    oneLine(r.summary),
  ]);
  const header = ["CASE", "RESULT", "TIME", "DETAIL"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const count = (s: string) => report.results.filter((r) => r.status === s).length;
  return [
    fmt(header),
    ...rows.map(fmt),
    "",
    `${report.providerName}: ${count("pass")} passed, ${count("fail")} failed, ${count("skip")} skipped ` +
      `in ${formatDuration(report.durationMs)} — ${report.ok ? "CONFORMANT" : "NOT CONFORMANT"}`,
    "",
  ].join("\n");
}
