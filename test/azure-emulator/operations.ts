// The ARM async protocol (docs/background.md §4): 201 + Azure-AsyncOperation for creates,
// 202 + Location (+ Azure-AsyncOperation) for deletes, an operation resource that answers 200
// with InProgress → Succeeded/Failed, and a Location URL that answers 202 until done.
import { randomUUID } from "node:crypto";
import { apiVersion, json, notFound, type Ctx, type Reply } from "./http.ts";
import type { EmulatorState, Operation } from "./state.ts";

function urls(ctx: Ctx, state: EmulatorState, op: Operation): { asyncOperation: string; location: string } {
  const { subscriptionId, location } = state.options;
  const prefix = `${ctx.base}/subscriptions/${subscriptionId}/providers/${op.provider}/locations/${location}`;
  const v = apiVersion(ctx);
  if (op.provider === "Microsoft.Compute") {
    // As recorded: `.../operations/{id}?p={guid}&api-version=…`, Location adds `&monitor=true`.
    const asyncOperation = `${prefix}/operations/${op.id}?p=${randomUUID()}&api-version=${v}`;
    return { asyncOperation, location: `${asyncOperation}&monitor=true` };
  }
  return {
    asyncOperation: `${prefix}/operations/${op.id}?api-version=${v}`,
    location: `${prefix}/operationResults/${op.id}?api-version=${v}`,
  };
}

function retryAfter(state: EmulatorState): Record<string, string> {
  return { "Retry-After": String(state.options.retryAfterSec) };
}

export function acceptedCreate(
  ctx: Ctx,
  state: EmulatorState,
  op: Operation,
  status: number,
  body: unknown,
): Reply {
  const { asyncOperation } = urls(ctx, state, op);
  return json(status, body, {
    "Azure-AsyncOperation": asyncOperation,
    "Azure-AsyncNotification": "Enabled",
    "x-ms-request-id": op.id,
    ...retryAfter(state),
  });
}

export function acceptedDelete(ctx: Ctx, state: EmulatorState, op: Operation): Reply {
  const { asyncOperation, location } = urls(ctx, state, op);
  return {
    status: 202,
    headers: {
      "Azure-AsyncOperation": asyncOperation,
      Location: location,
      "x-ms-request-id": op.id,
      ...retryAfter(state),
    },
  };
}

function statusBody(op: Operation): Record<string, unknown> {
  const body: Record<string, unknown> = { startTime: op.startTime, status: op.status, name: op.id };
  if (op.endTime) body.endTime = op.endTime;
  if (op.error) body.error = op.error;
  return body;
}

/** GET on the Azure-AsyncOperation URL: always 200 while readable, the status in the body. */
export function getOperation(ctx: Ctx, state: EmulatorState, resourceOf: (id: string) => unknown): Reply {
  const op = state.operations.get(ctx.params.op);
  if (!op) return notFound("operations", ctx.params.op, "-");
  if (ctx.url.searchParams.get("monitor") === "true") return operationResult(state, op, resourceOf);
  return json(200, statusBody(op), op.status === "InProgress" ? retryAfter(state) : undefined);
}

/** GET on the Location URL: 202 while running, then 200 with the resource or 204. */
export function getOperationResult(
  ctx: Ctx,
  state: EmulatorState,
  resourceOf: (id: string) => unknown,
): Reply {
  const op = state.operations.get(ctx.params.op);
  if (!op) return notFound("operationResults", ctx.params.op, "-");
  return operationResult(state, op, resourceOf);
}

function operationResult(state: EmulatorState, op: Operation, resourceOf: (id: string) => unknown): Reply {
  if (op.status === "InProgress") return { status: 202, headers: retryAfter(state) };
  // A failed operation answers with its error; ARM leaves the status code to the RP (409 here).
  if (op.status === "Failed") return json(409, { error: op.error });
  const resource = op.resourceId ? resourceOf(op.resourceId) : undefined;
  return resource ? json(200, resource) : { status: 204 };
}
