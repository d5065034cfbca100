// `GET /metrics` in the Prometheus text format.
import type { FastifyPluginAsync } from "fastify";
import type { Metrics } from "./metrics.ts";

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** Called before each scrape, e.g. to refresh the sandboxes-by-stage gauge. */
  beforeScrape?: () => void;
}

export const metricsPlugin: FastifyPluginAsync<MetricsRouteOptions> = async (app, opts) => {
  app.get("/metrics", async (_req, reply) => {
    opts.beforeScrape?.();
    const text = await opts.metrics.text();
    return reply.type(opts.metrics.contentType).send(text);
  });
};
