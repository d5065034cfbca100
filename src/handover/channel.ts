// The handover conversation between the owner of a state directory and its successor, over
// `<STATE_DIR>/handover.sock` (mode 0600 in the 0700 state directory: only the daemon's user can
// ask). One JSON object per line:
//   successor → owner  {"op":"handover","pid":N}      owner: hold new calls, drain the ones in flight,
//   owner → successor  {"op":"released","unfinished":k}   close agent proxies and the ops port, unlock
//   successor → owner  {"op":"serving","socket":P}   successor: locked, recovered, its socket is at P
//   owner → successor  {"op":"done"}                  owner forwards the calls it held, stops listening
import { randomBytes } from "node:crypto";
import { chmod, lstat, rename, unlink } from "node:fs/promises";
import net from "node:net";
import { dirname, join } from "node:path";

export const HANDOVER_SOCKET = "handover.sock";
const MAX_LINE = 4096;

export function handoverSocketPath(stateDir: string): string {
  return join(stateDir, HANDOVER_SOCKET);
}

/** What the owner does when asked. */
export interface HandoverOwner {
  release(successorPid: number): Promise<{ unfinished: number }>;
  succeeded(socket: string): Promise<void>;
  /** The successor went away after the owner released: the owner cannot resume safely. */
  abandoned(): void;
}

type Message =
  | { op: "handover"; pid: number }
  | { op: "released"; unfinished: number }
  | { op: "serving"; socket: string }
  | { op: "done" }
  | { op: "error"; message: string };

/** Reads one JSON line at a time from `socket`; rejects on EOF or an oversized line. */
function lineReader(socket: net.Socket): () => Promise<Message> {
  let buf = "";
  const queue: Message[] = [];
  let waiter: { resolve(m: Message): void; reject(e: Error): void } | undefined;
  let failure: Error | undefined;
  const fail = (err: Error) => {
    failure ??= err;
    waiter?.reject(failure);
    waiter = undefined;
  };
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const msg = JSON.parse(line) as Message;
        if (waiter) {
          waiter.resolve(msg);
          waiter = undefined;
        } else queue.push(msg);
      } catch {
        fail(new Error("handover: malformed message"));
        socket.destroy();
      }
    }
    if (buf.length > MAX_LINE) {
      fail(new Error("handover: message too long"));
      socket.destroy();
    }
  });
  socket.on("error", (err) => fail(err));
  socket.on("close", () => fail(new Error("handover: the other daemon closed the connection")));
  return () => {
    const next = queue.shift();
    if (next) return Promise.resolve(next);
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => (waiter = { resolve, reject }));
  };
}

function send(socket: net.Socket, msg: Message): void {
  socket.write(JSON.stringify(msg) + "\n");
}

/** Owner side: listen on the handover socket and run at most one handover at a time. */
export async function serveHandover(path: string, owner: HandoverOwner): Promise<{ close(): Promise<void> }> {
  const existing = await lstat(path).catch(() => undefined);
  if (existing && !existing.isSocket())
    throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  // A socket left here is a dead owner's, or our predecessor's, which may be removing it right now:
  // the rename below replaces it atomically, with no unlink that could race with the predecessor's.
  let busy = false;
  const server = net.createServer((socket) => {
    socket.on("error", () => undefined);
    if (busy) {
      send(socket, { op: "error", message: "a handover is already in progress" });
      socket.end();
      return;
    }
    busy = true;
    void converse(socket, owner).then(
      () => undefined,
      (err: unknown) => {
        busy = false;
        send(socket, { op: "error", message: (err as Error).message });
        socket.end();
      },
    );
  });
  // Bound under a temporary name, then renamed into place: libuv unlinks the name a server was
  // bound to when it closes, and by the time a retired owner closes, its successor's socket is at
  // `path` (seen in the chaos harness: the third daemon of a rolling upgrade found no socket).
  const bound = join(dirname(path), `.handover-${process.pid}-${randomBytes(4).toString("hex")}`);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(bound, () => resolve());
  });
  try {
    await chmod(bound, 0o600);
    await rename(bound, path);
  } catch (err) {
    server.close();
    throw err;
  }
  const { ino } = await lstat(path);
  return {
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const st = await lstat(path).catch(() => undefined);
      if (st?.ino === ino) await unlink(path).catch(() => undefined);
    },
  };
}

async function converse(socket: net.Socket, owner: HandoverOwner): Promise<void> {
  const next = lineReader(socket);
  const ask = await next();
  if (ask.op !== "handover" || !Number.isInteger(ask.pid)) {
    send(socket, { op: "error", message: "expected a handover request" });
    socket.end();
    return;
  }
  const { unfinished } = await owner.release(ask.pid);
  // From here on the owner has let go; failures end in abandoned(), never in an error answer.
  send(socket, { op: "released", unfinished });
  let serving: Message;
  try {
    serving = await next();
  } catch {
    owner.abandoned();
    return;
  }
  if (serving.op !== "serving" || typeof serving.socket !== "string") {
    owner.abandoned();
    return;
  }
  await owner.succeeded(serving.socket);
  send(socket, { op: "done" });
  socket.end();
}

/** Successor side: one handover in progress. */
export interface HandoverRequest {
  /** Calls the owner could not finish within its drain bound (left for recovery). */
  unfinished: number;
  /** Tell the old owner we serve on `socket`; resolves once it forwarded what it held. */
  serving(socket: string): Promise<void>;
}

/** Ask the owner listening at `path` to hand over; resolves once it released the state directory. */
export async function requestHandover(path: string, timeoutMs: number): Promise<HandoverRequest> {
  const socket = net.connect(path);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const next = lineReader(socket);
  const timer = setTimeout(
    () => socket.destroy(new Error(`handover: no answer within ${timeoutMs} ms`)),
    timeoutMs,
  );
  send(socket, { op: "handover", pid: process.pid });
  let answer: Message;
  try {
    answer = await next();
  } finally {
    clearTimeout(timer);
  }
  if (answer.op === "error") throw new Error(`handover refused: ${answer.message}`);
  if (answer.op !== "released") throw new Error(`handover: unexpected answer ${answer.op}`);
  return {
    unfinished: answer.unfinished,
    async serving(path: string) {
      send(socket, { op: "serving", socket: path });
      const done = await next().catch(() => ({ op: "done" }));
      socket.end();
      if (done.op !== "done") throw new Error(`handover: unexpected answer ${done.op}`);
    },
  };
}
