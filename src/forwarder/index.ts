export { runForwarder, ForwarderError, type ForwarderHandle } from "./forwarder.ts";
export { forwarderMain } from "./main.ts";
export { FORWARDER_OPTIONS, type ForwarderConfig } from "./options.ts";
export {
  provisionFiles,
  ProvisionError,
  DEFAULT_CIDATA_DIR,
  type ProvisionOptions,
  type ProvisionResult,
} from "./provision.ts";
export { processInitdata, DUMMY_INITDATA_TOML } from "./initdata.ts";
export {
  detectCloud,
  fetchAwsUserData,
  fetchAzureUserData,
  DEFAULT_IMDS_URL,
  type CloudKind,
} from "./imds.ts";
export { vmEdits, addPodNetworkNamespace, clearSandboxDns, createContainerInVm } from "./edits.ts";
export { CloudVolumeMounter, CLOUD_VOLUME_BASE } from "./cloud-volumes.ts";
