// Batching of calls across sandboxes, as Karpenter does for DescribeInstances and
// TerminateInstances (aws/karpenter-provider-aws pkg/batcher: 100 ms idle, 1 s at most, 500 ids):
// items that arrive within the window go out in one cloud call and every caller gets its own
// result or error. A caller that gives up (its signal aborts) before the call is sent is taken out
// of the batch; after that, it stops waiting and its share of the answer is dropped.
import { abortReason } from "./caller.ts";

export interface BatchWindow {
  /** Send when no item came for this long. */
  idleMs: number;
  /** Send at the latest this long after the first item. */
  maxMs: number;
  /** Send at once when this many items wait. */
  maxItems: number;
}

export const KARPENTER_WINDOW: BatchWindow = { idleMs: 100, maxMs: 1000, maxItems: 500 };

/** Sent as soon as it is asked for: batching off. */
export const NO_WINDOW: BatchWindow = { idleMs: 0, maxMs: 0, maxItems: 1 };

/** Answers the items of one batch, in their order: a result or the error for that item. */
export type BatchExec<T, R> = (items: readonly T[]) => Promise<Array<R | Error>>;

interface Entry<T, R> {
  item: T;
  settled: boolean;
  resolve(r: R): void;
  reject(err: unknown): void;
  cleanup(): void;
}

export class Batcher<T, R> {
  private pending: Array<Entry<T, R>> = [];
  private idle: NodeJS.Timeout | undefined;
  private max: NodeJS.Timeout | undefined;
  private readonly window: BatchWindow;
  private readonly exec: BatchExec<T, R>;
  /** Sizes of the batches sent, for tests and benchmarks. */
  readonly sent: number[] = [];

  constructor(window: BatchWindow, exec: BatchExec<T, R>) {
    this.window = window;
    this.exec = exec;
  }

  add(item: T, signal?: AbortSignal): Promise<R> {
    signal?.throwIfAborted();
    return new Promise<R>((resolve, reject) => {
      const onAbort = () => {
        if (entry.settled) return;
        entry.settled = true;
        const at = this.pending.indexOf(entry);
        if (at >= 0) {
          this.pending.splice(at, 1);
          if (this.pending.length === 0) this.clearTimers();
        }
        reject(abortReason(signal));
      };
      const entry: Entry<T, R> = {
        item,
        settled: false,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener("abort", onAbort),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.push(entry);
      if (this.pending.length >= this.window.maxItems) return this.flush();
      clearTimeout(this.idle);
      this.idle = setTimeout(() => this.flush(), this.window.idleMs);
      this.max ??= setTimeout(() => this.flush(), this.window.maxMs);
    });
  }

  private clearTimers(): void {
    clearTimeout(this.idle);
    clearTimeout(this.max);
    this.idle = this.max = undefined;
  }

  private flush(): void {
    this.clearTimers();
    const batch = this.pending.splice(0, this.window.maxItems);
    if (this.pending.length > 0) this.max = setTimeout(() => this.flush(), 0);
    if (batch.length === 0) return;
    this.sent.push(batch.length);
    const settle = (e: Entry<T, R>, r: R | Error) => {
      e.cleanup();
      if (e.settled) return;
      e.settled = true;
      if (r instanceof Error) e.reject(r);
      else e.resolve(r);
    };
    this.exec(batch.map((e) => e.item)).then(
      (results) =>
        batch.forEach((e, i) =>
          settle(
            e,
            i < results.length ? results[i] : new Error("the batch answered no result for this item"),
          ),
        ),
      (err: unknown) => batch.forEach((e) => settle(e, err instanceof Error ? err : new Error(String(err)))),
    );
  }
}
