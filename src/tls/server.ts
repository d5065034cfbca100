// The pod VM's side of the mTLS link (CAA pkg/forwarder/forwarder.go NewDaemon + tlsutil.GetTLSConfigFor;
// docs/upstream-compat.md §5.2): the cert and key come from -cert-file/-cert-key or else apf.json, the CA from
// -ca-cert-file or else apf.json `tls-client-ca`; when a CA is present the client must present a cert
// that chains to it.
import { readFileSync } from "node:fs";
import type tls from "node:tls";
import { ConfigError } from "../config/options.ts";
import { opensslCiphers } from "./ciphers.ts";
import { nodeMinVersion } from "./options.ts";

export interface ServerTlsFlags {
  caCertFile: string;
  certFile: string;
  certKey: string;
  skipVerify: boolean;
  disableTls: boolean;
}

/** The TLS part of apf.json as the forwarder reads it. */
export interface ApfTlsInput {
  tlsServerCert?: string;
  tlsServerKey?: string;
  tlsClientCa?: string;
  tlsMinVersion?: string;
  tlsCipherSuites?: readonly string[];
}

/** Options for `tls.createServer`, or null when TLS is disabled. */
export function buildServerTls(flags: ServerTlsFlags, apf: ApfTlsInput): tls.TlsOptions | null {
  if (flags.disableTls) return null;
  const fromFiles = flags.certFile !== "" && flags.certKey !== "";
  const cert = fromFiles ? readPem(flags.certFile, "-cert-file") : (apf.tlsServerCert ?? "");
  const key = fromFiles ? readPem(flags.certKey, "-cert-key") : (apf.tlsServerKey ?? "");
  if (cert === "" || key === "")
    throw new ConfigError(
      "no TLS server certificate: apf.json has no tls-server-cert/tls-server-key and -cert-file/-cert-key are not given (or pass -disable-tls)",
    );
  const ca = flags.caCertFile !== "" ? readPem(flags.caCertFile, "-ca-cert-file") : (apf.tlsClientCa ?? "");
  if (ca !== "" && flags.skipVerify)
    throw new ConfigError("specifying a root certificates file with the insecure flag is not allowed");
  let minVersion: tls.SecureVersion;
  let ciphers: string | undefined;
  try {
    minVersion = nodeMinVersion(apf.tlsMinVersion ?? "");
    ciphers = opensslCiphers(apf.tlsCipherSuites ?? []);
  } catch (err) {
    throw new ConfigError(`apf.json: ${(err as Error).message}`);
  }
  const mutual = ca !== "";
  return {
    cert,
    key,
    ca: mutual ? ca : undefined,
    requestCert: mutual,
    rejectUnauthorized: mutual,
    minVersion,
    ciphers,
  };
}

function readPem(file: string, flag: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(
      `cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}
