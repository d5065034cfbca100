// initdata: TOML `{algorithm, version, data}` delivered gzip+base64 in /run/peerpod/initdata
// (CAA pkg/initdata/initdata.go; docs/upstream-compat.md §5.3). Upstream uses Go's gzip.NewWriter
// (default level); the deflate bytes differ from Go's but decode the same.
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { parse as parseToml } from "smol-toml";

export class InitdataError extends Error {
  override name = "InitdataError";
}

export interface Initdata {
  algorithm: string;
  version: string;
  data: Record<string, string>;
}

export type InitdataAlgorithm = "sha256" | "sha384" | "sha512";

const MAX_DECODED_BYTES = 16 * 1024 * 1024;

export function encodeInitdata(toml: string): string {
  return gzipSync(Buffer.from(toml, "utf8")).toString("base64");
}

/** base64 (StdEncoding; CR/LF ignored as Go's decoder does) → gunzip → UTF-8 TOML text. */
export function decodeInitdata(b64: string): string {
  const clean = b64.replace(/[\r\n]/g, "");
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) {
    throw new InitdataError("initdata is not valid base64 (standard alphabet, padded)");
  }
  let raw: Buffer;
  try {
    raw = gunzipSync(Buffer.from(clean, "base64"), { maxOutputLength: MAX_DECODED_BYTES });
  } catch (err) {
    throw new InitdataError(`initdata is not valid gzip data: ${(err as Error).message}`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw new InitdataError("initdata TOML is not valid UTF-8");
  }
}

/** Hex digest of the TOML bytes, written to /run/peerpod/initdata.digest. */
export function initdataDigest(toml: string | Uint8Array, algorithm: string): string {
  if (algorithm !== "sha256" && algorithm !== "sha384" && algorithm !== "sha512") {
    throw new InitdataError(`error creating initdata digest, algorithm ${algorithm} is not supported`);
  }
  const bytes = typeof toml === "string" ? Buffer.from(toml, "utf8") : toml;
  return createHash(algorithm).update(bytes).digest("hex");
}

/** Parse the TOML body like go-toml's Unmarshal into InitDataBody: unknown keys are ignored. */
export function parseInitdata(toml: string): Initdata {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(toml);
  } catch (err) {
    throw new InitdataError(`initdata is not valid TOML: ${(err as Error).message}`);
  }
  return {
    algorithm: stringField(doc, "algorithm"),
    version: stringField(doc, "version"),
    data: dataTable(doc.data),
  };
}

function stringField(doc: Record<string, unknown>, key: string): string {
  const v = doc[key];
  if (v === undefined) return "";
  if (typeof v !== "string") throw new InitdataError(`initdata: ${key} must be a string`);
  return v;
}

function dataTable(v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Date) {
    throw new InitdataError("initdata: data must be a table of strings");
  }
  const out: Record<string, string> = {};
  for (const [name, content] of Object.entries(v)) {
    if (typeof content !== "string") throw new InitdataError(`initdata: data.${name} must be a string`);
    out[name] = content;
  }
  return out;
}
