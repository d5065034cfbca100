// JUnit XML in the shape CI systems read (GitHub, GitLab, Jenkins): one <testsuite> per run,
// one <testcase> per case, <failure> and <skipped> children.
import type { ConformanceReport } from "./types.ts";

/** Characters XML 1.0 cannot carry at all, even escaped. */
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/** Escape text for an attribute or element; invalid characters become U+FFFD. */
export function escapeXml(text: string): string {
  return text.replace(INVALID_XML, "\uFFFD").replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

function attrs(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join("");
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

export function junitXml(report: ConformanceReport): string {
  const suite = `conformance.${report.providerName}`;
  const count = (s: string) => report.results.filter((r) => r.status === s).length;
  const totals = {
    tests: report.results.length,
    failures: count("fail"),
    errors: 0,
    skipped: count("skip"),
    time: seconds(report.durationMs),
  };
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: "caa conformance", ...totals })}>`,
    `  <testsuite${attrs({ name: suite, ...totals, timestamp: report.startedAt.toISOString() })}>`,
    "    <properties>",
    `      <property${attrs({ name: "provider", value: report.providerName })}/>`,
    `      <property${attrs({ name: "cluster", value: report.cluster })}/>`,
    "    </properties>",
  ];
  for (const r of report.results) {
    const tc = `    <testcase${attrs({ classname: suite, name: `${r.id}: ${r.title}`, time: seconds(r.durationMs) })}`;
    if (r.status === "pass") {
      lines.push(`${tc}/>`);
    } else if (r.status === "skip") {
      lines.push(`${tc}>`, `      <skipped${attrs({ message: r.summary })}/>`, "    </testcase>");
    } else {
      lines.push(
        `${tc}>`,
        `      <failure${attrs({ message: r.summary, type: "ConformanceFailure" })}>${escapeXml(r.detail ?? r.summary)}</failure>`,
        "    </testcase>",
      );
    }
  }
  lines.push("  </testsuite>", "</testsuites>", "");
  return lines.join("\n");
}
