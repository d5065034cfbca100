// The pod VM side (upstream's process-user-data + agent-protocol-forwarder; docs/upstream-compat.md §5):
// provision files from the user-data, load apf.json, set up the pod network, then accept the
// daemon's mTLS connections on :15150 and relay their agent calls to the kata agent socket.
import { readFile } from "../util/lean-fs.ts";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { AGENT_SERVICES } from "../relay/agent.ts";
import { AgentRelay } from "../relay/relay.ts";
import { reusedReads } from "../relay/reused-reads.ts";
import { parseFlags, resolve } from "../config/options.ts";
import type { Logger } from "../log/logger.ts";
import { buildServerTls } from "../tls/server.ts";
import { parseApfJson, type ApfConfig } from "../userdata/apf-config.ts";
import { PEERPOD_PATHS } from "../userdata/paths.ts";
import { CloudVolumeMounter } from "./cloud-volumes.ts";
import { vmEdits } from "./edits.ts";
import { parseListenAddress } from "./listen.ts";
import { FORWARDER_OPTIONS, type ForwarderConfig } from "./options.ts";
import type { PodNetworkHandle } from "./pod-network.ts";
import { bindIfPooled } from "./pool-bind.ts";

export class ForwarderError extends Error {
  override name = "ForwarderError";
}

export interface ForwarderHandle {
  /** The address actually bound, e.g. 127.0.0.1:40123. */
  readonly address: string;
  readonly port: number;
  readonly config: ApfConfig;
  /** Stops listening, drops connections, tears the pod network down. Idempotent. */
  close(): Promise<void>;
}

/**
 * Flags as upstream's (`-listen 0.0.0.0:15150 …`), or an already resolved (partial) config.
 * `onReady` runs once, when the forwarder first listens: on the agent port, or on a warm-pool VM on
 * the same port for its bind (which may come much later).
 */
export async function runForwarder(
  args: readonly string[] | Partial<ForwarderConfig>,
  logger: Logger,
  opts: { signal?: AbortSignal; onReady?: () => void } = {},
): Promise<ForwarderHandle> {
  const cfg = Array.isArray(args)
    ? resolve(FORWARDER_OPTIONS, { env: {}, flags: parseFlags(args, [FORWARDER_OPTIONS]) })
    : { ...resolve(FORWARDER_OPTIONS, { env: {}, flags: {} }), ...(args as Partial<ForwarderConfig>) };
  const log = logger.child({ component: "forwarder" });
  const listenAt = parseListenAddress(cfg.listen);

  if (!cfg.skipProvision) {
    // process-user-data's step (YAML, TOML, gzip) loads only when it runs; upstream runs it as a
    // unit of its own before the forwarder, and measures the initdata after it (pcr8.ts).
    const { provisionFiles, provisionOptions } = await import("./provision.ts");
    const { initdataDigest } = await provisionFiles(provisionOptions(cfg, log));
    // A warm-pool VM has no initdata yet: its bind measures the pod's.
    if (initdataDigest !== "") {
      const { extendPcr8Once } = await import("./pcr8.ts");
      await extendPcr8Once(cfg.rootDir, cfg.tpmDevice, initdataDigest, log);
    }
  }
  const configPath = cfg.config !== "" ? cfg.config : path.join(cfg.rootDir, PEERPOD_PATHS.apfConfig);
  let ready = false;
  const onReady = (): void => {
    if (!ready) opts.onReady?.();
    ready = true;
  };
  await bindIfPooled(cfg, listenAt, log, opts.signal, onReady);
  const apf = await loadApfConfig(configPath);
  const serverTls = buildServerTls(cfg, {
    tlsServerCert: apf["tls-server-cert"],
    tlsServerKey: apf["tls-server-key"],
    tlsClientCa: apf["tls-client-ca"],
    tlsMinVersion: apf["tls-min-version"],
    tlsCipherSuites: apf["tls-cipher-suites"],
  });
  log.info({ pod: apf["pod-name"], namespace: apf["pod-namespace"] }, `loaded ${configPath}`);

  const podNsPath = cfg.podNamespace.includes("/") ? cfg.podNamespace : `/run/netns/${cfg.podNamespace}`;
  let network: PodNetworkHandle | undefined;
  if (apf["pod-network"] !== null && !cfg.noPodNetwork) {
    const { startPodNetwork } = await import("./pod-network.ts");
    network = await startPodNetwork(apf["pod-network"], cfg, log);
  } else {
    log.info(cfg.noPodNetwork ? "pod network disabled (-no-pod-network)" : "apf.json has no pod-network");
  }

  const relay = new AgentRelay({
    target: cfg.kataAgentSocket,
    dialOnce: (signal) => dialUnix(cfg.kataAgentSocket, signal),
    services: AGENT_SERVICES,
    edits: vmEdits(podNsPath, {
      root: cfg.rootDir,
      mounter: new CloudVolumeMounter(cfg.rootDir, {
        attempts: cfg.diskDetectAttempts,
        delayMs: cfg.diskDetectDelay,
      }),
    }),
    redialTimeoutMs: cfg.agentDialTimeout,
    logger: log,
  });
  // Dial early so the first call does not wait; a failure here is retried by that call.
  relay
    .connect(cfg.agentDialTimeout)
    .catch((err: unknown) =>
      log.warn({ err: (err as Error).message }, `kata agent at ${cfg.kataAgentSocket} not reachable yet`),
    );

  let listener: net.Server;
  const sockets = new Set<net.Socket>();
  try {
    listener = await listen(serverTls, listenAt, relay, log);
    // Connections still in their TLS handshake are not the relay's yet: close() ends them too.
    listener.on("connection", (socket: net.Socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    });
  } catch (err) {
    relay.close();
    await network?.close();
    throw new ForwarderError(`forwarder: cannot listen on ${cfg.listen}: ${(err as Error).message}`);
  }
  const bound = listener.address() as net.AddressInfo;
  const address =
    bound.family === "IPv6" ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  log.info({ tls: serverTls !== null, mutual: serverTls?.requestCert === true }, `listening on ${address}`);
  onReady();

  let closing: Promise<void> | undefined;
  return {
    address,
    port: bound.port,
    config: apf,
    close: () =>
      (closing ??= (async () => {
        // relay.close() ends the served connections; listener.close() alone would wait for them.
        const stopped = new Promise<void>((done) => listener.close(() => done()));
        for (const socket of sockets) socket.destroy();
        relay.close();
        await stopped;
        await network?.close();
        log.info("forwarder stopped");
      })()),
  };
}

