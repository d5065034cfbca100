// Ownership of the state directory for `caa serve`: take it (asking a live owner to hand over), and
// give it up — on SIGTERM after draining, or to a successor that asks (src/handover/channel.ts).
import type { Logger } from "../log/logger.ts";
import { OwnerLock } from "../handover/owner-lock.ts";
import {
  handoverSocketPath,
  requestHandover,
  serveHandover,
  type HandoverRequest,
} from "../handover/channel.ts";
import type { CallGate } from "../handover/gate.ts";
import type { StartupCheck } from "../ops/startup.ts";

export interface Ownership {
  lock: OwnerLock;
  /** Set when a predecessor handed over: tell it once we serve. */
  predecessor?: HandoverRequest;
}

/** How long a successor waits for the lock once the owner said it released it. */
const RELOCK_MS = 10_000;
/** How long a successor tries to reach an owner whose handover socket is not up yet (it is starting). */
const REACH_OWNER_MS = 120_000;

/** Called before anything is written to the state directory. */
export async function takeOwnership(
  stateDir: string,
  handoverTimeoutMs: number,
  logger: Logger,
): Promise<Ownership> {
  const deadline = Date.now() + REACH_OWNER_MS;
  for (;;) {
    const lock = await OwnerLock.tryAcquire(stateDir);
    if (lock) return { lock };
    const path = handoverSocketPath(stateDir);
    let predecessor: HandoverRequest;
    try {
      logger.info({ stateDir }, `another daemon owns ${stateDir}; asking it to hand over`);
      predecessor = await requestHandover(path, handoverTimeoutMs + 30_000);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // The owner is still starting (no handover socket yet) or just died (the lock frees).
      if ((code === "ENOENT" || code === "ECONNREFUSED") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      throw new Error(`could not take over ${stateDir} from its owner: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const taken = await OwnerLock.acquire(stateDir, RELOCK_MS);
    if (!taken)
      throw new Error(
        `the owner of ${stateDir} handed over but its lock did not free within ${RELOCK_MS} ms`,
      );
    logger.info({ stateDir }, `the previous daemon handed ${stateDir} over`);
    return { lock: taken, predecessor };
  }
}

/** What an owning daemon gives up, in order. */
export interface OwnedParts {
  gate: CallGate;
  startup?: StartupCheck;
  logger: Logger;
  /** Stops everything that acts on sandboxes or holds the ops port: leak collector, agent proxies, ops server, gRPC. */
  quiesce(): Promise<void>;
  /** Stops accepting on the hypervisor socket (a successor's socket is at the path by then). */
  stopListening(): Promise<void>;
  /** After the handover: what is left (the provider's clients). */
  retire(): Promise<void>;
}

export interface Handover {
  /** Serve hand-over requests until closed. */
  close(): Promise<void>;
  /** True once this daemon handed over (it then only forwards calls it still receives). */
  readonly retired: boolean;
}

export async function offerHandover(
  stateDir: string,
  lock: OwnerLock,
  parts: OwnedParts,
  handoverTimeoutMs: number,
): Promise<Handover> {
  let retired = false;
  const server = await serveHandover(handoverSocketPath(stateDir), {
    async release(pid) {
      const { gate, startup, logger } = parts;
      startup?.handOver(`handing over to the daemon with pid ${pid}`);
      gate.hold();
      logger.info(
        { successor: pid, inFlight: gate.inFlight },
        `handing over to the daemon with pid ${pid}: holding new calls; ${gate.inFlight} in flight`,
      );
      const unfinished = await gate.drain(handoverTimeoutMs);
      if (unfinished > 0) {
        // Never let two daemons act on a record: keep ownership and carry on.
        gate.reopen();
        startup?.handOver(undefined);
        throw new Error(
          `${unfinished} calls still in flight after ${handoverTimeoutMs} ms; not handing over`,
        );
      }
      await parts.quiesce();
      await lock.release();
      retired = true;
      logger.info({ successor: pid }, "released the state directory");
      return { unfinished };
    },
    async succeeded(socket) {
      parts.gate.forwardTo(socket);
      await parts.stopListening();
      await parts.retire();
      parts.logger.info(
        { socket },
        `handed over; calls that still reach this daemon are forwarded to ${socket}`,
      );
    },
    abandoned() {
      // Our agent proxies and ops port are closed and the lock is free: exit, so that the kubelet's
      // restart (or the successor's retry) recovers the sandboxes from the state directory.
      parts.logger.error(
        {},
        "the daemon taking over went away after this one released the state directory; exiting so that a fresh start recovers it",
      );
      process.exit(70);
    },
  });
  return {
    close: () => server.close(),
    get retired() {
      return retired;
    },
  };
}

/** Shutdown without a successor: calls in flight finish (bounded) so their records settle. */
export async function drainCalls(
  gate: CallGate,
  startup: StartupCheck,
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  startup.handOver("shutting down");
  gate.hold();
  const unfinished = await gate.drain(timeoutMs);
  gate.refuse("the daemon is shutting down; retry");
  if (unfinished > 0)
    logger.warn(
      { unfinished },
      `${unfinished} calls did not finish within DRAIN_TIMEOUT; the next start recovers their sandboxes`,
    );
}
