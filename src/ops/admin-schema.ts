// Response schemas of the admin API. fastify serializes replies through them, so a field that is
// not declared here (a key, a credential, user-data) can never reach a response.
import { Type, type Static } from "@sinclair/typebox";
import { STAGES } from "./sandbox-view.ts";

export const StageSchema = Type.Union(STAGES.map((s) => Type.Literal(s)));

export const SandboxSchema = Type.Object(
  {
    id: Type.String(),
    podName: Type.String(),
    podNamespace: Type.String(),
    stage: StageSchema,
    createdAt: Type.String(),
    instanceId: Type.Optional(Type.String()),
    instanceName: Type.Optional(Type.String()),
    instanceType: Type.Optional(Type.String()),
    ips: Type.Array(Type.String()),
    vni: Type.Optional(Type.Integer()),
    pooled: Type.Optional(Type.Boolean()),
    timings: Type.Partial(Type.Record(StageSchema, Type.Number()), { additionalProperties: false }),
    lastError: Type.Optional(
      Type.Object(
        { stage: StageSchema, message: Type.String(), code: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const SandboxListSchema = Type.Object({ sandboxes: Type.Array(SandboxSchema) });

export const ErrorSchema = Type.Object({ error: Type.String(), message: Type.String() });

export const SandboxParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });

export type SandboxReply = Static<typeof SandboxSchema>;
