// kata's runtime-rs called the remote hypervisor under proto package `remote` (service `remote.Hypervisor`,
// KATA src/libs/protocols/protos/remote.proto before kata 3.23; the messages are identical to
// KATA src/runtime/protocols/hypervisor/hypervisor.proto). Serving the same handlers under both names keeps
// those older Rust shims from getting Unimplemented.
import { HypervisorDefinition, HypervisorService as HypervisorGrpc } from "../gen/hypervisor/hypervisor.ts";

export const LEGACY_HYPERVISOR_SERVICE = "remote.Hypervisor";

/** The ttrpc definition of hypervisor.Hypervisor under the older name. */
export const LegacyHypervisorDefinition = { ...HypervisorDefinition, fullName: LEGACY_HYPERVISOR_SERVICE };

/** The gRPC service of hypervisor.Hypervisor with every path moved to /remote.Hypervisor/<Method>. */
export const LegacyHypervisorGrpc = Object.fromEntries(
  Object.entries(HypervisorGrpc).map(([key, method]) => [
    key,
    {
      ...method,
      path: method.path.replace(`/${HypervisorDefinition.fullName}/`, `/${LEGACY_HYPERVISOR_SERVICE}/`),
    },
  ]),
) as unknown as typeof HypervisorGrpc;
