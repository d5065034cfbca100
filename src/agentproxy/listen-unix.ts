// The agent socket as upstream's proxy makes it (CAA proxy.go Start: MkdirAll, remove a stale socket,
// listen), with the mode set before the path appears: bind under a temporary name, chmod, rename.
// The file calls are made in place (util/private-dir.ts says why).
import { chmodSync, lstatSync, renameSync, unlinkSync } from "node:fs";
import { ensurePrivateDir } from "../util/private-dir.ts";
import net from "node:net";
import path from "node:path";

export interface UnixListener {
  close(): Promise<void>;
}

let counter = 0;

export async function listenUnix(
  socketPath: string,
  mode: number,
  onConnection: (socket: net.Socket) => void,
): Promise<UnixListener> {
  const dir = path.dirname(socketPath);
  // The sandbox's directory under PODS_DIR: never a symlink (its target would get the socket).
  await ensurePrivateDir(dir);
  const existing = lstatSync(socketPath, { throwIfNoEntry: false });
  if (existing && !existing.isSocket())
    throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  const tmp = path.join(dir, `.agent-${process.pid.toString(36)}-${(counter++).toString(36)}`);
  // Half-open: a shim that shuts down its write side still gets the answers to its calls.
  const server = net.createServer({ allowHalfOpen: true }, onConnection);
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(tmp, () => {
        server.off("error", reject);
        resolve();
      });
    });
  // A socket at the temp name is one a crashed process of the same pid left: replaced, and only
  // then (an unlink of a name that is almost never there cost a call per sandbox).
  await listen().catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== "EADDRINUSE") throw err;
    unlinkSync(tmp);
    await listen();
  });
  try {
    chmodSync(tmp, mode);
    renameSync(tmp, socketPath);
  } catch (err) {
    server.close();
    throw err;
  }
  const { ino } = lstatSync(socketPath);
  return {
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Only our socket: a successor may already have bound the same path.
      const st = lstatSync(socketPath, { throwIfNoEntry: false });
      if (st?.ino !== ino) return;
      try {
        unlinkSync(socketPath);
      } catch {
        // Gone already, or no longer ours to remove: either way nothing is left to do.
      }
    },
  };
}
