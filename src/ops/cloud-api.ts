// `GET /v1/cloud-api`: the provider's client-side API budget (buckets, queues, throttles seen)
// and the offerings skipped for lack of capacity (src/capacity/unavailable-offerings.ts).
import type { FastifyPluginAsync } from "fastify";
import { Type } from "@sinclair/typebox";
import type { ApiFamilyState } from "../../providers/types.ts";
import type { UnavailableOffering } from "../capacity/unavailable-offerings.ts";

export interface CloudApiSource {
  families(): ApiFamilyState[];
  unavailableOfferings(): UnavailableOffering[];
  /** Creates that skipped an unavailable offering, since start. */
  skips(): number;
}

const Family = Type.Object(
  {
    family: Type.String(),
    capacity: Type.Number(),
    refillPerSec: Type.Number(),
    tokens: Type.Number(),
    queued: Type.Integer(),
    callers: Type.Integer(),
    heldForMs: Type.Number(),
    throttles: Type.Integer(),
  },
  { additionalProperties: false },
);

const Offering = Type.Object(
  {
    instanceType: Type.String(),
    zone: Type.String(),
    code: Type.String(),
    markedAt: Type.String(),
    expiresInMs: Type.Number(),
    skips: Type.Integer(),
  },
  { additionalProperties: false },
);

const CloudApiSchema = Type.Object({
  families: Type.Array(Family),
  unavailableOfferings: Type.Array(Offering),
});

export const cloudApiPlugin: FastifyPluginAsync<{ cloudApi: CloudApiSource }> = async (app, { cloudApi }) => {
  app.get("/v1/cloud-api", { schema: { response: { 200: CloudApiSchema } } }, async () => ({
    families: cloudApi.families(),
    unavailableOfferings: cloudApi.unavailableOfferings(),
  }));
};
