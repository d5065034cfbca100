// The hypervisor calls of one daemon pass through this gate, so that a shutdown or a handover can
// stop taking new calls, wait for the ones in flight (their records end in a settled stage), and
// then hand the held calls to the successor daemon instead of failing them: the shim sees a slower
// answer, never an error caused by the handover.
import { Code, TtrpcError } from "../ttrpc/status.ts";
import { TtrpcClient } from "../ttrpc/client.ts";

type Mode =
  | { kind: "open" }
  | { kind: "held" }
  | { kind: "forward"; socket: string }
  | { kind: "closed"; reason: string };

export class CallGate {
  #mode: Mode = { kind: "open" };
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #waiting = new Set<() => void>();

  /** Calls running in this daemon now, or (after forwardTo) being forwarded by it. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Runs `local` here, or (after forwardTo) `remote` against the successor. */
  async run<T>(local: () => Promise<T>, remote: (client: TtrpcClient) => Promise<T>): Promise<T> {
    while (this.#mode.kind === "held") await new Promise<void>((resolve) => this.#waiting.add(resolve));
    const mode = this.#mode;
    if (mode.kind === "closed") throw new TtrpcError(Code.Unavailable, mode.reason);
    // A forwarded call is in flight here too: a SIGTERM after the handover must not cut it off.
    const p = mode.kind === "forward" ? forward(mode.socket, remote) : local();
    this.#inFlight.add(p);
    try {
      return await p;
    } finally {
      this.#inFlight.delete(p);
    }
  }

  /** New calls wait from now on. */
  hold(): void {
    if (this.#mode.kind === "open") this.#mode = { kind: "held" };
  }

  /** Waits until no call runs here, at most `timeoutMs`; resolves with how many still run. */
  async drain(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inFlight.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.#inFlight]),
        new Promise((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now())))),
      ]);
      clearTimeout(timer);
    }
    return this.#inFlight.size;
  }

  /** A handover that could not drain: held calls run here after all. */
  reopen(): void {
    if (this.#mode.kind === "held") this.#set({ kind: "open" });
  }

  /** Held and later calls go to the daemon serving `socket`. */
  forwardTo(socket: string): void {
    this.#set({ kind: "forward", socket });
  }

  /** Held and later calls fail with Unavailable (shutdown without a successor). */
  refuse(reason: string): void {
    this.#set({ kind: "closed", reason });
  }

  #set(mode: Mode): void {
    this.#mode = mode;
    for (const wake of this.#waiting) wake();
    this.#waiting.clear();
  }
}

async function forward<T>(socket: string, remote: (client: TtrpcClient) => Promise<T>): Promise<T> {
  const client = await TtrpcClient.connect(socket);
  try {
    return await remote(client);
  } finally {
    client.close();
  }
}
