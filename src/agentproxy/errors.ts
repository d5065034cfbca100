import { formatGoDuration } from "../util/duration.ts";

/**
 * StartVM's agent-connect stage did not finish: the VM's forwarder never accepted an mTLS
 * connection within PROXY_TIMEOUT. The message names the stage, the address, the time waited and
 * the last dial error, e.g. `agent-connect: no answer from 10.0.0.5:15150 after 5m (last error: …)`.
 */
export class AgentConnectError extends Error {
  readonly address: string;
  readonly timeoutMs: number;
  readonly lastError: Error | undefined;

  constructor(address: string, timeoutMs: number, lastError: Error | undefined) {
    const last = lastError ? ` (last error: ${lastError.message})` : "";
    super(`agent-connect: no answer from ${address} after ${formatGoDuration(timeoutMs)}${last}`);
    this.name = "AgentConnectError";
    this.address = address;
    this.timeoutMs = timeoutMs;
    this.lastError = lastError;
  }
}

/** host:port, with IPv6 literals bracketed. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
