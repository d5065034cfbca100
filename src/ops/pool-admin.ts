// Admin API of the warm pool: `GET /v1/pool` lists pooled VMs, `DELETE /v1/pool` deletes every
// unclaimed one (before uninstalling: pooled VMs outlive a daemon restart on purpose).
import type { FastifyPluginAsync } from "fastify";
import { Type, type Static } from "@sinclair/typebox";

const PoolVmSchema = Type.Object(
  {
    slot: Type.String(),
    key: Type.String(),
    state: Type.Union(["creating", "booting", "ready", "claimed"].map((s) => Type.Literal(s))),
    name: Type.String(),
    instanceId: Type.Optional(Type.String()),
    ips: Type.Array(Type.String()),
    createdAt: Type.String(),
    readyAt: Type.Optional(Type.String()),
    claimedBy: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const PoolListSchema = Type.Object({ enabled: Type.Boolean(), vms: Type.Array(PoolVmSchema) });

export type PoolVmReply = Static<typeof PoolVmSchema>;

export interface PoolSource {
  list(): PoolVmReply[];
  drain(): Promise<number>;
}

export const poolAdminPlugin: FastifyPluginAsync<{ pool?: PoolSource }> = async (app, { pool }) => {
  app.get("/v1/pool", { schema: { response: { 200: PoolListSchema } } }, async () => ({
    enabled: pool !== undefined,
    vms: pool?.list() ?? [],
  }));
  app.delete(
    "/v1/pool",
    { schema: { response: { 200: Type.Object({ deleted: Type.Integer() }) } } },
    async () => ({ deleted: pool ? await pool.drain() : 0 }),
  );
};
