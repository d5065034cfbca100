// kata's runtime-rs called the remote hypervisor under proto package `remote` (service `remote.Hypervisor`,
// KATA src/libs/protocols/protos/remote.proto before kata 3.23; the messages are identical to
// KATA src/runtime/protocols/hypervisor/hypervisor.proto). Serving the same handlers under both names keeps
// those older Rust shims from getting Unimplemented.
import { HypervisorDefinition } from "../gen/hypervisor/hypervisor.ts";

export const LEGACY_HYPERVISOR_SERVICE = "remote.Hypervisor";

/** The definition of hypervisor.Hypervisor under the older name (ttrpc; gRPC through grpc-definition.ts). */
export const LegacyHypervisorDefinition = { ...HypervisorDefinition, fullName: LEGACY_HYPERVISOR_SERVICE };
