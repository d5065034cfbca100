// Read-only admin API: `GET /v1/sandboxes` and `GET /v1/sandboxes/:id`, each sandbox with its
// stage, timings, instance, IPs and last error (DESIGN.md "Observable").
import type { FastifyPluginAsync } from "fastify";
import {
  ErrorSchema,
  SandboxListSchema,
  SandboxParams,
  SandboxSchema,
  type SandboxReply,
} from "./admin-schema.ts";
import { redactSecrets } from "./redact.ts";
import type { SandboxSource, SandboxView } from "./sandbox-view.ts";

export interface AdminOptions {
  source: SandboxSource;
}

export const adminPlugin: FastifyPluginAsync<AdminOptions> = async (app, { source }) => {
  app.get("/v1/sandboxes", { schema: { response: { 200: SandboxListSchema } } }, async () => ({
    sandboxes: source.list().map(toReply),
  }));

  app.get<{ Params: { id: string } }>(
    "/v1/sandboxes/:id",
    { schema: { params: SandboxParams, response: { 200: SandboxSchema, 404: ErrorSchema } } },
    async (req, reply) => {
      const view = source.get(req.params.id);
      if (!view) return reply.code(404).send({ error: "NotFound", message: `no sandbox ${req.params.id}` });
      return toReply(view);
    },
  );
};

/** Copy only the declared fields; error text is scrubbed of key material as a second guard. */
function toReply(v: SandboxView): SandboxReply {
  return {
    id: v.id,
    podName: v.podName,
    podNamespace: v.podNamespace,
    stage: v.stage,
    createdAt: v.createdAt,
    instanceId: v.instanceId,
    instanceName: v.instanceName,
    instanceType: v.instanceType,
    ips: [...v.ips],
    vni: v.vni,
    pooled: v.pooled,
    timings: { ...v.timings },
    lastError: v.lastError && {
      stage: v.lastError.stage,
      message: redactSecrets(v.lastError.message),
      code: v.lastError.code,
    },
  };
}
