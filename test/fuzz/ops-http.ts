// Fuzz target: the ops HTTP API (src/ops: probes, metrics, admin, pool) served by the real server on
// 127.0.0.1. Each input is raw bytes on a fresh TCP connection (random methods, paths, versions,
// headers, bodies, chunked encodings, huge headers, pipelined requests), then a half-close. The
// server must answer (never a 500, a 4xx from a handler has a body) or close, within the bound.
// After each batch it still serves /healthz and holds no connection of the batch; a group of
// slowloris connections (a partial request, then silence) is opened once and must be closed by the
// server after its idle timeout while it keeps serving others.
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Metrics } from "../../src/ops/metrics.ts";
import { OPS_IDLE_TIMEOUT_MS, startOpsServer } from "../../src/ops/server.ts";
import { StartupCheck } from "../../src/ops/startup.ts";
import { FakeSandboxSource, sandboxView } from "../helpers/sandbox-source.ts";
import type { FuzzTarget } from "./driver.ts";
import { nastyString, type Rng } from "./mutator.ts";

const PATHS = [
  "/healthz",
  "/readyz",
  "/startup",
  "/metrics",
  "/v1/sandboxes",
  "/v1/pool",
  "/v1/cloud-api",
  "/",
  "*",
];
const METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
  "CONNECT",
  "TRACE",
  "get",
  "PRI",
];
const SLOW_CONNECTIONS = 16;

/** Every byte of the UTF-8 (lone surrogates become U+FFFD) as %XX. */
function percentEncode(s: string): string {
  return Buffer.from(s).toString("hex").replace(/../g, "%$&");
}

function requestPath(rng: Rng): string {
  const r = rng.next();
  if (r < 0.4) return rng.pick(PATHS);
  if (r < 0.7) {
    const id = rng.chance(0.5)
      ? percentEncode(nastyString(rng, 512))
      : nastyString(rng, 512).replace(/[\s]/g, "");
    return `/v1/${rng.pick(["sandboxes", "pool"])}/${id}`;
  }
  if (r < 0.8) return `${rng.pick(PATHS)}?${nastyString(rng, 256).replace(/\s/g, "")}`;
  if (r < 0.9) return `/${"%".repeat(rng.size(8))}${"a".repeat(rng.size(rng.chance(0.2) ? 100_000 : 64))}`;
  return nastyString(rng, 128).replace(/[\r\n ]/g, "");
}

function header(rng: Rng, bodyLength: number): string {
  return rng.pick<() => string>([
    () =>
      `Content-Length: ${rng.pick([String(bodyLength), "-1", "abc", "99999999999999999999", "0", `${bodyLength + 10}`])}`,
    () => "Transfer-Encoding: chunked",
    () =>
      `Content-Type: ${rng.pick(["application/json", "text/plain", "multipart/form-data; boundary=x", nastyString(rng, 64)])}`,
    () =>
      `X-${nastyString(rng, 32).replace(/[\r\n:]/g, "")}: ${nastyString(rng, 256).replace(/[\r\n]/g, "")}`,
    () => `X-Big: ${"b".repeat(rng.size(64 * 1024))}`,
    () => `Host: ${rng.pick(["127.0.0.1", "", "a".repeat(300)])}`,
    () => `Connection: ${rng.pick(["close", "keep-alive", "upgrade"])}`,
    () => `Expect: 100-continue`,
    () => nastyString(rng, 64),
  ])();
}

function request(rng: Rng): string {
  const body = rng.chance(0.3)
    ? rng.chance(0.5)
      ? JSON.stringify({ a: nastyString(rng, 256) })
      : nastyString(rng, 4096)
    : "";
  const headers = Array.from({ length: rng.size(12) }, () => header(rng, Buffer.byteLength(body)));
  const version = rng.pick([
    "HTTP/1.1",
    "HTTP/1.1",
    "HTTP/1.0",
    "HTTP/2.0",
    "HTTP/9",
    "",
    nastyString(rng, 16),
  ]);
  const eol = rng.chance(0.9) ? "\r\n" : rng.pick(["\n", "\r", ""]);
  const chunked = headers.includes("Transfer-Encoding: chunked")
    ? `${rng.pick(["5", "zz", "ffffffffff", "0"])}\r\n${body}\r\n0\r\n\r\n`
    : body;
  return `${rng.pick(METHODS)} ${requestPath(rng)} ${version}${eol}${headers.join(eol)}${eol}${eol}${chunked}`;
}

function generate(rng: Rng): Buffer {
  const n = 1 + rng.size(4);
  let text = "";
  for (let i = 0; i < n; i++) text += request(rng);
  if (rng.chance(0.1)) text = text.slice(0, rng.int(text.length));
  return Buffer.from(text, rng.chance(0.1) ? "latin1" : "utf8");
}

/** Writes `input`, half-closes, collects the answer until the server closes (or the bound passes). */
function exchange(
  port: number,
  input: Buffer,
  boundMs: number,
): Promise<{ answer: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    let answer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ answer, closed: false });
    }, boundMs);
    socket.on("data", (d: Buffer) => (answer += d.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ answer, closed: true });
    });
    socket.on("connect", () => socket.end(input));
  });
}