async function loadApfConfig(file: string): Promise<ApfConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "file not found (it comes from the user-data's write_files)" : String(code);
    throw new ForwarderError(`forwarder: cannot read config ${file}: ${why}`);
  }
  try {
    return parseApfJson(text);
  } catch (err) {
    throw new ForwarderError(`forwarder: malformed config ${file}: ${(err as Error).message}`);
  }
}

function dialUnix(socketPath: string, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolveSocket, reject) => {
    // Reads into one buffer of its own (reused-reads.ts): the agent's answers come in many small reads.
    const socket: net.Socket = net.createConnection({ path: socketPath, onread: reusedReads(() => socket) });
    const onAbort = (): void => {
      socket.destroy();
      reject(signal.reason as Error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => {
      signal.removeEventListener("abort", onAbort);
      resolveSocket(socket);
    });
    socket.once("error", (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(err);
    });
  });
}

function listen(
  serverTls: tls.TlsOptions | null,
  at: { host: string | undefined; port: number },
  relay: AgentRelay,
  log: Logger,
): Promise<net.Server> {
  const listener = serverTls
    ? tls.createServer({ ...serverTls, handshakeTimeout: 30_000, allowHalfOpen: true }, (socket) => {
        socket.setNoDelay(true);
        relay.serve(socket);
      })
    : net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => relay.serve(socket));
  // Half-open (allowHalfOpen): the daemon's FIN still gets the answers to its calls in flight.
  // A refused or garbled handshake costs only that connection; Node has already destroyed it.
  listener.on("tlsClientError", (err: Error, socket: tls.TLSSocket) =>
    log.warn({ remote: socket.remoteAddress, err: err.message }, "TLS handshake refused"),
  );
  return new Promise((resolveListener, reject) => {
    listener.once("error", reject);
    listener.listen({ host: at.host, port: at.port }, () => {
      listener.off("error", reject);
      listener.on("error", (err: Error) => log.error({ err: err.message }, "listener error"));
      resolveListener(listener);
    });
  });
}
