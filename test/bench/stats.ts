// Percentiles and formatting shared by the benchmarks.

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean };
}

export function ms(v: number): string {
  return `${v.toFixed(v < 10 ? 2 : 1)} ms`;
}

/** Run `fn` for each of `n` items with at most `concurrency` at once; returns each run's wall time. */
export async function timedPool(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<number[]> {
  const times: number[] = new Array<number>(n);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const t0 = performance.now();
      await fn(i);
      times[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return times;
}
