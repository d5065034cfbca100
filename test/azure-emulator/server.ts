// The HTTPS server: match a route, settle due operations, check the bearer token, apply throttling
// (fault plan first, then token buckets), check subscription and resource group, answer, record.
// A random fault plan may hold, refuse or drop a request first (random-faults.ts).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { EmulatorCert } from "./cert.ts";
import type { Faults } from "./faults.ts";
import { armError, type Ctx, type Reply } from "./http.ts";
import type { Route } from "./routes.ts";
import type { EmulatorState } from "./state.ts";
import { requestClass, THROTTLED_MESSAGE, TokenBucket } from "./throttle.ts";
import type { RecordedRequest, RequestClass } from "./types.ts";

const MAX_BODY = 1 << 20;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error("request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export class EmulatorServer {
  readonly requests: RecordedRequest[] = [];
  private readonly server: Server;
  private readonly started = Date.now();
  private readonly buckets = new Map<RequestClass, TokenBucket>();
  private readonly state: EmulatorState;
  private readonly faults: Faults;
  private readonly routes: Route[];
  base = "";

  constructor(cert: EmulatorCert, state: EmulatorState, faults: Faults, routes: Route[]) {
    this.state = state;
    this.faults = faults;
    this.routes = routes;
    for (const [cls, b] of Object.entries(state.options.rateLimit)) {
      this.buckets.set(cls as RequestClass, new TokenBucket(b.capacity, b.refillPerSec));
    }
    this.server = createServer({ cert: cert.certPem + cert.caPem, key: cert.keyPem }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: "InternalServerError", message: String(err) } }));
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const addr = this.server.address();
    if (addr === null || typeof addr === "string") throw new Error("emulator has no TCP address");
    this.base = `https://127.0.0.1:${addr.port}`;
    return this.base;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req);
    const url = new URL(req.url ?? "/", this.base);
    const method = req.method ?? "GET";
    let route: Route | undefined;
    let params: Record<string, string> = {};
    for (const r of this.routes) {
      const m = r.method === method ? r.re.exec(url.pathname) : null;
      if (m) {
        route = r;
        params = { ...m.groups };
        break;
      }
    }
    let body: unknown = text;
    if (!route?.login && text !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        return this.send(
          res,
          method,
          url,
          route?.op ?? "unknown",
          undefined,
          armError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
          ),
        );
      }
    }
    const fault = route && !route.login ? this.faults.pickRandom(route.op) : undefined;
    const plan = this.faults.randomPlan();
    if (fault === "slow") await sleep(plan?.slowMs ?? 2000);
    if (fault === "drop-before") {
      this.record(method, url, route?.op ?? "unknown", 0, undefined);
      req.socket.destroy();
      return;
    }
    this.state.settle();
    const ctx: Ctx = { method, url, params, body, base: this.base };
    const handle = (r: Route): Reply => this.gate(req, r, ctx) ?? r.handle(ctx);
    let reply: Reply;
    if (!route) reply = armError(404, "InvalidResourceType", `No route for ${method} ${url.pathname}`);
    else if (fault === "throttle")
      reply = {
        ...armError(429, "TooManyRequests", THROTTLED_MESSAGE),
        headers: { "Retry-After": String(plan?.retryAfterSec ?? 1) },
      };
    else if (fault === "unavailable")
      reply = armError(503, "ServerTimeout", "The server operation timed out. Please try again.");
    else if (fault === "capacity") reply = this.faults.withCapacityFailure(() => handle(route));
    else reply = handle(route);
    if (fault === "drop-after") {
      this.record(method, url, route?.op ?? "unknown", 0, undefined);
      req.socket.destroy();
      return;
    }
    this.send(
      res,
      method,
      url,
      route?.op ?? "unknown",
      route?.login || method !== "PUT" ? undefined : body,
      reply,
    );
  }

  /** Checks made before the handler: token, throttling, subscription, resource group. */
  private gate(req: IncomingMessage, route: Route, ctx: Ctx): Reply | undefined {
    if (route.login) return undefined;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (this.state.options.requireAuth && (!token || !this.state.tokens.has(token))) {
      return armError(401, "InvalidAuthenticationToken", "The access token is invalid.");
    }
    const planned = this.faults.throttle(route.op);
    const bucketWait = planned === undefined ? this.buckets.get(requestClass(ctx.method))?.take() : undefined;
    const wait = planned ?? bucketWait;
    if (wait !== undefined) {
      return {
        ...armError(429, "TooManyRequests", THROTTLED_MESSAGE),
        headers: { "Retry-After": String(wait) },
      };
    }
    const { sub, rg } = ctx.params;
    if (sub !== undefined && sub.toLowerCase() !== this.state.options.subscriptionId.toLowerCase()) {
      return armError(404, "SubscriptionNotFound", `The subscription '${sub}' could not be found.`);
    }
    if (rg !== undefined && !this.state.hasResourceGroup(rg)) {
      return armError(404, "ResourceGroupNotFound", `Resource group '${rg}' could not be found.`);
    }
    return undefined;
  }

  /** Status 0: the connection was dropped. */
  private record(method: string, url: URL, op: string, status: number, body: unknown): void {
    this.requests.push({
      seq: this.requests.length + 1,
      at: Date.now() - this.started,
      method,
      path: url.pathname,
      op,
      status,
      body,
    });
  }

  private send(res: ServerResponse, method: string, url: URL, op: string, body: unknown, reply: Reply): void {
    this.record(method, url, op, reply.status, body);
    const headers: Record<string, string> = { "x-ms-request-id": randomUUID(), ...reply.headers };
    const cls = requestClass(method);
    const bucket = this.buckets.get(cls);
    if (bucket) headers[`x-ms-ratelimit-remaining-subscription-${cls}`] = String(bucket.remaining());
    if (reply.body === undefined) {
      res.writeHead(reply.status, { ...headers, "content-length": "0" });
      res.end();
      return;
    }
    const payload = JSON.stringify(reply.body);
    res.writeHead(reply.status, { ...headers, "content-type": "application/json; charset=utf-8" });
    res.end(payload);
  }
}
