// Runs the conformance suite against one provider: each case in turn with its own time limit,
// cleanup always, then the table and the JUnit file.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import type { Instance, Provider } from "../../providers/types.ts";
import { CASES } from "./cases/index.ts";
import { cleanup } from "./cases/cleanup.ts";
import { abortReason } from "./cases/instances.ts";
import { junitXml } from "./junit.ts";
import { Progress } from "./progress.ts";
import { ConformanceRefusedError, refusalMessage } from "./real-account.ts";
import { formatTable } from "./table.ts";
import {
  SkipCase,
  type CaseContext,
  type CaseFn,
  type CaseResult,
  type ConformanceOptions,
  type ConformanceReport,
} from "./types.ts";

class RunContext implements CaseContext {
  readonly provider: Provider;
  readonly cluster = `conformance-${randomBytes(4).toString("hex")}`;
  readonly concurrency: number;
  readonly pollIntervalMs: number;
  readonly created = new Map<string, Instance>();
  signal: AbortSignal = new AbortController().signal;
  first?: Instance;
  private readonly progress: Progress;

  constructor(opts: ConformanceOptions, progress: Progress) {
    this.provider = opts.provider;
    this.concurrency = opts.concurrency ?? 5;
    this.pollIntervalMs = opts.pollIntervalMs ?? (opts.isRealCloud ? 5000 : 250);
    this.progress = progress;
  }

  step(message: string): void {
    this.progress.step(message);
  }
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const prefix =
    typeof code === "string" && code !== "Unknown" && !err.message.includes(code) ? `${code}: ` : "";
  return `${prefix}${err.message}`;
}

async function runCase(
  ctx: RunContext,
  progress: Progress,
  id: string,
  title: string,
  fn: CaseFn,
  signal: AbortSignal,
): Promise<CaseResult> {
  progress.started(id, title);
  ctx.signal = signal;
  const started = performance.now();
  let result: Omit<CaseResult, "durationMs">;
  try {
    result = { id, title, status: "pass", summary: await fn(ctx) };
  } catch (err) {
    if (err instanceof SkipCase) {
      result = { id, title, status: "skip", summary: err.message };
    } else {
      let text = errorText(err);
      if (signal.aborted && !text.includes(abortReason(signal))) text += ` (${abortReason(signal)})`;
      result = { id, title, status: "fail", summary: text.split("\n")[0], detail: text };
    }
  }
  const r = { ...result, durationMs: performance.now() - started };
  progress.finished(r);
  return r;
}

/** Run every case against `opts.provider`; throws ConformanceRefusedError for an unconfirmed real account. */
export async function runConformance(opts: ConformanceOptions): Promise<ConformanceReport> {
  if (opts.isRealCloud && !opts.yesIOwnThisAccount)
    throw new ConformanceRefusedError(refusalMessage(opts.providerName));
  const runSignal = opts.signal ?? new AbortController().signal;
  const caseTimeoutMs = opts.caseTimeoutMs ?? (opts.isRealCloud ? 15 * 60_000 : 2 * 60_000);
  const progress = new Progress(opts.out, CASES.length + 1);
  const ctx = new RunContext(opts, progress);
  const startedAt = new Date();
  const t0 = performance.now();
  progress.line(
    `caa conformance: provider ${opts.providerName} (${opts.isRealCloud ? "REAL cloud account" : "emulated or local"}), ` +
      `run tag peerpod-cluster=${ctx.cluster}`,
  );

  const results: CaseResult[] = [];
  try {
    for (const c of CASES) {
      const unmet = c.needs.filter((n) => results.find((r) => r.id === n)?.status !== "pass");
      const reason = runSignal.aborted
        ? "interrupted"
        : unmet.length > 0
          ? `needs ${unmet.join(", ")} to pass`
          : undefined;
      const fn: CaseFn = reason === undefined ? c.run : () => Promise.reject(new SkipCase(reason));
      results.push(
        await runCase(
          ctx,
          progress,
          c.id,
          c.title,
          fn,
          AbortSignal.any([runSignal, AbortSignal.timeout(caseTimeoutMs)]),
        ),
      );
    }
  } finally {
    // Cleanup ignores the run's signal: an interrupted run must still remove what it made.
    const startPassed = results.find((r) => r.id === "start")?.status === "pass";
    const cleanupFn: CaseFn =
      startPassed || ctx.created.size > 0
        ? cleanup
        : () => Promise.reject(new SkipCase("nothing was created"));
    results.push(
      await runCase(
        ctx,
        progress,
        "cleanup",
        "removes everything this run created",
        cleanupFn,
        AbortSignal.timeout(caseTimeoutMs),
      ),
    );
  }

  const report: ConformanceReport = {
    providerName: opts.providerName,
    cluster: ctx.cluster,
    startedAt,
    durationMs: performance.now() - t0,
    results,
    ok: !runSignal.aborted && results.every((r) => r.status !== "fail"),
  };
  progress.line("");
  progress.line(formatTable(report));
  if (opts.junitPath !== undefined) {
    await writeFile(opts.junitPath, junitXml(report));
    progress.line(`JUnit XML written to ${opts.junitPath}`);
  }
  return report;
}
