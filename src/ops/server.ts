// The ops HTTP server on 127.0.0.1:PROBE_PORT: probes, metrics and the admin API, each a plugin.
import type { Socket } from "node:net";
import Fastify, { type FastifyInstance, type FastifyListenOptions } from "fastify";
import type { Logger } from "../log/logger.ts";
import { adminPlugin } from "./admin.ts";
import { cloudApiPlugin, type CloudApiSource } from "./cloud-api.ts";
import { healthPlugin } from "./health.ts";
import type { Metrics } from "./metrics.ts";
import { metricsPlugin } from "./metrics-route.ts";
import { poolAdminPlugin, type PoolSource } from "./pool-admin.ts";
import type { SandboxSource, Stage } from "./sandbox-view.ts";
import type { StartupCheck } from "./startup.ts";

/**
 * A connection that sends nothing for this long is closed, before a request (Fastify's
 * connectionTimeout, never by default) and after an answer (keepAliveTimeout, 72 s by default: it
 * also applies to a request answered before its body came, e.g. a 404 to a POST); a request must
 * have arrived whole within OPS_REQUEST_TIMEOUT_MS (requestTimeout, off by default). Found by the
 * ops-http fuzz target: a partial request held its connection for Node's 60 s header timeout, a
 * partial body after the answer for 72 s at each byte.
 */
export const OPS_IDLE_TIMEOUT_MS = 10_000;
export const OPS_REQUEST_TIMEOUT_MS = 30_000;

export interface OpsServerOptions {
  /** PROBE_PORT (upstream default 8000); 0 picks a free port. */
  port: number;
  /** Loopback by default, like upstream's probe server. */
  host?: string;
  source: SandboxSource;
  metrics: Metrics;
  startup: StartupCheck;
  /** The warm pool, when POOL_SIZE turns it on. */
  pool?: PoolSource;
  /** The provider's API budget and the unavailable-offerings cache, when there are any. */
  cloudApi?: CloudApiSource;
  logger?: Logger;
}

export interface OpsServer {
  /** `http://host:port` actually bound. */
  address: string;
  close(): Promise<void>;
}

/** Build the app without listening (`app.inject()` in unit tests). */
export async function buildOpsApp(opts: Omit<OpsServerOptions, "port" | "host">): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    connectionTimeout: OPS_IDLE_TIMEOUT_MS,
    requestTimeout: OPS_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: OPS_IDLE_TIMEOUT_MS,
  });
  // Node keeps a timed-out socket whose unfinished request has a "timeout" listener; close it anyway.
  app.server.on("timeout", (socket: Socket) => socket.destroy());
  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const code = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (code >= 500) opts.logger?.error({ err, url: req.url }, "ops request failed");
    // Only the framework's own message for client errors (e.g. validation); never internals.
    return reply.code(code).send({
      error: code >= 500 ? "Internal" : "BadRequest",
      message: code >= 500 ? "internal error" : err.message,
    });
  });
  await app.register(healthPlugin, { startup: opts.startup });
  await app.register(metricsPlugin, {
    metrics: opts.metrics,
    beforeScrape: () => {
      opts.metrics.setSandboxStages(countStages(opts.source));
      if (opts.cloudApi)
        opts.metrics.cloudApi.set(
          opts.cloudApi.families(),
          opts.cloudApi.unavailableOfferings(),
          opts.cloudApi.skips(),
        );
    },
  });
  await app.register(adminPlugin, { source: opts.source });
  await app.register(poolAdminPlugin, { pool: opts.pool });
  if (opts.cloudApi) await app.register(cloudApiPlugin, { cloudApi: opts.cloudApi });
  await app.ready();
  return app;
}

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const app = await buildOpsApp(opts);
  const host = opts.host ?? "127.0.0.1";
  // No SO_REUSEPORT (upstream CAA#3172 sets it): with it every daemon on the node binds the port
  // and the kernel spreads probes among them, so one answers for another. Only the daemon that
  // owns the state directory binds it; during a handover the old one releases it first.
  const listen: FastifyListenOptions = { port: opts.port, host };
  const address = await app.listen(listen);
  opts.logger?.info({ address }, "ops server listening");
  return { address, close: () => app.close() };
}

function countStages(source: SandboxSource): Partial<Record<Stage, number>> {
  const counts: Partial<Record<Stage, number>> = {};
  for (const s of source.list()) counts[s.stage] = (counts[s.stage] ?? 0) + 1;
  return counts;
}
