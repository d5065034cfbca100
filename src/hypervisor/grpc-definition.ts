// The gRPC (grpc-js) form of a ts-proto generic service definition. ts-proto's grpc-js output
// would put a static import of @grpc/grpc-js in every generated file, so that the daemon loaded
// grpc-js (and node's http2) even with the gRPC endpoint off; this builds the same definition from
// the generic one, which imports nothing.
import type { ServiceDefinition } from "@grpc/grpc-js";

// Method syntax: parameters compare bivariantly, so any generated message type fits.
interface MessageType {
  encode(message: unknown): { finish(): Uint8Array };
  decode(input: Uint8Array): unknown;
}

interface GenericMethod {
  readonly name: string;
  readonly requestType: MessageType;
  readonly responseType: MessageType;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

export interface GenericServiceDefinition {
  readonly fullName: string;
  readonly methods: Readonly<Record<string, GenericMethod>>;
}

const serialize =
  (type: MessageType) =>
  (value: unknown): Buffer =>
    Buffer.from(type.encode(value).finish());

/** Method keys as the generic definition's (createVM, …); paths `/<fullName>/<Name>`, or under `fullName`. */
export function grpcServiceDefinition(
  def: GenericServiceDefinition,
  fullName = def.fullName,
): ServiceDefinition {
  return Object.fromEntries(
    Object.entries(def.methods).map(([key, m]) => [
      key,
      {
        path: `/${fullName}/${m.name}`,
        requestStream: m.requestStream,
        responseStream: m.responseStream,
        requestSerialize: serialize(m.requestType),
        requestDeserialize: (b: Buffer) => m.requestType.decode(b),
        responseSerialize: serialize(m.responseType),
        responseDeserialize: (b: Buffer) => m.responseType.decode(b),
      },
    ]),
  );
}
