// `caa forwarder` flags: upstream agent-protocol-forwarder's (docs/upstream-compat.md §5.2) plus
// process-user-data's, and a few for running a "VM" that is a local network namespace. Upstream
// reads these from the command line only (systemd passes them), so none has an env name.
import { bool, duration, int, str, type Resolved } from "../config/options.ts";

export const FORWARDER_OPTIONS = {
  config: str("config", undefined, "", "apf.json path (default <root-dir>/run/peerpod/apf.json)"),
  listen: str("listen", undefined, "0.0.0.0:15150", "address the forwarder listens on"),
  kataAgentSocket: str(
    "kata-agent-socket",
    undefined,
    "/run/kata-containers/agent.sock",
    "kata agent socket",
  ),
  podNamespace: str("pod-namespace", undefined, "/run/netns/podns", "pod network namespace (path or name)"),
  hostInterface: str("host-interface", undefined, "", "VM interface towards the worker (dedicated network)"),
  caCertFile: str("ca-cert-file", undefined, "", "client CA file (default: apf.json tls-client-ca)"),
  certFile: str("cert-file", undefined, "", "server certificate file (default: apf.json tls-server-cert)"),
  certKey: str("cert-key", undefined, "", "server key file (default: apf.json tls-server-key)"),
  skipVerify: bool(
    "tls-skip-verify",
    undefined,
    false,
    "accepted for upstream compatibility; refused with a CA",
  ),
  disableTls: bool("disable-tls", undefined, false, "listen with plain TCP (debugging only)"),
  noPodNetwork: bool(
    "no-pod-network",
    undefined,
    false,
    "do not set up the pod network even if apf.json has one",
  ),
  agentDialTimeout: duration(
    "agent-dial-timeout",
    undefined,
    150_000,
    "how long to retry dialling the agent",
  ),
  skipProvision: bool("skip-provision", undefined, false, "do not run the process-user-data step"),
  cidataDir: str("cidata-dir", undefined, "/media/cidata", "mounted cidata volume holding user-data"),
  imds: str("imds", undefined, "auto", "metadata service when there is no cidata: auto, aws, azure or none"),
  imdsUrl: str("imds-url", undefined, "", "metadata service base URL (default http://169.254.169.254)"),
  userDataFetchTimeout: int("user-data-fetch-timeout", undefined, 180, "seconds to keep fetching user-data"),
  diskDetectAttempts: int(
    "disk-detect-attempts",
    undefined,
    15,
    "how often to look for a cloud volume's disk (upstream's CAA_DISK_DETECT_MAX_ATTEMPTS)",
  ),
  diskDetectDelay: duration(
    "disk-detect-delay",
    undefined,
    2_000,
    "pause between those looks (upstream's CAA_DISK_DETECT_RETRY_DELAY)",
  ),
  rootDir: str("root-dir", undefined, "/", "prefix of /run/peerpod and the other written paths"),
  tpmDevice: str(
    "tpm-device",
    undefined,
    "/dev/tpmrm0",
    "TPM whose PCR 8 gets the initdata digest when the forwarder provisions or is bound, if present",
  ),
  version: bool("version", undefined, false, "print the version and exit"),
};

export type ForwarderConfig = Resolved<typeof FORWARDER_OPTIONS>;