/** Each response's status and body (bodies by Content-Length; good enough for the checks below). */
function responses(answer: string): { status: number; body: string; fromHandler: boolean }[] {
  const out: { status: number; body: string; fromHandler: boolean }[] = [];
  let rest = answer;
  for (;;) {
    const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(rest);
    if (!m) return out;
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return out;
    const head = rest.slice(0, end);
    const len = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? "0");
    const body = rest.slice(end + 4, end + 4 + len);
    out.push({ status: Number(m[1]), body, fromHandler: /\r\ncontent-type:/i.test(head) });
    rest = rest.slice(end + 4 + len);
  }
}

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer within 5 s`)));
    req.on("error", reject);
  });
}

function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
}

async function settleTo(baseline: number, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (tcpSockets() > baseline) {
    if (Date.now() > deadline)
      throw new Error(`${what}: ${tcpSockets() - baseline} TCP connection(s) still open`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const opsHttpTarget: FuzzTarget = {
  name: "ops-http",
  timeoutMs: 15_000,
  batch: 100,
  maxInputBytes: 256 * 1024,
  open: async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "caa-fuzz-ops-"));
    const socketPath = path.join(dir, "hv.sock");
    const hv = net.createServer((c) => c.end());
    await new Promise<void>((r) => hv.listen(socketPath, r));
    const source = new FakeSandboxSource()
      .add(
        sandboxView("a".repeat(64), {
          stage: "running",
          instanceId: "i-0123456789abcdef0",
          ips: ["10.0.0.5"],
        }),
      )
      .add(
        sandboxView("b".repeat(64), {
          stage: "failed",
          lastError: { stage: "provisioning", message: "capacity", code: "InsufficientInstanceCapacity" },
        }),
      );
    const drains: string[] = [];
    const pool = { list: () => [], drain: async () => (drains.push("drain"), 0) };
    const ops = await startOpsServer({
      port: 0,
      source,
      metrics: new Metrics(),
      startup: new StartupCheck({ socketPath }),
      pool,
    });
    const port = Number(new URL(ops.address).port);
    const baseline = tcpSockets();
    const slow: { socket: net.Socket; closedAt?: number }[] = [];
    let slowSince = 0;
    const checkSlow = (final: boolean): void => {
      if (slow.length === 0) return;
      const overdue = Date.now() - slowSince > OPS_IDLE_TIMEOUT_MS + 10_000;
      const open = slow.filter((s) => s.closedAt === undefined).length;
      if ((overdue || final) && open > 0)
        throw new Error(
          `${open}/${SLOW_CONNECTIONS} slowloris connections still open ${Date.now() - slowSince} ms after their partial request: ${slow.map((s, i) => (s.closedAt === undefined ? i : "")).join(",")}`,
        );
    };
    return {
      generate,
      run: async (input) => {
        const { answer, closed } = await exchange(port, input, 10_000);
        // A HEAD answer has no body by definition.
        const heads = input.includes("HEAD ");
        for (const r of responses(answer)) {
          if (r.status === 500) throw new Error(`500 from the ops API: ${r.body.slice(0, 300)}`);
          if (r.status >= 400 && r.fromHandler && r.body === "" && !heads)
            throw new Error(`${r.status} without a body`);
        }
        if (
          !closed &&
          answer === "" &&
          input.includes("\r\n\r\n") &&
          /^(GET|HEAD) \/\S* HTTP\/1\.1\r\n/.test(input.toString("latin1"))
        )
          throw new Error("a complete request got neither an answer nor a close within 10 s");
      },
      check: async () => {
        const status = await get(`${ops.address}/healthz`);
        if (status !== 200) throw new Error(`/healthz answered ${status} after the batch`);
        if (slow.length === 0) {
          slowSince = Date.now();
          for (let i = 0; i < SLOW_CONNECTIONS; i++) {
            const socket = net.connect({ port, host: "127.0.0.1" });
            const entry: { socket: net.Socket; closedAt?: number } = { socket };
            socket.on("error", () => undefined);
            socket.on("close", () => (entry.closedAt = Date.now()));
            socket.resume();
            socket.write(
              i % 2 === 0
                ? "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                : "POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
            );
            slow.push(entry);
          }
          if ((await get(`${ops.address}/readyz`)) === 0)
            throw new Error("no answer while slowloris connections wait");
        } else {
          // Both ends of each slowloris connection still open are sockets of this process.
          await settleTo(
            baseline + 2 * slow.filter((s) => s.closedAt === undefined).length,
            "after the batch",
          );
          checkSlow(false);
        }
      },
      close: async () => {
        try {
          const until = slowSince + OPS_IDLE_TIMEOUT_MS + 10_000;
          while (slow.some((s) => s.closedAt === undefined) && Date.now() < until)
            await new Promise((r) => setTimeout(r, 100));
          checkSlow(true);
        } finally {
          for (const s of slow) s.socket.destroy();
          await ops.close();
          await new Promise<void>((r) => hv.close(() => r()));
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  },
};
