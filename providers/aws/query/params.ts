// EC2 Query encoding of the inputs the lean path serves: each member becomes Name=value, a list
// member Name.N, a structure member Outer.Inner, as the AWS SDK's ec2 protocol serialises them.
// Where EC2's query name differs from the SDK's member name (the model's ec2QueryName trait),
// the shape says so. An input member the shape does not know makes the encoding refuse the
// input (undefined), and the call goes through the SDK instead: nothing is sent half-encoded.
import { uriEscape } from "./sigv4.ts";

export type Shape =
  | { kind: "scalar" }
  | { kind: "list"; member: Shape }
  | { kind: "struct"; fields: Readonly<Record<string, Field>> };

interface Field {
  /** The query name when it differs from the member name. */
  queryName: string;
  shape: Shape;
}

export const scalar: Shape = { kind: "scalar" };

export function list(member: Shape): Shape {
  return { kind: "list", member };
}

/** Members by SDK name: a shape, or [the EC2 query name, shape]. */
export function struct(fields: Record<string, Shape | [string, Shape]>): Shape {
  const out: Record<string, Field> = {};
  for (const [name, f] of Object.entries(fields))
    out[name] = Array.isArray(f) ? { queryName: f[0], shape: f[1] } : { queryName: name, shape: f };
  return { kind: "struct", fields: out };
}

/** The query parameters of `value` under `shape`, or undefined if it has a member the shape lacks. */
export function encodeParams(shape: Shape, value: unknown): [string, string][] | undefined {
  const out: [string, string][] = [];
  return encode(shape, value, "", out) ? out : undefined;
}

function encode(shape: Shape, value: unknown, prefix: string, out: [string, string][]): boolean {
  if (value === undefined || value === null) return true;
  switch (shape.kind) {
    case "scalar":
      if (typeof value === "string") out.push([prefix, value]);
      else if (typeof value === "number" || typeof value === "boolean") out.push([prefix, String(value)]);
      else return false;
      return true;
    case "list":
      if (!Array.isArray(value)) return false;
      return value.every((v, i) => encode(shape.member, v, `${prefix}.${i + 1}`, out));
    case "struct": {
      if (typeof value !== "object" || Array.isArray(value)) return false;
      for (const [name, v] of Object.entries(value)) {
        const field = shape.fields[name];
        if (!field) {
          if (v === undefined) continue;
          return false;
        }
        if (!encode(field.shape, v, prefix ? `${prefix}.${field.queryName}` : field.queryName, out))
          return false;
      }
      return true;
    }
  }
}

export function formBody(action: string, version: string, params: readonly [string, string][]): string {
  let body = `Action=${uriEscape(action)}&Version=${uriEscape(version)}`;
  for (const [k, v] of params) body += `&${uriEscape(k)}=${uriEscape(v)}`;
  return body;
}
