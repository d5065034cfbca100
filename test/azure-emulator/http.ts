// Request context, replies and the OData error envelope every ARM error uses
// (docs/background.md §4.5).
import type { ArmError } from "./arm-types.ts";

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Ctx {
  method: string;
  url: URL;
  params: Record<string, string>;
  body: unknown;
  /** Origin of the emulator, for absolute Location / Azure-AsyncOperation URLs. */
  base: string;
}

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return { status, body, headers };
}

export function armError(
  status: number,
  code: string,
  message: string,
  extra: Partial<ArmError> = {},
): Reply {
  return { status, body: { error: { code, message, ...extra } } };
}

export function notFound(type: string, name: string, rg: string): Reply {
  return armError(
    404,
    "ResourceNotFound",
    `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

export function apiVersion(ctx: Ctx): string {
  return ctx.url.searchParams.get("api-version") ?? "2024-11-01";
}

/** One page of a list, with an absolute nextLink when more remain. */
export function page(ctx: Ctx, items: unknown[], pageSize: number): Reply {
  const skip = Number(ctx.url.searchParams.get("$skiptoken") ?? "0");
  const value = items.slice(skip, skip + pageSize);
  const body: { value: unknown[]; nextLink?: string } = { value };
  if (skip + pageSize < items.length) {
    const next = new URL(ctx.url.pathname, ctx.base);
    next.searchParams.set("api-version", apiVersion(ctx));
    next.searchParams.set("$skiptoken", String(skip + pageSize));
    body.nextLink = next.toString();
  }
  return json(200, body);
}
