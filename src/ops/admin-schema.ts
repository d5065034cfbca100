// Response schemas of the admin API. fastify serializes replies through them, so a field that is
// not declared here (a key, a credential, user-data) can never reach a response.
import { array, boolean, integer, number, object, oneOf, optional, string } from "./schema.ts";
import { STAGES, type SandboxView, type Stage } from "./sandbox-view.ts";

export const StageSchema = oneOf(STAGES);

export const SandboxSchema = object(
  {
    id: string(),
    podName: string(),
    podNamespace: string(),
    stage: StageSchema,
    createdAt: string(),
    instanceId: optional(string()),
    instanceName: optional(string()),
    instanceType: optional(string()),
    ips: array(string()),
    vni: optional(integer()),
    pooled: optional(boolean()),
    timings: object(Object.fromEntries(STAGES.map((s) => [s, optional(number())])), { closed: true }),
    lastError: optional(
      object({ stage: StageSchema, message: string(), code: optional(string()) }, { closed: true }),
    ),
  },
  { closed: true },
);

/** A sandbox's view as the API shows it; the error's fields are copied one by one. */
export type SandboxReply = Omit<SandboxView, "instanceType" | "lastError"> & {
  instanceType?: string;
  lastError?: { stage: Stage; message: string; code?: string };
};

export const SandboxListSchema = object({ sandboxes: array(SandboxSchema) });

export const ErrorSchema = object({ error: string(), message: string() });

export const SandboxParams = object({ id: string({ minLength: 1, maxLength: 256 }) });
