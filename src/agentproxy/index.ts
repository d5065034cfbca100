export { AgentProxy, type AgentProxyOptions } from "./proxy.ts";
export type { CallObserver } from "../relay/relay.ts";
export { AgentConnectError, formatAddress } from "./errors.ts";
export { listenUnix, type UnixListener } from "./listen-unix.ts";
export {
  editCreateContainerForWorker,
  CDI_ANNOTATION,
  DEFAULT_CDI_DEVICE,
  DEFAULT_GPUS_ANNOTATION,
} from "./create-container.ts";
