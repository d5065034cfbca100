// An HTTP proxy between the AWS SDK and moto that injects the faults EC2 shows under load
// (docs/background.md §0): RequestLimitExceeded (HTTP 503, EC2 XML error), a plain
// 503, InsufficientInstanceCapacity (HTTP 500) and dropped connections, either before the
// request reaches moto or after moto has acted on it (the ambiguous case). Counts calls per
// EC2 Action. With `buckets` it also enforces EC2's published request-rate token buckets
// (ec2-buckets.ts), answering RequestLimitExceeded as EC2 does. A slow answer ("slow") holds the
// call for `slowMs` before forwarding it. Run as a program
// (`node fault-proxy.ts --target URL [--ec2-buckets]`) it prints its URL and serves the counters
// at GET /__proxy/counts, so that a benchmark can keep it out of its own CPU time.
import { randomUUID } from "node:crypto";
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import { Ec2Buckets } from "./ec2-buckets.ts";
import { prng } from "./prng.ts";

export type Fault = "throttle" | "unavailable" | "capacity" | "drop-before" | "drop-after" | "slow";

export interface FaultPlan {
  /** Share of calls in [0, 1] that get a fault. */
  rate?: number;
  /** Faults picked uniformly when a call is hit (default: all but capacity). */
  faults?: readonly Fault[];
  /** Only these actions get faults (default: all). */
  actions?: readonly string[];
  /** Faults that only hit some actions (e.g. capacity: ["RunInstances"]); a hit picks among the rest. */
  only?: Partial<Record<Fault, readonly string[]>>;
  /**
   * Scripted plan, consulted first: the fault for the n-th call (1-based) of an action, which may
   * look at the call's parameters (e.g. RunInstances' InstanceType).
   */
  script?: (action: string, n: number, params: URLSearchParams) => Fault | undefined;
  /** Seed of the pseudo-random choice, for reproducible runs. */
  seed?: number;
  /** Enforce EC2's request-rate buckets (fresh, full buckets each time a plan is set). */
  buckets?: boolean;
  /** How long a "slow" call is held before it is forwarded (default 2000 ms). */
  slowMs?: number;
}

export interface FaultProxy {
  url: string;
  port: number;
  /** Calls received per Action, faulted ones included. */
  counts(): Record<string, number>;
  /** Faults injected per kind. */
  injected(): Record<string, number>;
  /** Calls refused by the EC2 buckets, per Action. */
  throttled(): Record<string, number>;
  /**
   * Creates that asked RunInstances for each InstanceType: a ClientToken counts once per type,
   * however often it is retried (faulted and refused calls included).
   */
  runInstanceTypes(): Record<string, number>;
  setPlan(plan: FaultPlan): void;
  resetCounts(): void;
  stop(): Promise<void>;
}

const DEFAULT_FAULTS: readonly Fault[] = ["throttle", "unavailable", "drop-before", "drop-after"];

