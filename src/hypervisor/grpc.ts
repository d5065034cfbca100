// The same Hypervisor service over gRPC (HTTP/2) on its own unix socket, for clients that speak
// gRPC rather than ttrpc.
import { mkdir, rm, chmod } from "node:fs/promises";
import { dirname } from "node:path";
import * as grpc from "@grpc/grpc-js";
import {
  HypervisorService as HypervisorGrpc,
  type CreateVMRequest,
  type StartVMRequest,
  type StopVMRequest,
  type VersionRequest,
} from "../gen/hypervisor/hypervisor.ts";
import { PodVMInfoService as PodVMInfoGrpc, type GetInfoRequest } from "../gen/podvminfo/podvminfo.ts";
import { LegacyHypervisorGrpc } from "./legacy-names.ts";
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

export async function serveGrpc(service: HypervisorService, socketPath: string): Promise<GrpcEndpoint> {
  await mkdir(dirname(socketPath), { recursive: true });
  await rm(socketPath, { force: true });
  const server = new grpc.Server();
  const hypervisor = {
    createVm: unary((req: CreateVMRequest, ctx) => service.createVM(req, ctx)),
    startVm: unary((req: StartVMRequest, ctx) => service.startVM(req, ctx)),
    stopVm: unary((req: StopVMRequest, ctx) => service.stopVM(req, ctx)),
    version: unary((req: VersionRequest) => service.version(req)),
  };
  server.addService(HypervisorGrpc, hypervisor);
  server.addService(LegacyHypervisorGrpc, hypervisor);
  server.addService(PodVMInfoGrpc, {
    getInfo: unary((req: GetInfoRequest, ctx) => service.getInfo(req, ctx)),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  await chmod(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          void rm(socketPath, { force: true }).then(() => resolve());
        });
      }),
  };
}
