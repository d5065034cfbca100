// JSON Schema builders for the ops routes' reply and parameter schemas. fastify compiles them into
// its serializer (fields not declared are dropped) and validator; plain objects are all it needs,
// and a schema library would load a few hundred modules into every daemon for these few shapes.

export type JsonSchema = Record<string, unknown>;

type Props = Record<string, JsonSchema | Optional>;

interface Optional {
  optional: JsonSchema;
}

/** A property that may be absent. */
export const optional = (schema: JsonSchema): Optional => ({ optional: schema });

export const string = (extra: JsonSchema = {}): JsonSchema => ({ type: "string", ...extra });
export const integer = (): JsonSchema => ({ type: "integer" });
export const number = (): JsonSchema => ({ type: "number" });
export const boolean = (): JsonSchema => ({ type: "boolean" });
export const array = (items: JsonSchema): JsonSchema => ({ type: "array", items });
export const oneOf = (values: readonly string[]): JsonSchema => ({ type: "string", enum: [...values] });

/** An object of these properties; `closed` refuses properties not declared. */
export function object(props: Props, opts: { closed?: boolean } = {}): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [k, v] of Object.entries(props)) {
    if ("optional" in v) properties[k] = v.optional as JsonSchema;
    else {
      properties[k] = v;
      required.push(k);
    }
  }
  return {
    type: "object",
    properties,
    ...(required.length > 0 ? { required } : {}),
    ...(opts.closed ? { additionalProperties: false } : {}),
  };
}
