// Shapes shared by the conformance runner, its cases and its reports.
import type { Writable } from "node:stream";
import type { Instance, Provider } from "../../providers/types.ts";

export interface ConformanceOptions {
  provider: Provider;
  /** Registry name, shown in reports ("aws", "azure", "local", …). */
  providerName: string;
  /** True when the provider talks to a real cloud account (no emulator endpoint configured). */
  isRealCloud: boolean;
  /** Must be true for a real cloud account: the suite creates and deletes instances there. */
  yesIOwnThisAccount: boolean;
  /** Where to write JUnit XML; omitted = no file. */
  junitPath?: string;
  /** Progress lines and the final table. */
  out: Writable;
  /** Instances created at once in the concurrency case (default 5). */
  concurrency?: number;
  /** Aborts the cases; cleanup still runs. */
  signal?: AbortSignal;
  /** How long one case may take (default 2 min for emulators, 15 min for a real cloud). */
  caseTimeoutMs?: number;
  /** How often to poll while waiting for a deletion to show (default 250 ms emulated, 5 s real). */
  pollIntervalMs?: number;
}

export type CaseStatus = "pass" | "fail" | "skip";

export interface CaseResult {
  id: string;
  title: string;
  status: CaseStatus;
  durationMs: number;
  /** One line for the table: what was checked, or why it failed or was skipped. */
  summary: string;
  /** The full failure text (JUnit), when it failed. */
  detail?: string;
}

export interface ConformanceReport {
  providerName: string;
  cluster: string;
  startedAt: Date;
  durationMs: number;
  results: CaseResult[];
  ok: boolean;
}

/** What a case sees: the provider, the run's identity, and the instances other cases made. */
export interface CaseContext {
  readonly provider: Provider;
  /** The run's unique `peerpod-cluster` tag value; cleanup deletes everything carrying it. */
  readonly cluster: string;
  readonly concurrency: number;
  readonly pollIntervalMs: number;
  readonly signal: AbortSignal;
  /** Every instance this run created, by id (cleanup deletes them even if list() misses them). */
  readonly created: Map<string, Instance>;
  /** The instance made by the `create` case, for `get`, `list` and `delete`. */
  first?: Instance;
  /** A progress line under the running case. */
  step(message: string): void;
}

/** A case's outcome line for the table; throw to fail, throw SkipCase to skip. */
export type CaseFn = (ctx: CaseContext) => Promise<string>;

export interface ConformanceCase {
  id: string;
  title: string;
  /** Ids of cases that must have passed first; otherwise this one is skipped. */
  needs: string[];
  run: CaseFn;
}

export class SkipCase extends Error {
  override name = "SkipCase";
}
