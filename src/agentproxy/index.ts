export {
  AgentProxy,
  AGENT_SERVICE,
  HEALTH_SERVICE,
  AGENT_SERVICES,
  type AgentProxyOptions,
} from "./proxy.ts";
export { AgentConnectError, formatAddress } from "./errors.ts";
export { formatGoDuration } from "./duration.ts";
export { AgentRelay, type CallObserver, type PayloadEdit, type RelayOptions } from "./relay.ts";
export { listenUnix, type UnixListener } from "./listen-unix.ts";
export { withBackoff, DialTimeoutError, type BackoffOptions } from "./dial.ts";
export {
  editCreateContainerForWorker,
  decodeCreateContainer,
  encodeCreateContainer,
  CDI_ANNOTATION,
  DEFAULT_CDI_DEVICE,
  DEFAULT_GPUS_ANNOTATION,
} from "./create-container.ts";
