// Where process-user-data finds the user-data when no cidata volume is attached (CAA
// pkg/userdata/provision.go, imds.go, heuristics.go; docs/upstream-compat.md §5.3). Base URLs are
// parameters so tests can point them at a local server.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { httpText } from "./http-text.ts";

export const DEFAULT_IMDS_URL = "http://169.254.169.254";

export type CloudKind = "aws" | "azure";

/** The Azure VM asset tag Hyper-V sets on Azure (and only there). */
const AZURE_ASSET_TAG = "7783-7084-3265-9085-8269-3286-77";

/** Which cloud this VM runs in, from DMI (upstream also asks CPUID, which Node cannot). */
export async function detectCloud(dmiDir = "/sys/class/dmi/id"): Promise<CloudKind | undefined> {
  const read = (name: string): Promise<string> =>
    readFile(path.join(dmiDir, name), "utf8").then(
      (s) => s.trim(),
      () => "",
    );
  const [vendor, assetTag] = await Promise.all([read("sys_vendor"), read("chassis_asset_tag")]);
  if (vendor === "Amazon EC2") return "aws";
  if (vendor === "Microsoft Corporation" && assetTag === AZURE_ASSET_TAG) return "azure";
  return undefined;
}

export class ImdsError extends Error {
  override name = "ImdsError";
}

/** fetch()'s `ok`. */
const ok = (status: number): boolean => status >= 200 && status < 300;

/** AWS: IMDSv2 token (TTL 60 s, 5 s timeout), falling back to IMDSv1; user-data is returned as is. */
export async function fetchAwsUserData(baseUrl: string, signal: AbortSignal): Promise<string> {
  let token: string | undefined;
  try {
    const res = await httpText(new URL("/latest/api/token", baseUrl), {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": "60" },
      signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
    });
    const text = ok(res.status) ? res.text.trim() : "";
    // Only a header-safe token is usable; anything else means IMDSv1.
    if (/^[\x21-\x7e]{1,1024}$/.test(text)) token = text;
  } catch {
    if (signal.aborted) throw signal.reason;
  }
  const res = await httpText(new URL("/latest/user-data", baseUrl), {
    headers: token !== undefined ? { "X-aws-ec2-metadata-token": token } : {},
    signal,
  });
  if (!ok(res.status)) throw new ImdsError(`AWS IMDS user-data: HTTP ${res.status}`);
  return res.text;
}

/** Azure: the compute userData text, which is base64. */
export async function fetchAzureUserData(baseUrl: string, signal: AbortSignal): Promise<string> {
  const url = new URL("/metadata/instance/compute/userData", baseUrl);
  url.searchParams.set("api-version", "2021-01-01");
  url.searchParams.set("format", "text");
  const res = await httpText(url, { headers: { Metadata: "true" }, signal });
  if (!ok(res.status)) throw new ImdsError(`Azure IMDS userData: HTTP ${res.status}`);
  const text = res.text.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new ImdsError("Azure IMDS userData is not base64");
  return Buffer.from(text, "base64").toString("utf8");
}
