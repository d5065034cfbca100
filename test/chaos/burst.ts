// A burst: n sandboxes created and started through the daemon's socket, `concurrency` at a time
// (kubelet starts a node's pods in parallel). Scenarios inject their fault at a point of the burst
// chosen by counting the daemon's answers, not by the clock, so a slow machine shifts nothing.
import type { Ledger, SandboxEntry } from "./ledger.ts";
import type { Rng } from "./rng.ts";
import { createVM, messageOf, startVM } from "./shim.ts";

export interface BurstOptions {
  size: number;
  concurrency: number;
  /** Label of the sandboxes in the ledger (scenario and round). */
  origin: string;
  /** Pod network namespace for a sandbox, if the target gives them one. */
  netnsFor?: (entry: SandboxEntry) => Promise<string>;
}

export class Burst {
  /** CreateVM and StartVM answers (OK or not) so far. */
  answered = 0;
  /** Every call this burst will make: two per sandbox. */
  readonly calls: number;
  readonly done: Promise<void>;
  private waiters: { at: number; resolve: () => void }[] = [];

  constructor(socket: string, ledger: Ledger, rng: Rng, opts: BurstOptions) {
    this.calls = opts.size * 2;
    const entries = Array.from({ length: opts.size }, (_, i) =>
      ledger.add(rng.sandboxId(), `${opts.origin}#${i}`),
    );
    let next = 0;
    const worker = async () => {
      while (next < entries.length) {
        const e = entries[next++];
        await this.one(socket, ledger, e, opts);
      }
    };
    this.done = Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.size) }, worker)).then(
      () => {
        this.answered = this.calls;
        this.wake();
      },
    );
  }

  /** Resolves once `k` calls of the burst were answered (or the burst ended). */
  whenAnswered(k: number): Promise<void> {
    if (this.answered >= k) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ at: k, resolve }));
  }

  private async one(socket: string, ledger: Ledger, e: SandboxEntry, opts: BurstOptions): Promise<void> {
    try {
      const netns = opts.netnsFor ? await opts.netnsFor(e) : "";
      e.agentSocket = await this.counted(createVM(socket, e.id, `chaos-${e.id.slice(0, 8)}`, netns));
      e.created = true;
    } catch (err) {
      ledger.noteError(e, `CreateVM: ${messageOf(err)}`);
      this.count(); // its StartVM is never sent
      return;
    }
    try {
      await this.counted(startVM(socket, e.id));
      e.started = true;
    } catch (err) {
      ledger.noteError(e, `StartVM: ${messageOf(err)}`);
    }
  }

  private async counted<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } finally {
      this.count();
    }
  }

  private count(): void {
    this.answered++;
    this.wake();
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => w.at <= this.answered);
    this.waiters = this.waiters.filter((w) => w.at > this.answered);
    ready.forEach((w) => w.resolve());
  }
}
