export {
  CertAuthority,
  TlsMaterialError,
  CA_ORG,
  CLIENT_ORG,
  type CertAuthorityOptions,
} from "./authority.ts";
export type { CertAndKey } from "./certgen.ts";
export { TLS_OPTIONS, validateTlsConfig, nodeMinVersion, type TlsConfig } from "./options.ts";
export {
  buildClientTls,
  sharedClientTls,
  apfTlsFields,
  tlsServerName,
  usesAutoCa,
  PODVM_SERVER_NAME,
  type ApfTlsFields,
} from "./client.ts";
export { buildServerTls, type ServerTlsFlags, type ApfTlsInput } from "./server.ts";
export { opensslCiphers } from "./ciphers.ts";
