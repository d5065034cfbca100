// A StopVM whose instance delete failed (a cloud error that outlasted the provider's own retries)
// leaves its sandbox in "stopping" (lifecycle.ts stop()) and answers the shim with the error. The
// shims only log StopVM's errors and never ask again (KATA src/runtime/virtcontainers/sandbox.go
// stopVM; src/runtime-rs/crates/hypervisor/src/remote/inner.rs), and the leak collector keeps an
// instance its sandbox still records, so without this the VM would run until the next restart's
// recovery. Upstream logs the delete error and forgets the VM, leaving it to peerpod-ctrl (CAA
// src/cloud-api-adaptor/pkg/adaptor/cloud/cloud.go StopVM). The daemon retries by itself, with
// backoff, until the delete succeeds or the sandbox leaves "stopping" another way.
import type { Logger } from "../log/logger.ts";

/** The first retry's delay; each next one doubles, up to MAX_RETRY_MS. */
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 5 * 60_000;

/**
 * One StopVM attempt for a sandbox: resolves "stopped" once it is, "stopping" when the delete
 * failed again, "other" when the sandbox is not stopping any more (nothing left to retry).
 */
export type StopAttempt = (id: string) => Promise<"stopped" | "stopping" | "other">;

export class StopRetries {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private closed = false;
  private readonly attempt: StopAttempt;
  private readonly logger: Logger;

  constructor(attempt: StopAttempt, logger: Logger) {
    this.attempt = attempt;
    this.logger = logger;
  }

  /** Retry the stop of `id` after a failed attempt (the `failures`-th in a row). */
  schedule(id: string, failures = 1): void {
    if (this.closed || this.timers.has(id)) return;
    const delay = Math.min(FIRST_RETRY_MS * 2 ** (failures - 1), MAX_RETRY_MS);
    this.logger.warn(
      { sandbox: id, failures, retryInMs: delay },
      `StopVM of sandbox ${id} failed; the daemon retries it in ${Math.round(delay / 1000)} s`,
    );
    const timer = setTimeout(() => {
      this.timers.delete(id);
      const run = this.retry(id, failures).finally(() => this.running.delete(run));
      this.running.add(run);
    }, delay);
    timer.unref();
    this.timers.set(id, timer);
  }

  /** Stop retrying (the daemon stops or hands over: the next one's recovery finishes the stops). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.running);
  }

  private async retry(id: string, failures: number): Promise<void> {
    const outcome = await this.attempt(id).catch(() => "stopping" as const);
    if (outcome === "stopped")
      this.logger.info(
        { sandbox: id, retries: failures },
        `finished StopVM of sandbox ${id} on the daemon's retry ${failures}`,
      );
    else if (outcome === "stopping") this.schedule(id, failures + 1);
  }
}
