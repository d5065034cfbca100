// Step-named failures and undo-on-failure, so a failed setup leaves no half-built tunnel.

/** Runs one named step; its error message becomes "<step>: <cause>". */
export async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
  }
}

/** Undo actions registered as steps succeed, run in reverse order when a later step fails. */
export class Rollback {
  readonly #undos: { what: string; fn: () => Promise<unknown> }[] = [];

  push(what: string, fn: () => Promise<unknown>): void {
    this.#undos.push({ what, fn });
  }

  /** Runs every undo (last first) even if some fail; resolves with the failures' messages. */
  async run(): Promise<string[]> {
    const failures: string[] = [];
    for (const { what, fn } of this.#undos.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        failures.push(`${what}: ${(err as Error).message}`);
      }
    }
    return failures;
  }
}

/** Runs `body`; on failure runs the rollback and rejects with "<prefix>: <error>[; cleanup failed: …]". */
export async function withRollback<T>(prefix: string, body: (rb: Rollback) => Promise<T>): Promise<T> {
  const rb = new Rollback();
  try {
    return await body(rb);
  } catch (err) {
    const failures = await rb.run();
    const cleanup = failures.length > 0 ? `; cleanup failed: ${failures.join("; ")}` : "";
    throw new Error(`${prefix}: ${(err as Error).message}${cleanup}`, { cause: err });
  }
}

/** Runs every teardown action even if some fail; rejects once at the end naming each failure. */
export async function teardownAll(
  prefix: string,
  actions: [string, () => Promise<unknown>][],
): Promise<void> {
  const failures: string[] = [];
  for (const [what, fn] of actions) {
    try {
      await fn();
    } catch (err) {
      failures.push(`${what}: ${(err as Error).message}`);
    }
  }
  if (failures.length > 0) throw new Error(`${prefix}: ${failures.join("; ")}`);
}
