// hypervisor.Hypervisor and podvminfo.PodVMInfo over ttrpc on the hypervisor socket, where the kata
// shim calls them (docs/upstream-compat.md §1.2); hypervisor.Hypervisor is also served as remote.Hypervisor.
import {
  HypervisorDefinition,
  type CreateVMRequest,
  type StartVMRequest,
  type StopVMRequest,
  type VersionRequest,
} from "../gen/hypervisor/hypervisor.ts";
import { PodVMInfoDefinition } from "../gen/podvminfo/podvminfo.ts";
import { TtrpcError, TtrpcServer, type CallContext } from "../ttrpc/index.ts";
import { LegacyHypervisorDefinition } from "./legacy-names.ts";
import type { HypervisorService } from "./service.ts";
import { toRpcFailure } from "./status.ts";

function wrap<Req, Res>(fn: (req: Req, ctx: CallContext) => Promise<Res>) {
  return async (req: Req, ctx: CallContext): Promise<Res> => {
    try {
      return await fn(req, ctx);
    } catch (err) {
      const f = toRpcFailure(err);
      throw new TtrpcError(f.code, f.message);
    }
  };
}

export function hypervisorTtrpcServer(service: HypervisorService): TtrpcServer {
  const server = new TtrpcServer();
  const hypervisor = {
    createVM: wrap((req: CreateVMRequest, ctx) => service.createVM(req, ctx)),
    startVM: wrap((req: StartVMRequest, ctx) => service.startVM(req, ctx)),
    stopVM: wrap((req: StopVMRequest, ctx) => service.stopVM(req, ctx)),
    version: wrap((req: VersionRequest) => service.version(req)),
  };
  server.registerService(HypervisorDefinition, hypervisor);
  server.registerService(LegacyHypervisorDefinition, hypervisor);
  server.registerService(PodVMInfoDefinition, {
    getInfo: wrap((req, ctx) => service.getInfo(req, ctx)),
  });
  return server;
}
