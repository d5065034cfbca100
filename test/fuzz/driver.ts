// The fuzz driver shared by every target: runs the corpus unchanged first (inputs that once found a
// bug stay fixed), then mutated and generated inputs until the time is up. Any exception a target
// lets out, an input that takes longer than its bound (a hang), a failed health check after a batch
// or an uncaught error anywhere in the process is a finding: the run stops and reports the seed, the
// iteration and the input, which is also written to a file for the corpus.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { iterationRng, mutateBytes, type Rng } from "./mutator.ts";

export interface FuzzSession {
  /** A structure-aware input (a ttrpc frame sequence, an apf.json, …); without it only mutations run. */
  generate?(rng: Rng, corpus: readonly Buffer[]): Buffer;
  /** Feeds one input; throws (with a message saying what went wrong) on a defect. */
  run(input: Buffer): Promise<void>;
  /** After each batch: the system under test still answers and holds nothing it should not. */
  check?(): Promise<void>;
  close(): Promise<void>;
}

export interface FuzzTarget {
  name: string;
  /** An input that takes longer is a hang. */
  timeoutMs: number;
  /** Inputs between two checks. */
  batch: number;
  /** Upper bound of a mutated input's size. */
  maxInputBytes: number;
  open(): Promise<FuzzSession>;
}

export interface Finding {
  iteration: number;
  message: string;
  input: Buffer;
  /** Where the input was saved (copy it into test/fuzz/corpus/<target>/ once fixed). */
  file: string;
}

export interface FuzzReport {
  target: string;
  seed: number;
  iterations: number;
  ms: number;
  finding?: Finding;
}

export interface FuzzOptions {
  seed: number;
  /** Time budget in seconds (the corpus always runs whole). */
  seconds: number;
  /** Replay this one iteration only. */
  iteration?: number;
  findingsDir?: string;
}

export const CORPUS_DIR = path.join(import.meta.dirname, "corpus");

export async function loadCorpus(target: string): Promise<Buffer[]> {
  const dir = path.join(CORPUS_DIR, target);
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  return Promise.all(names.map((n) => readFile(path.join(dir, n))));
}

/** The input of iteration `i`: the corpus entries first, then a generated or mutated input. */
export function inputFor(
  i: number,
  seed: number,
  corpus: readonly Buffer[],
  session: FuzzSession,
  maxBytes: number,
): Buffer {
  if (i < corpus.length) return corpus[i];
  const rng = iterationRng(seed, i);
  if (session.generate && (corpus.length === 0 || rng.chance(0.5))) return session.generate(rng, corpus);
  const base = corpus.length > 0 ? rng.pick(corpus) : Buffer.alloc(0);
  return mutateBytes(rng, base, corpus, maxBytes);
}

class Timeout extends Error {}

async function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Timeout()), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

export async function fuzz(target: FuzzTarget, opts: FuzzOptions): Promise<FuzzReport> {
  const corpus = await loadCorpus(target.name);
  const started = performance.now();
  const stray: Error[] = [];
  const onStray = (err: unknown): void =>
    void stray.push(err instanceof Error ? err : new Error(String(err)));
  process.on("uncaughtException", onStray);
  process.on("unhandledRejection", onStray);
  const session = await target.open();
  const report: FuzzReport = { target: target.name, seed: opts.seed, iterations: 0, ms: 0 };
  let last: Buffer = Buffer.alloc(0);
  const found = async (iteration: number, message: string): Promise<void> => {
    const dir = opts.findingsDir ?? path.join(os.tmpdir(), "caa-fuzz-findings");
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${target.name}-seed${opts.seed}-iter${iteration}.bin`);
    await writeFile(file, last);
    report.finding = { iteration, message, input: last, file };
  };
  try {
    const deadline = started + opts.seconds * 1000;
    const first = opts.iteration ?? 0;
    for (let i = first; ; i++) {
      if (
        opts.iteration !== undefined ? i > opts.iteration : i >= corpus.length && performance.now() > deadline
      )
        break;
      last = inputFor(i, opts.seed, corpus, session, target.maxInputBytes);
      report.iterations++;
      try {
        await bounded(session.run(last), target.timeoutMs);
      } catch (err) {
        const msg = err instanceof Timeout ? `hang: no result within ${target.timeoutMs} ms` : describe(err);
        await found(i, msg);
        break;
      }
      if (stray.length > 0) {
        await found(i, `uncaught in the process: ${describe(stray[0])}`);
        break;
      }
      if (session.check && (i + 1 - first) % target.batch === 0) {
        try {
          await bounded(session.check(), 30_000);
        } catch (err) {
          await found(
            i,
            `after the batch ending at this input: ${err instanceof Timeout ? "check hung" : describe(err)}`,
          );
          break;
        }
      }
    }
    if (!report.finding && session.check) {
      await bounded(session.check(), 30_000).catch((err: unknown) =>
        found(report.iterations - 1, describe(err)),
      );
    }
  } finally {
    const closing = await session.close().then(
      () => undefined,
      (err: unknown) => describe(err),
    );
    if (closing !== undefined && !report.finding)
      await found(report.iterations - 1, `at the end: ${closing}`);
    process.off("uncaughtException", onStray);
    process.off("unhandledRejection", onStray);
    report.ms = Math.round(performance.now() - started);
  }
  return report;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.stack?.startsWith(`${err.name}: `)
    ? err.stack
    : `${err.name}: ${err.message}\n${err.stack ?? ""}`;
}

/** The lines a failure prints: what, the seed and iteration to replay, and the input (shortened). */
export function formatFinding(r: FuzzReport): string {
  const f = r.finding;
  if (!f) return `fuzz ${r.target}: ${r.iterations} inputs in ${r.ms} ms, seed ${r.seed}: no finding`;
  const shown =
    f.input.length > 512
      ? `${f.input.subarray(0, 512).toString("base64")}… (${f.input.length} bytes)`
      : f.input.toString("base64");
  return [
    `fuzz ${r.target}: FINDING at iteration ${f.iteration} (seed ${r.seed})`,
    `  ${f.message.split("\n").slice(0, 8).join("\n  ")}`,
    `  input (base64): ${shown}`,
    `  saved: ${f.file}`,
    `  replay: npm run fuzz -- --target ${r.target} --seed ${r.seed} --iteration ${f.iteration}`,
  ].join("\n");
}