export function ec2ErrorXml(code: string, message: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code>` +
    `<Message>${message}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`
  );
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function formOf(req: IncomingMessage, body: Buffer): URLSearchParams {
  const form = new URLSearchParams(body.toString("utf8"));
  return form.has("Action") ? form : new URL(req.url ?? "/", "http://x").searchParams;
}

interface Upstream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function forward(target: URL, agent: Agent, req: IncomingMessage, body: Buffer): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const up = request(
      {
        hostname: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, "content-length": String(body.length) },
        agent,
      },
      (res) => {
        readBody(res).then(
          (b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }),
          reject,
        );
      },
    );
    up.on("error", reject);
    up.end(body);
  });
}

function reply(res: ServerResponse, status: number, body: string, type: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export async function startFaultProxy(target: string, initial: FaultPlan = {}): Promise<FaultProxy> {
  const targetUrl = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let plan = initial;
  let random = prng(plan.seed ?? 1);
  let buckets = plan.buckets ? new Ec2Buckets() : undefined;
  const counts: Record<string, number> = {};
  const injected: Record<string, number> = {};
  const throttled: Record<string, number> = {};
  const runTypes: Record<string, number> = {};
  const runKeys = new Set<string>();

  const choose = (action: string, n: number, params: URLSearchParams): Fault | undefined => {
    const scripted = plan.script?.(action, n, params);
    if (scripted) return scripted;
    if (!plan.rate || (plan.actions && !plan.actions.includes(action))) return undefined;
    if (random() >= plan.rate) return undefined;
    const faults = (plan.faults ?? DEFAULT_FAULTS).filter((f) => plan.only?.[f]?.includes(action) ?? true);
    return faults.length > 0 ? faults[Math.floor(random() * faults.length)] : undefined;
  };

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (req.method === "GET" && req.url === "/__proxy/counts") {
        reply(res, 200, JSON.stringify({ counts, injected, throttled }), "application/json");
        return;
      }
      const form = formOf(req, body);
      const action = form.get("Action") ?? "Unknown";
      const n = (counts[action] = (counts[action] ?? 0) + 1);
      if (action === "RunInstances") {
        // A retried request carries its create's ClientToken again: counted once.
        const type = form.get("InstanceType") ?? "";
        const key = `${type}\0${form.get("ClientToken") ?? `untokened-${n}`}`;
        if (!runKeys.has(key)) {
          runKeys.add(key);
          runTypes[type] = (runTypes[type] ?? 0) + 1;
        }
      }
      if (buckets && !buckets.admit(action, form)) {
        throttled[action] = (throttled[action] ?? 0) + 1;
        return reply(res, 503, ec2ErrorXml("RequestLimitExceeded", "Request limit exceeded."), "text/xml");
      }
      const fault = choose(action, n, form);
      if (fault) injected[fault] = (injected[fault] ?? 0) + 1;
      switch (fault) {
        case "throttle":
          return reply(res, 503, ec2ErrorXml("RequestLimitExceeded", "Request limit exceeded."), "text/xml");
        case "capacity":
          return reply(
            res,
            500,
            ec2ErrorXml(
              "InsufficientInstanceCapacity",
              "We currently do not have sufficient capacity in the Availability Zone you requested.",
            ),
            "text/xml",
          );
        case "unavailable":
          return reply(res, 503, "Service Unavailable", "text/plain");
        case "drop-before":
          req.socket.destroy();
          return;
        case "slow":
          await new Promise((r) => setTimeout(r, plan.slowMs ?? 2000));
          break;
        default:
          break;
      }
      const up = await forward(targetUrl, agent, req, body);
      if (fault === "drop-after") {
        req.socket.destroy();
        return;
      }
      const headers = { ...up.headers };
      // Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own to set: moto's server closes
      // every connection, EC2 keeps them open, and the client must see EC2's behaviour.
      for (const h of ["connection", "keep-alive", "transfer-encoding"]) delete headers[h];
      headers["content-length"] = String(up.body.length);
      res.writeHead(up.status, headers);
      res.end(up.body);
    })().catch(() => req.socket.destroy());
  });
  // EC2 keeps a client's idle connections for long; a short server timeout would race the SDK's
  // reuse of an idle socket (a reset no real endpoint causes that often).
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    counts: () => ({ ...counts }),
    injected: () => ({ ...injected }),
    throttled: () => ({ ...throttled }),
    runInstanceTypes: () => ({ ...runTypes }),
    setPlan(p) {
      plan = p;
      random = prng(p.seed ?? 1);
      buckets = p.buckets ? new Ec2Buckets() : undefined;
    },
    resetCounts() {
      for (const table of [counts, injected, throttled, runTypes])
        for (const k of Object.keys(table)) delete table[k];
      runKeys.clear();
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

if (import.meta.main) {
  const at = process.argv.indexOf("--target");
  const target = at > 0 ? process.argv[at + 1] : undefined;
  if (!target) {
    process.stderr.write("usage: node fault-proxy.ts --target http://127.0.0.1:PORT\n");
    process.exit(2);
  }
  const proxy = await startFaultProxy(target, { buckets: process.argv.includes("--ec2-buckets") });
  process.stdout.write(`${JSON.stringify({ url: proxy.url })}\n`);
  process.on("SIGTERM", () => void proxy.stop().then(() => process.exit(0)));
}
