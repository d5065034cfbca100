// Maps "service/method" to handlers and turns their outcome into a ttrpc Response (containerd/ttrpc services.go).
import type { Status } from "../gen/google/rpc/status.ts";
import { Code, TtrpcError, toStatus } from "./status.ts";

/** What a server handler knows about its call. `signal` fires at the deadline, on disconnect or server close. */
export interface CallContext {
  service: string;
  method: string;
  /** Request metadata; repeated keys keep every value, in order (ttrpc metadata.go fromRequest). */
  metadata: Record<string, string[]>;
  signal: AbortSignal;
  /** Epoch milliseconds at which the client's timeout_nano elapses; absent when the client set none. */
  deadline?: number;
}

export type UnaryHandler = (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array> | Uint8Array;

/** A ttrpc call as it arrives on the wire, for relaying it unchanged (the agent proxy). */
export interface RawRequest {
  service: string;
  method: string;
  payload: Uint8Array;
  /** The client's timeout in nanoseconds; 0 = none. */
  timeoutNano: number;
  metadata: { key: string; value: string }[];
}

/** A call's outcome as it travels on the wire: a payload (success) or a non-OK status. */
export type RawResult = { payload: Uint8Array } | { status: Status };

export type FallbackHandler = (req: RawRequest, ctx: CallContext) => Promise<RawResult>;

/** The shape of a ts-proto generic service definition (e.g. HypervisorDefinition), as far as ttrpc needs it. */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}
export interface MethodDefinition<Req, Res> {
  name: string;
  requestType: MessageCodec<Req>;
  responseType: MessageCodec<Res>;
}
export interface ServiceDefinition {
  fullName: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each method has its own message types
  methods: Record<string, MethodDefinition<any, any>>;
}
export type RequestOf<M> = M extends { requestType: { decode(input: Uint8Array): infer Req } } ? Req : never;
export type ResponseOf<M> = M extends { responseType: { decode(input: Uint8Array): infer Res } }
  ? Res
  : never;
/** A typed implementation: one handler per method key of the definition (createVM, startVM, …). */
export type ServiceImpl<D extends ServiceDefinition> = {
  [K in keyof D["methods"]]: (
    request: RequestOf<D["methods"][K]>,
    ctx: CallContext,
  ) => Promise<ResponseOf<D["methods"][K]>> | ResponseOf<D["methods"][K]>;
};

export class ServiceSet {
  private readonly services = new Map<string, Map<string, UnaryHandler>>();
  private fallback: FallbackHandler | undefined;

  register(service: string, methods: Record<string, UnaryHandler>): void {
    if (this.services.has(service)) throw new Error(`ttrpc: duplicate service ${service} registered`);
    this.services.set(service, new Map(Object.entries(methods)));
  }

  registerService<D extends ServiceDefinition>(def: D, impl: ServiceImpl<D>): void {
    const methods: Record<string, UnaryHandler> = {};
    for (const [key, m] of Object.entries(def.methods)) {
      const handler = (impl as Record<string, (req: unknown, ctx: CallContext) => unknown>)[key];
      if (typeof handler !== "function") continue;
      methods[m.name] = async (payload, ctx) => {
        let request: unknown;
        try {
          request = m.requestType.decode(payload);
        } catch (err) {
          throw new TtrpcError(Code.InvalidArgument, `ttrpc: error unmarshalling payload: ${String(err)}`);
        }
        const response = await handler.call(impl, request, ctx);
        return m.responseType.encode(response).finish();
      };
    }
    this.register(def.fullName, methods);
  }

  setFallback(handler: FallbackHandler | undefined): void {
    this.fallback = handler;
  }

  /** Runs one call to completion; never throws. Unknown service/method: 12 with services.go's texts. */
  async call(req: RawRequest, ctx: CallContext): Promise<RawResult> {
    try {
      const service = this.services.get(req.service);
      if (!service) {
        if (this.fallback) return checkResult(await this.fallback(req, ctx));
        return { status: { code: Code.Unimplemented, message: `service ${req.service}`, details: [] } };
      }
      const handler = service.get(req.method);
      if (!handler)
        return { status: { code: Code.Unimplemented, message: `method ${req.method}`, details: [] } };
      return checkResult({ payload: await handler(req.payload, ctx) });
    } catch (err) {
      return { status: toStatus(err) };
    }
  }
}

/** A handler that returns no message gets services.go's answer: 2 "ttrpc: marshal called with nil". */
function checkResult(result: RawResult | undefined): RawResult {
  if (result && "status" in result && typeof result.status?.code === "number") return result;
  if (result && "payload" in result && result.payload instanceof Uint8Array) return result;
  throw new Error("ttrpc: marshal called with nil");
}
