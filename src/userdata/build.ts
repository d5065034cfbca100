// The user-data CreateVM hands to the provider: upstream's write_files list, in upstream's
// order and under upstream's conditions (CAA pkg/adaptor/cloud/cloud.go CreateVM; docs/upstream-compat.md §3.1).
import { renderApfJson, type ApfConfig } from "./apf-config.ts";
import { renderCloudConfig, type WriteFile } from "./cloud-config.ts";
import { PEERPOD_PATHS } from "./paths.ts";

/** Upstream cloudinit.DefaultAuthfileLimit: a larger auth.json is left out (and logged). */
export const AUTH_JSON_LIMIT = 12288;

export interface UserDataOptions {
  apf: ApfConfig;
  /** Merged pull-secret auths `{"auths":{…}}`; omitted from the user-data if over 12288 bytes. */
  authJson?: string;
  /** Already gzip+base64 (encodeInitdata, or the global INITDATA). */
  initdata?: string;
  /** ENABLE_SCRATCH_SPACE: adds the empty scratch-space marker. */
  scratchSpace?: boolean;
}

export function authJsonFits(authJson: string): boolean {
  return Buffer.byteLength(authJson, "utf8") <= AUTH_JSON_LIMIT;
}

export function buildWriteFiles(opts: UserDataOptions): WriteFile[] {
  const files: WriteFile[] = [{ path: PEERPOD_PATHS.apfConfig, content: renderApfJson(opts.apf) }];
  if (opts.authJson !== undefined && opts.authJson !== "" && authJsonFits(opts.authJson)) {
    files.push({ path: PEERPOD_PATHS.authJson, content: opts.authJson });
  }
  if (opts.initdata !== undefined && opts.initdata !== "") {
    files.push({ path: PEERPOD_PATHS.initdata, content: opts.initdata });
  }
  if (opts.scratchSpace === true) files.push({ path: PEERPOD_PATHS.scratchSpaceMarker, content: "" });
  return files;
}

export function buildUserData(opts: UserDataOptions): string {
  return renderCloudConfig(buildWriteFiles(opts));
}
