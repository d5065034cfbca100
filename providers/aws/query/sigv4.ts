// Signature Version 4 for a form POST (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
// the headers to send with it. The signing key is derived once per day, region and service.
import { createHash, createHmac } from "node:crypto";

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface SignedRequest {
  host: string;
  path: string;
  body: string;
  /** Lower-case names; signed as given, with host, x-amz-date and the session token added. */
  headers: Record<string, string>;
}

// One credential is in use at a time: a rotated secret or a new day replaces the cached key.
let cached: { secret: string; scope: string; key: Buffer } | undefined;

function signingKey(secret: string, day: string, region: string, service: string): Buffer {
  const scope = `${day}/${region}/${service}`;
  if (cached?.secret !== secret || cached.scope !== scope) {
    const kDate = createHmac("sha256", `AWS4${secret}`).update(day).digest();
    const kRegion = createHmac("sha256", kDate).update(region).digest();
    const kService = createHmac("sha256", kRegion).update(service).digest();
    cached = { secret, scope, key: createHmac("sha256", kService).update("aws4_request").digest() };
  }
  return cached.key;
}

/** RFC 3986 unreserved characters kept, everything else percent-encoded (SigV4's URI encoding). */
export function uriEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** 20261202T215809Z */
export function amzDate(now: Date): string {
  return now.toISOString().replace(/[-:]|\.\d{3}/g, "");
}

// Each path segment URI-encoded once, as SigV4 asks for every service but S3.
function canonicalPath(path: string): string {
  return path.split("/").map(uriEscape).join("/");
}

export function signRequest(
  req: SignedRequest,
  creds: SigningCredentials,
  region: string,
  service: string,
  now: Date,
): Record<string, string> {
  const date = amzDate(now);
  const day = date.slice(0, 8);
  const headers: Record<string, string> = { ...req.headers, host: req.host, "x-amz-date": date };
  if (creds.sessionToken) headers["x-amz-security-token"] = creds.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n].trim().replace(/\s+/g, " ")}\n`).join("");
  const signedHeaders = names.join(";");
  const payloadHash = createHash("sha256").update(req.body).digest("hex");
  const canonical = `POST\n${canonicalPath(req.path)}\n\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${createHash("sha256").update(canonical).digest("hex")}`;
  const signature = createHmac("sha256", signingKey(creds.secretAccessKey, day, region, service))
    .update(toSign)
    .digest("hex");
  headers.authorization =
    `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
