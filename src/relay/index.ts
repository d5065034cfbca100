// The ttrpc frame relay used on both sides of the agent path: the daemon's agent proxy (shim →
// VM) and the pod VM's forwarder (daemon → kata agent).
export { AgentRelay, type CallObserver, type PayloadEdit, type RelayOptions } from "./relay.ts";
export { withBackoff, DialTimeoutError, type BackoffOptions } from "./dial.ts";
export {
  AGENT_SERVICE,
  HEALTH_SERVICE,
  AGENT_SERVICES,
  decodeCreateContainer,
  encodeCreateContainer,
} from "./agent.ts";
