// Admin API of the warm pool: `GET /v1/pool` lists pooled VMs, `DELETE /v1/pool` deletes every
// unclaimed one (before uninstalling: pooled VMs outlive a daemon restart on purpose).
import type { FastifyPluginAsync } from "fastify";
import type { PoolVmView } from "../pool/pool.ts";
import { array, boolean, integer, object, oneOf, optional, string } from "./schema.ts";

const POOL_STATES = ["creating", "booting", "ready", "claimed"] as const;

const PoolVmSchema = object(
  {
    slot: string(),
    key: string(),
    state: oneOf(POOL_STATES),
    name: string(),
    instanceId: optional(string()),
    ips: array(string()),
    createdAt: string(),
    readyAt: optional(string()),
    claimedBy: optional(string()),
  },
  { closed: true },
);

const PoolListSchema = object({ enabled: boolean(), vms: array(PoolVmSchema) });

export type PoolVmReply = PoolVmView;

export interface PoolSource {
  list(): PoolVmReply[];
  drain(): Promise<number>;
}

export const poolAdminPlugin: FastifyPluginAsync<{ pool?: PoolSource }> = async (app, { pool }) => {
  app.get("/v1/pool", { schema: { response: { 200: PoolListSchema } } }, async () => ({
    enabled: pool !== undefined,
    vms: pool?.list() ?? [],
  }));
  app.delete("/v1/pool", { schema: { response: { 200: object({ deleted: integer() }) } } }, async () => ({
    deleted: pool ? await pool.drain() : 0,
  }));
};
