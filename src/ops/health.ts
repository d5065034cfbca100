// Probes: `/startup` with upstream's semantics (startup.ts), `/healthz` (the process serves HTTP),
// `/readyz` (the hypervisor socket accepts connections, so the shim can reach us).
import type { FastifyPluginAsync } from "fastify";
import { object, string } from "./schema.ts";
import type { StartupCheck } from "./startup.ts";

export interface HealthOptions {
  startup: StartupCheck;
}

const ProbeReply = object({ status: string(), reason: string() });
const schema = { response: { 200: ProbeReply, 500: ProbeReply, 503: ProbeReply } };

export const healthPlugin: FastifyPluginAsync<HealthOptions> = async (app, { startup }) => {
  app.get("/startup", { schema }, async (_req, reply) => {
    const r = await startup.check();
    // Upstream answers 500 until ready (CAA pkg/probe/probe.go).
    return reply.code(r.ok ? 200 : 500).send({ status: r.ok ? "ok" : "starting", reason: r.reason });
  });

  app.get("/healthz", { schema }, async () => ({ status: "ok", reason: "serving" }));

  app.get("/readyz", { schema }, async (_req, reply) => {
    const r = await startup.socketAccepts();
    return reply.code(r.ok ? 200 : 503).send({ status: r.ok ? "ok" : "unavailable", reason: r.reason });
  });
};
