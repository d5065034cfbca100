// The same Hypervisor service over gRPC (HTTP/2) on its own unix socket, for clients that speak
// gRPC rather than ttrpc. The socket is a plain listener until its first connection: grpc-js (and
// node's http2) cost an idle daemon ~10 MB, and the kata shim speaks ttrpc, so they load only when
// a gRPC client connects; every connection is then handed to grpc-js as it was accepted.
import { mkdir, rm, chmod } from "node:fs/promises";
import net from "node:net";
import { dirname } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import {
  HypervisorDefinition,
  type CreateVMRequest,
  type StartVMRequest,
  type StopVMRequest,
  type VersionRequest,
} from "../gen/hypervisor/hypervisor.ts";
import { PodVMInfoDefinition, type GetInfoRequest } from "../gen/podvminfo/podvminfo.ts";
import { grpcServiceDefinition } from "./grpc-definition.ts";
import { LEGACY_HYPERVISOR_SERVICE } from "./legacy-names.ts";
import type { CallContext, HypervisorService } from "./service.ts";
import { toRpcFailure } from "./status.ts";

type Handler<Req, Res> = (req: Req, ctx: CallContext) => Promise<Res>;

function unary<Req, Res>(fn: Handler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const controller = new AbortController();
    call.on("cancelled", () => controller.abort());
    const deadline = call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() - Date.now() : Number(deadline) - Date.now();
    const timer = Number.isFinite(ms) && ms > 0 ? setTimeout(() => controller.abort(), ms) : undefined;
    fn(call.request, { signal: controller.signal })
      .then(
        (res) => callback(null, res),
        (err: unknown) => {
          const f = toRpcFailure(err);
          callback({ code: f.code, details: f.message, name: "Error", message: f.message });
        },
      )
      .finally(() => clearTimeout(timer));
  };
}

export interface GrpcEndpoint {
  close(): Promise<void>;
}

interface LoadedServer {
  server: grpc.Server;
  injector: grpc.ConnectionInjector;
}

async function grpcServer(service: HypervisorService): Promise<LoadedServer> {
  // grpc-js is CommonJS: its exports are the default export, both from node's loader and from the
  // bundle (scripts/bundle-daemon.ts), where an import() of a CommonJS chunk has no named exports.
  const { default: grpc } = await import("@grpc/grpc-js");
  const server = new grpc.Server();
  const hypervisor = {
    createVM: unary((req: CreateVMRequest, ctx) => service.createVM(req, ctx)),
    startVM: unary((req: StartVMRequest, ctx) => service.startVM(req, ctx)),
    stopVM: unary((req: StopVMRequest, ctx) => service.stopVM(req, ctx)),
    version: unary((req: VersionRequest) => service.version(req)),
  };
  server.addService(grpcServiceDefinition(HypervisorDefinition), hypervisor);
  server.addService(grpcServiceDefinition(HypervisorDefinition, LEGACY_HYPERVISOR_SERVICE), hypervisor);
  server.addService(grpcServiceDefinition(PodVMInfoDefinition), {
    getInfo: unary((req: GetInfoRequest, ctx) => service.getInfo(req, ctx)),
  });
  return { server, injector: server.createConnectionInjector(grpc.ServerCredentials.createInsecure()) };
}

export async function serveGrpc(service: HypervisorService, socketPath: string): Promise<GrpcEndpoint> {
  await mkdir(dirname(socketPath), { recursive: true });
  await rm(socketPath, { force: true });
  let loaded: Promise<LoadedServer> | undefined;
  const listener = net.createServer((socket) => {
    loaded ??= grpcServer(service);
    loaded.then(
      ({ injector }) => injector.injectConnection(socket),
      (err: unknown) => socket.destroy(err as Error),
    );
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(socketPath, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
  return {
    close: async () => {
      // No new connections; then grpc-js lets the calls in flight finish and closes its sessions.
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      const server = await loaded?.catch(() => undefined);
      if (server) await new Promise<void>((resolve) => server.server.tryShutdown(() => resolve()));
      await closed;
      await rm(socketPath, { force: true });
    },
  };
}
