// The daemon's end of the pool protocol (src/userdata/pool.ts): probe an unbound VM and bind it.
// The VM is pinned by its bootstrap certificate's fingerprint, so the pod's user-data only ever
// goes to the VM the pool created (not to whatever answers at its address now).
import tls from "node:tls";
import type { PoolAuthority } from "../tls/pool-authority.ts";
import type { PoolRecord } from "./store.ts";
import { TtrpcClient } from "../ttrpc/index.ts";
import {
  POOL_METHODS,
  POOL_SERVICE,
  bootstrapFingerprint,
  decodeBindResponse,
  decodeStatusResponse,
  encodeJson,
  type BindResponse,
  type StatusResponse,
} from "../userdata/pool.ts";

export interface PoolVmAddress {
  ip: string;
  port: number;
  /** The pool VM's name: CN of its bootstrap certificate. */
  name: string;
  /** bootstrapFingerprint of the certificate the pool issued it. */
  fingerprint: string;
}

/**
 * Where a pooled VM answers: its first IP on the agent port, or FORWARDER_HOST when set — the same
 * rule as the agent proxy's (src/daemon/ports.ts), so a test that plays the VM on this host sees both.
 */
export function poolVmAddress(
  rec: Pick<PoolRecord, "instance" | "name" | "fingerprint">,
  at: { forwarderHost?: string; forwarderPort: number },
): PoolVmAddress {
  const host = at.forwarderHost ?? "";
  return {
    ip: host !== "" ? host : (rec.instance?.ips[0] ?? ""),
    port: at.forwarderPort,
    name: rec.name,
    fingerprint: rec.fingerprint,
  };
}

export class PoolBindError extends Error {
  override name = "PoolBindError";
}

async function connect(
  vm: PoolVmAddress,
  authority: PoolAuthority,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<TtrpcClient> {
  const socket = tls.connect({
    host: vm.ip,
    port: vm.port,
    servername: vm.name,
    ca: authority.caCertPem,
    cert: authority.clientCertPem,
    key: authority.clientKeyPem,
    minVersion: "TLSv1.2",
    checkServerIdentity: (host, cert) => {
      const err = tls.checkServerIdentity(host, cert);
      if (err) return err;
      return bootstrapFingerprint(cert.raw) === vm.fingerprint
        ? undefined
        : new PoolBindError(`${vm.ip}:${vm.port} presented another VM's certificate`);
    },
  });
  const deadline = AbortSignal.timeout(timeoutMs);
  const abort = signal ? AbortSignal.any([deadline, signal]) : deadline;
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void =>
        reject(new PoolBindError(`no TLS handshake with ${vm.ip}:${vm.port} in time`));
      abort.addEventListener("abort", onAbort, { once: true });
      socket.once("secureConnect", () => {
        abort.removeEventListener("abort", onAbort);
        resolve();
      });
      socket.once("error", (err: Error) => {
        abort.removeEventListener("abort", onAbort);
        reject(new PoolBindError(`connecting to pool VM ${vm.ip}:${vm.port}: ${err.message}`));
      });
    });
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return TtrpcClient.connect({ socket });
}

/** Whether the VM is up and unbound (the pool's readiness check). */
export async function probePoolVm(
  vm: PoolVmAddress,
  authority: PoolAuthority,
  timeoutMs = 5000,
): Promise<StatusResponse> {
  const client = await connect(vm, authority, timeoutMs);
  try {
    return decodeStatusResponse(
      await client.call(POOL_SERVICE, POOL_METHODS.status, new Uint8Array(0), { timeoutMs }),
    );
  } finally {
    client.close();
  }
}

/** Push the pod's user-data to the VM; resolves once the VM has written and applied it. */
export async function bindPoolVm(
  vm: PoolVmAddress,
  authority: PoolAuthority,
  userData: string,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<BindResponse> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const client = await connect(vm, authority, timeoutMs, opts.signal);
  try {
    const payload = encodeJson({ vm: vm.fingerprint, "user-data": userData });
    return decodeBindResponse(
      await client.call(POOL_SERVICE, POOL_METHODS.bind, payload, { timeoutMs, signal: opts.signal }),
    );
  } finally {
    client.close();
  }
}
