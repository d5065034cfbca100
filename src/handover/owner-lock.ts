// Exactly one daemon owns a state directory. The lock is a listening socket in Linux's abstract
// namespace named after the directory: binding it is atomic (EADDRINUSE for everyone else), the
// kernel releases it the instant its process dies — kill -9 included — so a crashed owner's lock is
// never stale, and no file needs writing before ownership is known. The DaemonSet runs with
// hostNetwork, so the old and the new pod on a node share the namespace the name lives in.
import { createHash } from "node:crypto";
import net from "node:net";
import { resolve } from "node:path";

export function lockName(stateDir: string): string {
  const digest = createHash("sha256").update(resolve(stateDir)).digest("hex").slice(0, 40);
  return `\0peerpod-caa-state-${digest}`;
}

export class OwnerLock {
  readonly #server: net.Server;

  private constructor(server: net.Server) {
    this.#server = server;
  }

  /** The lock, or undefined when another live process holds it. */
  static async tryAcquire(stateDir: string): Promise<OwnerLock | undefined> {
    // Connections carry nothing: the name is the lock, the handover talks over handover.sock.
    const server = net.createServer((c) => c.destroy());
    const ok = await new Promise<boolean>((done, fail) => {
      server.once("error", (err: NodeJS.ErrnoException) =>
        err.code === "EADDRINUSE" ? done(false) : fail(err),
      );
      server.listen(lockName(stateDir), () => done(true));
    });
    return ok ? new OwnerLock(server) : undefined;
  }

  /** Waits for the lock, at most `timeoutMs` (a predecessor is letting go of it). */
  static async acquire(stateDir: string, timeoutMs: number): Promise<OwnerLock | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lock = await OwnerLock.tryAcquire(stateDir);
      if (lock || Date.now() >= deadline) return lock;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  release(): Promise<void> {
    return new Promise((done) => this.#server.close(() => done()));
  }
}
