// hypervisor.Hypervisor and podvminfo.PodVMInfo over ttrpc on the hypervisor socket, where the kata
// shim calls them (upstream-caa.md §1.2).
import { HypervisorDefinition } from "../gen/hypervisor/hypervisor.ts";
import { PodVMInfoDefinition } from "../gen/podvminfo/podvminfo.ts";
import { TtrpcError, TtrpcServer, type CallContext } from "../ttrpc/index.ts";
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
  server.registerService(HypervisorDefinition, {
    createVM: wrap((req) => service.createVM(req)),
    startVM: wrap((req, ctx) => service.startVM(req, ctx)),
    stopVM: wrap((req, ctx) => service.stopVM(req, ctx)),
    version: wrap((req) => service.version(req)),
  });
  server.registerService(PodVMInfoDefinition, {
    getInfo: wrap((req, ctx) => service.getInfo(req, ctx)),
  });
  return server;
}
