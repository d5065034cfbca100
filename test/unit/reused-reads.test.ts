// Reads into one reused buffer per connection (src/relay/reused-reads.ts) over real unix and TLS
// sockets, dialled (`onread`) and accepted (adoptReusedReads): what the peer sends before anyone
// listens is kept and comes first, everything arrives in order, and a paused socket stops reading
// until resumed.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import tls from "node:tls";
import { adoptReusedReads, reusedReads } from "../../src/relay/reused-reads.ts";
import { CertAuthority } from "../../src/tls/index.ts";

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

/**
 * Reads `socket` to its end, pausing it for 100 ms after the second read. `others`: reads not in the
 * buffer most reads came in (copies of reads held across the pause).
 */
async function readPausing(
  socket: net.Socket,
): Promise<{ data: Buffer; others: number; pausedReads: number }> {
  const buffers = new Map<ArrayBufferLike, number>();
  const got: Buffer[] = [];
  let pausedReads = 0;
  let paused = false;
  socket.on("data", (chunk: Buffer) => {
    if (paused) pausedReads++;
    buffers.set(chunk.buffer, (buffers.get(chunk.buffer) ?? 0) + 1);
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
  return { data: Buffer.concat(got), others: got.length - Math.max(...buffers.values()), pausedReads };
}

test("the chunks are views of one buffer; pause stops reading and resume goes on", async () => {
  const data = pattern(1 << 20, 3);
  const { path: p, server } = await serve("pause.sock", (s) => s.end(data));
  const socket: net.Socket = net.createConnection({ path: p, onread: reusedReads(() => socket) });
  const got = await readPausing(socket);
  assert.equal(got.pausedReads, 0, "no read while paused");
  assert.ok(got.others <= 4, `reads land in one buffer (${got.others} held copies)`);
  assert.ok(got.data.equals(data));
  socket.destroy();
  server.close();
});

test("an accepted unix socket adopts a reused buffer: one buffer, pause holds, all in order", async () => {
  const data = pattern(1 << 20, 4);
  let result: Promise<Awaited<ReturnType<typeof readPausing>>> | undefined;
  let adopted: boolean[] = [];
  const { path: p, server } = await serve("accepted.sock", (s) => {
    adopted = [adoptReusedReads(s), adoptReusedReads(s)];
    result = readPausing(s);
  });
  const client = net.createConnection({ path: p });
  client.end(data);
  await once(client, "finish");
  while (!result) await new Promise((r) => setTimeout(r, 5));
  const got = await result;
  assert.deepEqual(adopted, [true, false], "taken once, refused the second time");
  assert.equal(got.pausedReads, 0, "no read while paused");
  assert.ok(got.others <= 4, `reads land in one buffer (${got.others} held copies)`);
  assert.ok(got.data.equals(data));
  client.destroy();
  server.close();
});

test("a socket that already holds queued bytes is left as it is and loses nothing", async () => {
  const data = pattern(200_000, 5);
  let result: Promise<{ adopted: boolean; data: Buffer }> | undefined;
  const { path: p, server } = await serve("queued.sock", (s) => {
    // Nobody listens for a while: the stream reads and queues what arrives.
    result = new Promise((r) => setTimeout(r, 150)).then(async () => {
      assert.ok(s.readableLength > 0, "bytes are queued");
      const adopted = adoptReusedReads(s);
      const got: Buffer[] = [];
      s.on("data", (c: Buffer) => got.push(Buffer.from(c)));
      await once(s, "end");
      return { adopted, data: Buffer.concat(got) };
    });
  });
  const client = net.createConnection({ path: p });
  client.write(data.subarray(0, 1000));
  await new Promise((r) => setTimeout(r, 300));
  client.end(data.subarray(1000));
  while (!result) await new Promise((r) => setTimeout(r, 5));
  const got = await result;
  assert.equal(got.adopted, false);
  assert.ok(got.data.equals(data));
  client.destroy();
  server.close();
});

test("a tls.Server's socket adopts a reused buffer: the bytes right after the handshake come first", async () => {
  const ca = await CertAuthority.loadOrCreate(path.join(dir, "tls"));
  const cert = await ca.issueServerCert("reads.test");
  const data = pattern(3 << 20, 6);
  let result: Promise<Awaited<ReturnType<typeof readPausing>>> | undefined;
  let adopted = false;
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => {
    adopted = adoptReusedReads(s);
    result = readPausing(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  const client = tls.connect({ host: "127.0.0.1", port, ca: ca.caCertPem, servername: "reads.test" });
  // Written before the handshake completes: it leaves right behind the client's Finished.
  client.end(data);
  await once(client, "finish");
  while (!result) await new Promise((r) => setTimeout(r, 5));
  const got = await result;
  assert.equal(adopted, true);
  assert.equal(got.pausedReads, 0, "no read while paused");
  assert.ok(got.others <= 4, `reads land in one buffer (${got.others} held copies)`);
  assert.ok(got.data.equals(data));
  client.destroy();
  server.close();
});
