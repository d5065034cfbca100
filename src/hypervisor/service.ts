// hypervisor.Hypervisor and podvminfo.PodVMInfo, independent of the transport: src/hypervisor/
// ttrpc.ts and grpc.ts serve this one implementation.
import type {
  CreateVMRequest,
  CreateVMResponse,
  StartVMRequest,
  StartVMResponse,
  StopVMRequest,
  StopVMResponse,
  VersionRequest,
  VersionResponse,
} from "../gen/hypervisor/hypervisor.ts";
import type { GetInfoRequest, GetInfoResponse } from "../gen/podvminfo/podvminfo.ts";
import type { Logger } from "../log/logger.ts";
import type { SandboxManager } from "../sandbox/manager.ts";
import { HYPERVISOR_VERSION } from "./version.ts";
import { LifecycleError } from "../sandbox/errors.ts";
import { validateSandboxId } from "../sandbox/validate.ts";

export { HYPERVISOR_VERSION };

export interface CallContext {
  /** Fires at the caller's deadline or when its connection closes. */
  signal: AbortSignal;
}

export class HypervisorService {
  private readonly manager: SandboxManager;
  private readonly logger: Logger;

  constructor(manager: SandboxManager, logger: Logger) {
    this.manager = manager;
    this.logger = logger;
  }

  async version(_req: VersionRequest): Promise<VersionResponse> {
    return { version: HYPERVISOR_VERSION };
  }

  async createVM(req: CreateVMRequest): Promise<CreateVMResponse> {
    const res = await this.manager.createVM({
      id: req.id,
      annotations: req.annotations,
      netnsPath: req.networkNamespacePath,
    });
    return { agentSocketPath: res.agentSocketPath };
  }

  async startVM(req: StartVMRequest, ctx: CallContext): Promise<StartVMResponse> {
    await this.manager.startVM(checkedId(req.id), ctx.signal);
    return {};
  }

  /** The caller's deadline is deliberately not passed on: see SandboxManager.stopVM. */
  async stopVM(req: StopVMRequest, ctx: CallContext): Promise<StopVMResponse> {
    const done = this.manager.stopVM(checkedId(req.id));
    if (ctx.signal.aborted) this.logger.debug({ sandbox: req.id }, "StopVM caller's deadline already passed");
    await done;
    return {};
  }

  async getInfo(req: GetInfoRequest, ctx: CallContext): Promise<GetInfoResponse> {
    const id = await this.manager.instanceIdOf(req.PodName, req.PodNamespace, req.Wait, ctx.signal);
    return { VMID: id };
  }
}

/** An id that cannot name a sandbox is refused before any lookup (and echoed bounded). */
function checkedId(id: string): string {
  try {
    validateSandboxId(id);
  } catch (err) {
    throw new LifecycleError("invalid-argument", (err as Error).message, { cause: err });
  }
  return id;
}
