// What both ends of the agent relay know about the kata agent's protocol: the services the shim
// calls on the agent socket, and the CreateContainer codec both sides' edits use.
import { CreateContainerRequest } from "../gen/agent/agent.ts";
import { Code, TtrpcError } from "../ttrpc/status.ts";

export const AGENT_SERVICE = "grpc.AgentService";
export const HEALTH_SERVICE = "grpc.Health";
/** The services the kata shim uses on the agent socket; upstream registers exactly these two. */
export const AGENT_SERVICES = [AGENT_SERVICE, HEALTH_SERVICE] as const;

/** Decodes a CreateContainer payload; an undecodable one is answered with 3, as a Go ttrpc server would. */
export function decodeCreateContainer(payload: Uint8Array): CreateContainerRequest {
  try {
    return CreateContainerRequest.decode(payload);
  } catch (err) {
    throw new TtrpcError(Code.InvalidArgument, `ttrpc: error unmarshalling payload: ${String(err)}`);
  }
}

export function encodeCreateContainer(req: CreateContainerRequest): Uint8Array {
  return CreateContainerRequest.encode(req).finish();
}
