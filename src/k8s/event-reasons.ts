// The reasons and component of the Events the daemon records (src/k8s/events.ts), apart from the
// Kubernetes client: the daemon names them without loading the client when the integration is off.
export const COMPONENT = "cloud-api-adaptor";
export const START_FAILED_REASON = "PeerPodStartFailed";
export const RECORD_QUARANTINED_REASON = "PeerPodRecordQuarantined";
