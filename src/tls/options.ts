// TLS settings, upstream's flags and env names (docs/upstream-compat.md §2.3). The same spec serves the
// daemon (client side) and, via the forwarder's flag set, the pod VM (server side).
import { ConfigError, bool, list, str, type Resolved } from "../config/options.ts";
import { opensslCiphers } from "./ciphers.ts";

export const TLS_OPTIONS = {
  caCertFile: str(
    "ca-cert-file",
    "CACERT_FILE",
    "",
    "CA certificate file (custom TLS; then no CA is generated)",
  ),
  certFile: str("cert-file", "CERT_FILE", "", "TLS certificate file (custom TLS)"),
  certKey: str("cert-key", "CERT_KEY", "", "TLS private key file (custom TLS)"),
  skipVerify: bool(
    "tls-skip-verify",
    "TLS_SKIP_VERIFY",
    false,
    "do not verify the peer's certificate (testing only)",
  ),
  minVersion: str(
    "tls-min-version",
    "TLS_MIN_VERSION",
    "",
    "minimum TLS version: VersionTLS12 or VersionTLS13",
  ),
  cipherSuites: list(
    "tls-cipher-suites",
    "TLS_CIPHER_SUITES",
    "TLS 1.2 cipher suites, comma-separated IANA names",
  ),
  disableTls: bool("disable-tls", undefined, false, "talk plain TCP to the pod VM (debugging only)"),
};

export type TlsConfig = Resolved<typeof TLS_OPTIONS>;

export type NodeTlsVersion = "TLSv1.2" | "TLSv1.3";

/** Go's names (and the plain numbers); anything older than 1.2 is raised to 1.2, upstream's floor. */
export function nodeMinVersion(text: string): NodeTlsVersion {
  switch (text.trim()) {
    case "":
    case "VersionTLS10":
    case "VersionTLS11":
    case "VersionTLS12":
    case "1.0":
    case "1.1":
    case "1.2":
      return "TLSv1.2";
    case "VersionTLS13":
    case "1.3":
      return "TLSv1.3";
    default:
      throw new ConfigError(
        `invalid TLS_MIN_VERSION ${JSON.stringify(text)} (use VersionTLS12 or VersionTLS13)`,
      );
  }
}

/** Check the TLS settings once at start-up, so a typo fails the daemon, not the first sandbox. */
export function validateTlsConfig(config: TlsConfig): void {
  nodeMinVersion(config.minVersion);
  opensslCiphers(config.cipherSuites);
  if ((config.certFile === "") !== (config.certKey === ""))
    throw new ConfigError("CERT_FILE and CERT_KEY must be given together");
  // tlsutil.GetTLSConfigFor refuses the same combination.
  if (config.caCertFile !== "" && config.skipVerify)
    throw new ConfigError("specifying a root certificates file with the insecure flag is not allowed");
}
