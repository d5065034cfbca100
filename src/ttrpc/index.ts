// Our ttrpc (containerd/ttrpc wire protocol, unary calls): server, client, framing and status codes.
export { TtrpcClient } from "./client.ts";
export type { CallOptions } from "./client.ts";
export { FrameDecoder, FrameType, HEADER_LENGTH, MAX_DATA_LENGTH, encodeFrame } from "./frame.ts";
export type { Frame, FrameEvent } from "./frame.ts";
export { TtrpcServer } from "./server.ts";
export type { ListenOptions } from "./server.ts";
export type {
  CallContext,
  FallbackHandler,
  MessageCodec,
  MethodDefinition,
  RawRequest,
  RawResult,
  RequestOf,
  ResponseOf,
  ServiceDefinition,
  ServiceImpl,
  UnaryHandler,
} from "./services.ts";
export { Code, TtrpcError, canceled, codeName, deadlineExceeded, isTtrpcError, toStatus } from "./status.ts";
