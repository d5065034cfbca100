// The agent proxy, one per sandbox (CAA pkg/adaptor/proxy/proxy.go; docs/upstream-compat.md §3.3): serves the
// kata shim on <pods-dir>/<id>/agent.ttrpc and relays its calls over one mTLS connection to the
// forwarder in the VM. start() resolves once that connection is up; that is what StartVM waits for.
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Logger } from "../log/logger.ts";
import type { CloudVolume } from "../sandbox/cloud-volumes.ts";
import {
  logCreateSandbox,
  logDestroySandbox,
  logRemoveContainer,
  logSetPolicy,
  logStartContainer,
} from "./call-log.ts";
import { editCreateContainerForWorker } from "./create-container.ts";
import { AGENT_SERVICE, AGENT_SERVICES } from "../relay/agent.ts";
import { DialTimeoutError } from "../relay/dial.ts";
import { reusedReads } from "../relay/reused-reads.ts";
import { AgentRelay, type CallObserver, type PayloadEdit } from "../relay/relay.ts";
import { AgentConnectError, formatAddress } from "./errors.ts";
import { listenUnix, type UnixListener } from "./listen-unix.ts";

export interface AgentProxyOptions {
  socketPath: string;
  host: string;
  port: number;
  /** From buildClientTls; null = plain TCP (-disable-tls). */
  tls: tls.ConnectionOptions | null;
  /** PROXY_TIMEOUT: bound of the first dial (and of each re-dial). */
  timeoutMs: number;
  logger: Logger;
  sandboxId: string;
  /** Called once per relayed call with the ttrpc method name (e.g. CreateContainer, Check). */
  onCall?: CallObserver;
  /** The pod's cloud volumes (from the sandbox record): CreateContainer tells the VM side of them. */
  cloudVolumes?: readonly CloudVolume[];
}

function workerEdits(volumes: readonly CloudVolume[]): ReadonlyMap<string, PayloadEdit> {
  return new Map<string, PayloadEdit>([
    [`${AGENT_SERVICE}/CreateContainer`, (p, log) => editCreateContainerForWorker(p, log, volumes)],
    [`${AGENT_SERVICE}/CreateSandbox`, logCreateSandbox],
    [`${AGENT_SERVICE}/StartContainer`, logStartContainer],
    [`${AGENT_SERVICE}/RemoveContainer`, logRemoveContainer],
    [`${AGENT_SERVICE}/DestroySandbox`, logDestroySandbox],
    [`${AGENT_SERVICE}/SetPolicy`, logSetPolicy],
  ]);
}

/**
 * How long one dial waits for the VM to answer its SYN. A VM still booting drops SYNs without a
 * word, and on one connect the kernel sends the next only 1, 3, 7, 15, 31 s… after the first: a
 * forwarder that opened 20 s into the dial was reached at 31 s (upstream's dial waits on one
 * connect for up to PROXY_TIMEOUT). A fresh connect every 1.5 s reaches it within 1.5 s.
 */
export const CONNECT_ATTEMPT_MS = 1500;

export class AgentProxy {
  readonly #opts: AgentProxyOptions;
  readonly #logger: Logger;
  readonly #address: string;
  readonly #relay: AgentRelay;
  #listener: UnixListener | undefined;
  #closed = false;

  constructor(opts: AgentProxyOptions) {
    this.#opts = opts;
    this.#address = formatAddress(opts.host, opts.port);
    this.#logger = opts.logger.child({ sandbox: opts.sandboxId });
    this.#relay = new AgentRelay({
      target: this.#address,
      dialOnce: (signal) => this.#dialOnce(signal),
      services: AGENT_SERVICES,
      edits: workerEdits(opts.cloudVolumes ?? []),
      redialTimeoutMs: opts.timeoutMs,
      logger: this.#logger,
      onCall: opts.onCall,
    });
  }

  get socketPath(): string {
    return this.#opts.socketPath;
  }

  /** True while the connection to the VM is up. */
  get connected(): boolean {
    return this.#relay.connected;
  }

  /** What the relay holds in memory (see AgentRelay.bufferedBytes). */
  get bufferedBytes(): number {
    return this.#relay.bufferedBytes;
  }

  /**
   * Listen on the socket (0600, stale socket replaced), then dial the VM until it answers. Rejects
   * with AgentConnectError after timeoutMs, or with the signal's reason; either way nothing is left.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#listener || this.#closed)
      throw new Error(`agent proxy for ${this.#opts.sandboxId} already started`);
    this.#listener = await listenUnix(this.#opts.socketPath, 0o600, (socket) => this.#relay.serve(socket));
    this.#logger.info(
      { socket: this.#opts.socketPath, target: this.#address, stage: "agent-connect" },
      "agent proxy listening",
    );
    try {
      await this.#relay.connect(this.#opts.timeoutMs, signal);
    } catch (err) {
      await this.close();
      if (err instanceof DialTimeoutError) {
        const e = new AgentConnectError(this.#address, this.#opts.timeoutMs, err.lastError);
        this.#logger.warn({ target: this.#address, stage: "agent-connect" }, e.message);
        throw e;
      }
      throw err;
    }
  }

  /** Stops serving, drops the VM connection and removes the socket. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#relay.close();
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.close();
  }

  async #dialOnce(signal: AbortSignal): Promise<Duplex> {
    const { host, port } = this.#opts;
    const options = this.#opts.tls;
    // The socket reads into one buffer of its own (reused-reads.ts), so it makes its own TCP
    // connection: `onread` is ignored for a TLS socket laid over an existing one.
    const onread = reusedReads(() => socket);
    const tcp = { host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 30_000, onread };
    const socket: net.Socket = options
      ? tls.connect({ ...options, ...tcp } as tls.ConnectionOptions)
      : net.connect(tcp);
    const ready = options ? "secureConnect" : "connect";
    // Until the TCP connect; the TLS handshake after it is bounded by the dial's own timeout.
    const unanswered = setTimeout(() => {
      const err = new Error(`connect ETIMEDOUT ${this.#address}: no answer in ${CONNECT_ATTEMPT_MS} ms`);
      socket.destroy(Object.assign(err, { code: "ETIMEDOUT" }));
    }, CONNECT_ATTEMPT_MS);
    socket.once("connect", () => clearTimeout(unanswered));
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason as Error);
        signal.addEventListener("abort", onAbort, { once: true });
        socket.once(ready, () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        });
        socket.once("error", (err: Error) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        });
      });
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      clearTimeout(unanswered);
    }
    return socket;
  }
}
