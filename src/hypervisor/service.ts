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
import { HypervisorDefinition } from "../gen/hypervisor/hypervisor.ts";
import {
  PodVMInfoDefinition,
  type GetInfoRequest,
  type GetInfoResponse,
} from "../gen/podvminfo/podvminfo.ts";
import { CallGate } from "../handover/gate.ts";
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
  /** Every call that touches sandboxes passes it (shutdown and handover hold and drain it). */
  readonly gate = new CallGate();

  constructor(manager: SandboxManager, logger: Logger) {
    this.manager = manager;
    this.logger = logger;
  }

  async version(_req: VersionRequest): Promise<VersionResponse> {
    return { version: HYPERVISOR_VERSION };
  }

  async createVM(req: CreateVMRequest, ctx?: CallContext): Promise<CreateVMResponse> {
    return this.gate.run(
      async () => {
        const res = await this.manager.createVM({
          id: req.id,
          annotations: req.annotations,
          netnsPath: req.networkNamespacePath,
        });
        return { agentSocketPath: res.agentSocketPath };
      },
      (c) => c.callMethod(HypervisorDefinition, "createVM", req, { signal: ctx?.signal }),
    );
  }

  async startVM(req: StartVMRequest, ctx: CallContext): Promise<StartVMResponse> {
    return this.gate.run(
      async () => {
        await this.manager.startVM(checkedId(req.id), ctx.signal);
        return {};
      },
      (c) => c.callMethod(HypervisorDefinition, "startVM", req, { signal: ctx.signal }),
    );
  }

  /** The caller's deadline is deliberately not passed on: see SandboxManager.stopVM. */
  async stopVM(req: StopVMRequest, ctx: CallContext): Promise<StopVMResponse> {
    return this.gate.run(
      async () => {
        const done = this.manager.stopVM(checkedId(req.id));
        if (ctx.signal.aborted)
          this.logger.debug({ sandbox: req.id }, "StopVM caller's deadline already passed");
        await done;
        return {};
      },
      (c) => c.callMethod(HypervisorDefinition, "stopVM", req),
    );
  }

  async getInfo(req: GetInfoRequest, ctx: CallContext): Promise<GetInfoResponse> {
    return this.gate.run(
      async () => ({
        VMID: await this.manager.instanceIdOf(req.PodName, req.PodNamespace, req.Wait, ctx.signal),
      }),
      (c) => c.callMethod(PodVMInfoDefinition, "getInfo", req, { signal: ctx.signal }),
    );
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
