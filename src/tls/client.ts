// The daemon's side of the mTLS link to the pod VM (CAA pkg/adaptor/proxy/proxy.go dial,
// factory.go; docs/upstream-compat.md §3.3).
import { readFileSync } from "node:fs";
import tls from "node:tls";
import { ConfigError } from "../config/options.ts";
import type { CertAuthority } from "./authority.ts";
import { opensslCiphers } from "./ciphers.ts";
import { nodeMinVersion, type TlsConfig } from "./options.ts";

/** The server name upstream expects in baked (custom) pod-VM certificates. */
export const PODVM_SERVER_NAME = "podvm-server";

/** True when the daemon's own CA issues the VM's server cert (no CACERT_FILE), as upstream's caService. */
export function usesAutoCa(config: TlsConfig): boolean {
  return !config.disableTls && config.caCertFile === "";
}

/** The name the VM's server cert must carry: the instance name, or `podvm-server` with custom TLS. */
export function tlsServerName(config: TlsConfig, instanceName: string): string {
  return usesAutoCa(config) ? instanceName : PODVM_SERVER_NAME;
}

/**
 * Options for `tls.connect` to one VM, or null when TLS is disabled. Client cert: CERT_FILE/CERT_KEY,
 * else the persisted self-signed one. Trust: CACERT_FILE, else the CA that issued the VM's cert.
 */
export function buildClientTls(
  config: TlsConfig,
  ca: CertAuthority,
  serverName: string,
): tls.ConnectionOptions | null {
  if (config.disableTls) return null;
  const custom = config.certFile !== "" && config.certKey !== "";
  return {
    cert: custom ? readPem(config.certFile, "CERT_FILE") : ca.clientCertPem,
    key: custom ? readPem(config.certKey, "CERT_KEY") : ca.clientKeyPem,
    ca: config.caCertFile !== "" ? readPem(config.caCertFile, "CACERT_FILE") : ca.caCertPem,
    servername: tlsServerName(config, serverName),
    rejectUnauthorized: !config.skipVerify,
    minVersion: nodeMinVersion(config.minVersion),
    ciphers: opensslCiphers(config.cipherSuites),
  };
}

const shared = new WeakMap<CertAuthority, Map<string, tls.SecureContext>>();

/**
 * buildClientTls with one SecureContext per CA and settings, shared by every VM's connection: a
 * context per connection parses the same key and certificates again each time (the daemon dials
 * each sandbox's VM, and redials), and each holds its own copy.
 */
export function sharedClientTls(
  config: TlsConfig,
  ca: CertAuthority,
  serverName: string,
): tls.ConnectionOptions | null {
  const options = buildClientTls(config, ca, serverName);
  if (!options) return null;
  const { servername, rejectUnauthorized, ...contextOptions } = options;
  const key = JSON.stringify(contextOptions);
  let byKey = shared.get(ca);
  if (!byKey) shared.set(ca, (byKey = new Map<string, tls.SecureContext>()));
  let secureContext = byKey.get(key);
  if (!secureContext) byKey.set(key, (secureContext = tls.createSecureContext(contextOptions)));
  return { secureContext, servername, rejectUnauthorized };
}

/** apf.json's TLS keys for one VM, exactly when upstream sets them (CreateVM, docs/upstream-compat.md §3.1 step 5). */
export interface ApfTlsFields {
  "tls-server-cert"?: string;
  "tls-server-key"?: string;
  "tls-client-ca"?: string;
  "tls-min-version"?: string;
  "tls-cipher-suites"?: string[];
}

export async function apfTlsFields(
  config: TlsConfig,
  ca: CertAuthority,
  instanceName: string,
): Promise<ApfTlsFields> {
  if (config.disableTls) return {};
  const out: ApfTlsFields = {};
  if (usesAutoCa(config)) {
    const server = await ca.issueServerCert(instanceName);
    out["tls-server-key"] = server.keyPem;
    out["tls-server-cert"] = server.certPem;
    // ClientCA(): the client cert in use (custom or generated) when no CA file is configured.
    out["tls-client-ca"] = config.certFile !== "" ? readPem(config.certFile, "CERT_FILE") : ca.clientCaPem;
  }
  if (config.minVersion !== "") out["tls-min-version"] = config.minVersion;
  if (config.cipherSuites.length > 0) out["tls-cipher-suites"] = [...config.cipherSuites];
  return out;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(
      `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}
