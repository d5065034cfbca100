// Reads into one reused buffer per connection (src/relay/reused-reads.ts) over a real unix socket:
// what the peer sends before anyone listens is kept and comes first, everything arrives in order,
// and a paused socket stops reading until resumed.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { reusedReads } from "../../src/relay/reused-reads.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "reused-reads-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pattern = (n: number, seed: number): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

async function serve(
  name: string,
  onConnection: (s: net.Socket) => void,
): Promise<{ path: string; server: net.Server }> {
  const server = net.createServer(onConnection);
  const p = path.join(dir, name);
  await new Promise<void>((resolve) => server.listen(p, resolve));
  return { path: p, server };
}

test("bytes sent before the first 'data' listener are kept, then everything arrives in order", async () => {
  const early = pattern(3000, 1);
  const late = pattern(300_000, 2);
  let peer: net.Socket | undefined;
  const { path: p, server } = await serve("early.sock", (s) => {
    peer = s;
    s.write(early);
  });
  const socket: net.Socket = net.createConnection({ path: p, onread: reusedReads(() => socket) });
  await once(socket, "connect");
  // Let the early bytes be read while nobody listens.
  await new Promise((r) => setTimeout(r, 100));
  const got: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => got.push(Buffer.from(chunk)));
  peer!.end(late);
  await once(socket, "end");
  assert.ok(Buffer.concat(got).equals(Buffer.concat([early, late])));
  socket.destroy();
  server.close();
});

test("the chunks are views of one buffer; pause stops reading and resume goes on", async () => {
  const data = pattern(1 << 20, 3);
  const { path: p, server } = await serve("pause.sock", (s) => s.end(data));
  const socket: net.Socket = net.createConnection({ path: p, onread: reusedReads(() => socket) });
  const buffers = new Set<ArrayBufferLike>();
  const got: Buffer[] = [];
  let pausedReads = 0;
  let paused = false;
  socket.on("data", (chunk: Buffer) => {
    if (paused) pausedReads++;
    buffers.add(chunk.buffer);
    got.push(Buffer.from(chunk));
    if (got.length === 2) {
      socket.pause();
      paused = true;
      setTimeout(() => {
        paused = false;
        socket.resume();
      }, 100);
    }
  });
  await once(socket, "end");
  assert.equal(pausedReads, 0, "no read while paused");
  assert.equal(buffers.size, 1, "every read lands in the same buffer");
  assert.ok(Buffer.concat(got).equals(data));
  socket.destroy();
  server.close();
});
