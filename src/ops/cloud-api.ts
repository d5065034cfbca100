// `GET /v1/cloud-api`: the provider's client-side API budget (buckets, queues, throttles seen)
// and the offerings skipped for lack of capacity (src/capacity/unavailable-offerings.ts).
import type { FastifyPluginAsync } from "fastify";
import { array, integer, number, object, string } from "./schema.ts";
import type { ApiFamilyState } from "../../providers/types.ts";
import type { UnavailableOffering } from "../capacity/unavailable-offerings.ts";

export interface CloudApiSource {
  families(): ApiFamilyState[];
  unavailableOfferings(): UnavailableOffering[];
  /** Creates that skipped an unavailable offering, since start. */
  skips(): number;
}

const Family = object(
  {
    family: string(),
    capacity: number(),
    refillPerSec: number(),
    tokens: number(),
    queued: integer(),
    callers: integer(),
    heldForMs: number(),
    throttles: integer(),
  },
  { closed: true },
);

const Offering = object(
  {
    instanceType: string(),
    zone: string(),
    code: string(),
    markedAt: string(),
    expiresInMs: number(),
    skips: integer(),
  },
  { closed: true },
);

const CloudApiSchema = object({
  families: array(Family),
  unavailableOfferings: array(Offering),
});

export const cloudApiPlugin: FastifyPluginAsync<{ cloudApi: CloudApiSource }> = async (app, { cloudApi }) => {
  app.get("/v1/cloud-api", { schema: { response: { 200: CloudApiSchema } } }, async () => ({
    families: cloudApi.families(),
    unavailableOfferings: cloudApi.unavailableOfferings(),
  }));
};
