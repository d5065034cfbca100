// What a warm-pool VM boots with and how it is bound to a pod, shared by the daemon (src/pool/) and
// the forwarder in the VM (src/forwarder/pool-bind.ts). A pooled VM's user-data carries nothing of any
// pod: one file with the pool CA and the VM's own bootstrap certificate. The pod's user-data — the
// same #cloud-config the cold path hands the cloud — arrives later in one Bind call, over mTLS on the
// agent port. Upstream's pod-VM images do not know this file (process-user-data skips it), so they
// stay on the cold path; the pool needs our forwarder in the image.
import { X509Certificate } from "node:crypto";
import { renderCloudConfig } from "./cloud-config.ts";

export const POOL_PATHS = {
  /** Written from the pool VM's user-data: `{"pool-ca", "bootstrap-cert", "bootstrap-key"}`. */
  bootstrap: "/run/peerpod/pool-bootstrap.json",
  /** Written once a Bind is accepted, before its files: a VM that has it is never unbound again. */
  bound: "/run/peerpod/pool-bound",
} as const;

/** ttrpc service of an unbound VM. Payloads are JSON (a private protocol between our two ends). */
export const POOL_SERVICE = "peerpod.pool.v1.Pool";
export const POOL_METHODS = { bind: "Bind", status: "Status" } as const;

/** A bind carries a user-data document; bounded well above any cloud's user-data limit. */
export const MAX_BIND_BYTES = 1 << 20;

export interface PoolBootstrap {
  /** Client certificates of a Bind must chain to this CA. */
  "pool-ca": string;
  /** The VM's server certificate (issued by the pool CA) and key for the unbound listener. */
  "bootstrap-cert": string;
  "bootstrap-key": string;
}

export interface BindRequest {
  /** Fingerprint of the bootstrap certificate of the VM this bind is for (bootstrapFingerprint). */
  vm: string;
  /** The pod's #cloud-config, exactly what the cold path's user-data would have been. */
  "user-data": string;
}

export interface BindResponse {
  "initdata-digest": string;
  written: string[];
}

export type PoolVmState = "unbound" | "binding" | "bound" | "failed";

export interface StatusResponse {
  state: PoolVmState;
  vm: string;
}

export class PoolProtocolError extends Error {
  override name = "PoolProtocolError";
}

export function renderPoolUserData(bootstrap: PoolBootstrap): string {
  return renderCloudConfig([{ path: POOL_PATHS.bootstrap, content: JSON.stringify(bootstrap, null, 2) }]);
}

/** SHA-256 fingerprint of a certificate (PEM or DER), as lower-case hex without separators. */
export function bootstrapFingerprint(cert: string | Buffer): string {
  return new X509Certificate(cert).fingerprint256.replaceAll(":", "").toLowerCase();
}

export function parsePoolBootstrap(text: string): PoolBootstrap {
  const obj = parseObject(text, "pool bootstrap");
  for (const key of ["pool-ca", "bootstrap-cert", "bootstrap-key"] as const)
    if (typeof obj[key] !== "string" || obj[key] === "")
      throw new PoolProtocolError(`pool bootstrap: ${key} is missing or not a string`);
  return obj as unknown as PoolBootstrap;
}

export function encodeJson(value: BindRequest | BindResponse | StatusResponse): Uint8Array {
  return Buffer.from(JSON.stringify(value), "utf8");
}

export function decodeBindRequest(payload: Uint8Array): BindRequest {
  if (payload.length > MAX_BIND_BYTES)
    throw new PoolProtocolError(`bind request of ${payload.length} bytes exceeds ${MAX_BIND_BYTES}`);
  const obj = parseObject(Buffer.from(payload).toString("utf8"), "bind request");
  if (typeof obj.vm !== "string" || !/^[0-9a-f]{64}$/.test(obj.vm))
    throw new PoolProtocolError("bind request: vm must be a SHA-256 certificate fingerprint");
  if (typeof obj["user-data"] !== "string")
    throw new PoolProtocolError("bind request: user-data must be a string");
  return { vm: obj.vm, "user-data": obj["user-data"] };
}

export function decodeBindResponse(payload: Uint8Array): BindResponse {
  const obj = parseObject(Buffer.from(payload).toString("utf8"), "bind response");
  if (typeof obj["initdata-digest"] !== "string" || !Array.isArray(obj.written))
    throw new PoolProtocolError("bind response: initdata-digest or written missing");
  return obj as unknown as BindResponse;
}

export function decodeStatusResponse(payload: Uint8Array): StatusResponse {
  const obj = parseObject(Buffer.from(payload).toString("utf8"), "status response");
  if (typeof obj.state !== "string" || typeof obj.vm !== "string")
    throw new PoolProtocolError("status response: state or vm missing");
  return obj as unknown as StatusResponse;
}

function parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The text itself is never echoed: it may hold keys.
    throw new PoolProtocolError(`${what}: not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new PoolProtocolError(`${what}: not a JSON object`);
  return value as Record<string, unknown>;
}
