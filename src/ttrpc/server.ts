// ttrpc server: listens on a unix socket (or serves sockets accepted elsewhere, e.g. TLS) and dispatches
// calls to registered services (containerd/ttrpc server.go).
import { chmod, lstat, mkdir, rename, unlink } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import type { Duplex } from "node:stream";
import { ServerConnection } from "./connection.ts";
import { ServiceSet } from "./services.ts";
import type { FallbackHandler, ServiceDefinition, ServiceImpl, UnaryHandler } from "./services.ts";

export interface ListenOptions {
  /** Permission bits of the socket file; default 0o600. */
  mode?: number;
}

let tmpCounter = 0;

export class TtrpcServer {
  private readonly services = new ServiceSet();
  private readonly connections = new Set<ServerConnection>();
  private listener: net.Server | undefined;
  /** The socket file we created, identified by inode so a successor's socket at the same path is left alone. */
  private socketFile: { path: string; ino: number } | undefined;
  private closing = false;

  /** Raw handlers by ttrpc method name, e.g. register("test.Echo", { Echo: (payload) => payload }). */
  register(service: string, methods: Record<string, UnaryHandler>): void {
    this.services.register(service, methods);
  }

  /** Typed handlers from a ts-proto generic definition; an undecodable payload is answered with 3. */
  registerService<D extends ServiceDefinition>(def: D, impl: ServiceImpl<D>): void {
    this.services.registerService(def, impl);
  }

  /** Handles every call whose service is not registered (the agent proxy relays them). */
  setFallback(handler: FallbackHandler | undefined): void {
    this.services.setFallback(handler);
  }

  /**
   * Like CAA's server: mkdir -p the directory and replace a stale socket. The socket is bound under a temporary
   * name, chmod-ed, then renamed into place, so the path never holds a socket with the wrong mode and a stale one
   * is swapped atomically. (It also keeps libuv, which unlinks the bound name on close, away from the real path.)
   */
  async listen(socketPath: string, opts: ListenOptions = {}): Promise<void> {
    if (this.listener || this.closing) throw new Error(`ttrpc: server already listening or closed`);
    const dir = path.dirname(socketPath);
    await mkdir(dir, { recursive: true });
    const existing = await lstat(socketPath).catch(() => undefined);
    if (existing && !existing.isSocket()) {
      throw new Error(`ttrpc: ${socketPath} exists and is not a socket; refusing to replace it`);
    }
    const tmpPath = path.join(dir, `.t${process.pid.toString(36)}${(tmpCounter++).toString(36)}`);
    await unlink(tmpPath).catch(() => undefined);
    const listener = net.createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(tmpPath, () => {
        listener.off("error", reject);
        resolve();
      });
    });
    listener.on("error", () => undefined);
    try {
      await chmod(tmpPath, opts.mode ?? 0o600);
      await rename(tmpPath, socketPath);
    } catch (err) {
      listener.close();
      throw err;
    }
    this.listener = listener;
    this.socketFile = { path: socketPath, ino: (await lstat(socketPath)).ino };
  }

  /** Serves one already-connected stream: a unix or TCP socket, or a TLS socket after its handshake. */
  serve(socket: net.Socket | Duplex): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn = new ServerConnection(socket, this.services);
    this.connections.add(conn);
    void conn.done.then(() => this.connections.delete(conn));
  }

  /**
   * Stops accepting new connections and removes the socket file if still ours (a successor may have
   * renamed its own over it); connections already accepted keep being served.
   */
  async stopListening(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    // close()'s callback waits for every accepted connection to end; those are served on regardless.
    listener?.close();
    const file = this.socketFile;
    this.socketFile = undefined;
    if (file) {
      const st = await lstat(file.path).catch(() => undefined);
      if (st?.ino === file.ino) await unlink(file.path).catch(() => undefined);
    }
  }

  /** Stops accepting, aborts in-flight handlers, drops connections, removes the socket file if still ours. */
  async close(): Promise<void> {
    this.closing = true;
    const stopped = this.stopListening();
    for (const conn of this.connections) conn.close();
    await Promise.all([stopped, ...[...this.connections].map((c) => c.done)]);
  }
}
