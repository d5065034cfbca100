// Warm-pool mode of the forwarder, the unbound VM's side (protocol in src/userdata/pool.ts; the
// hook that decides is pool-bind.ts). It listens on the agent port with its bootstrap certificate,
// accepts clients whose certificate chains to the pool CA, and takes exactly one Bind carrying the
// pod's user-data. The bind writes and applies that user-data with the cold path's code (writeFiles,
// processInitdata), so the forwarder then starts exactly as after a cold boot. Before the bind no
// agent call is relayed; a bind for another VM (a replay) is refused. Nothing of a bind is logged
// but paths and the initdata digest. Loaded only by a pooled VM: a cold boot does not pay for it.
import type net from "node:net";
import tls from "node:tls";
import type { Logger } from "../log/logger.ts";
import { Code, TtrpcError, TtrpcServer } from "../ttrpc/index.ts";
import { parseUserData } from "../userdata/parse.ts";
import { PEERPOD_PATHS, WRITE_FILES_ALLOWLIST } from "../userdata/paths.ts";
import {
  POOL_METHODS,
  POOL_PATHS,
  POOL_SERVICE,
  bootstrapFingerprint,
  decodeBindRequest,
  encodeJson,
  type PoolBootstrap,
  type PoolVmState,
} from "../userdata/pool.ts";
import { processInitdata } from "./initdata.ts";
import { extendPcr8 } from "./pcr8.ts";
import { writeFiles } from "./provision.ts";
import { writeProvisioned } from "./write.ts";

export interface PoolBindOptions {
  rootDir: string;
  listen: { host: string | undefined; port: number };
  /** The VM's TPM (upstream extends PCR 8 with the initdata digest when there is one). */
  tpmDevice: string;
  logger: Logger;
  signal?: AbortSignal;
  /** Runs once the VM listens for its bind. */
  onListening?: () => void;
}

export class PoolBindError extends Error {
  override name = "PoolBindError";
}

/** Serve the unbound VM until one bind has been applied; resolves then, with the listener closed. */
export async function awaitPoolBind(bootstrap: PoolBootstrap, opts: PoolBindOptions): Promise<void> {
  const log = opts.logger.child({ stage: "pool-bind" });
  const self = bootstrapFingerprint(bootstrap["bootstrap-cert"]);
  let state = "unbound" as PoolVmState;
  let bound!: () => void;
  let failed!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => ((bound = resolve), (failed = reject)));

  const server = new TtrpcServer();
  server.register(POOL_SERVICE, {
    [POOL_METHODS.status]: () => encodeJson({ state, vm: self }),
    [POOL_METHODS.bind]: async (payload) => {
      if (state !== "unbound")
        throw new TtrpcError(Code.FailedPrecondition, `pod VM is ${state}: a VM takes one bind only`);
      let userData: string;
      try {
        const req = decodeBindRequest(payload);
        if (req.vm !== self)
          throw new TtrpcError(
            Code.PermissionDenied,
            `bind is for VM ${req.vm.slice(0, 16)}…, this is ${self.slice(0, 16)}…: refused`,
          );
        userData = req["user-data"];
      } catch (err) {
        if (err instanceof TtrpcError) throw err;
        throw new TtrpcError(Code.InvalidArgument, (err as Error).message);
      }
      let files;
      try {
        files = parseUserData(userData);
      } catch (err) {
        throw new TtrpcError(Code.InvalidArgument, `bind user-data: ${(err as Error).message}`);
      }
      if (!files.some((f) => f.path === PEERPOD_PATHS.apfConfig))
        throw new TtrpcError(Code.InvalidArgument, `bind user-data has no ${PEERPOD_PATHS.apfConfig}`);
      // From here the VM is spent: a bind that fails part-way leaves it for the daemon to delete.
      state = "binding";
      try {
        await writeProvisioned(opts.rootDir, POOL_PATHS.bound, "binding\n");
        const { written } = await writeFiles(opts.rootDir, files, WRITE_FILES_ALLOWLIST, log);
        const digest = await processInitdata(opts.rootDir, log);
        await extendPcr8(opts.tpmDevice, digest, log);
        await writeProvisioned(opts.rootDir, POOL_PATHS.bound, "bound\n");
        state = "bound";
        log.info({ files: written.length }, "bound to a pod");
        setImmediate(bound);
        return encodeJson({ "initdata-digest": digest, written });
      } catch (err) {
        state = "failed";
        const message = `bind failed: ${(err as Error).message}`;
        setImmediate(() => failed(new PoolBindError(message)));
        throw new TtrpcError(Code.Internal, message);
      }
    },
  });
  // The agent is not reachable before the bind: every other call is refused, none relayed.
  server.setFallback(async () => ({
    status: {
      code: Code.FailedPrecondition,
      message: "pod VM is not bound: agent calls are refused until the pool binds it to a pod",
      details: [],
    },
  }));

  const listener = tls.createServer(
    {
      cert: bootstrap["bootstrap-cert"],
      key: bootstrap["bootstrap-key"],
      ca: bootstrap["pool-ca"],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
      handshakeTimeout: 30_000,
    },
    (socket) => {
      socket.setNoDelay(true);
      server.serve(socket);
    },
  );
  listener.on("tlsClientError", (err: Error, socket: tls.TLSSocket) =>
    log.warn({ remote: socket.remoteAddress, err: err.message }, "pool bind: TLS handshake refused"),
  );
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen({ host: opts.listen.host, port: opts.listen.port }, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const port = (listener.address() as net.AddressInfo).port;
  log.info({ port, vm: self }, "pool VM unbound: waiting for a bind");
  opts.onListening?.();

  const onAbort = (): void => failed(new PoolBindError("stopped while waiting for a bind"));
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await done;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    // Free the port for the agent listener now; the bind's own connection gets a moment to read
    // its answer before it is dropped.
    listener.close();
    setTimeout(() => void server.close(), 2000).unref();
    if (state !== "bound") await server.close();
  }
}
