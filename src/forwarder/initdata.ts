// initdata on the pod VM (CAA pkg/userdata/provision.go extractInitdataAndHash, pkg/initdata;
// docs/upstream-compat.md §5.3): /run/peerpod/initdata (gzip+base64 TOML) is unpacked into the allowed
// files and its digest written to /run/peerpod/initdata.digest, which attesters read.
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../log/logger.ts";
import { decodeInitdata, encodeInitdata, initdataDigest, parseInitdata } from "../userdata/initdata.ts";
import { INITDATA_FILES_ALLOWLIST, PEERPOD_PATHS } from "../userdata/paths.ts";
import { writeProvisioned } from "./write.ts";

/** Written when the user-data carried no initdata, so the digest (and attestation) always exist. */
export const DUMMY_INITDATA_TOML = `algorithm = "sha256"
version = "0.1.0"

[data]
"aa.toml" = ""
`;

/** Returns the hex digest written. */
export async function processInitdata(root: string, logger: Logger): Promise<string> {
  const file = path.join(root, PEERPOD_PATHS.initdata);
  const present = await access(file).then(
    () => true,
    () => false,
  );
  if (!present) {
    logger.info(`${PEERPOD_PATHS.initdata} not found; writing a default one`);
    await writeProvisioned(root, PEERPOD_PATHS.initdata, encodeInitdata(DUMMY_INITDATA_TOML));
  }
  const toml = decodeInitdata(await readFile(file, "utf8"));
  const initdata = parseInitdata(toml);
  for (const [name, content] of Object.entries(initdata.data)) {
    const target = path.posix.join(path.posix.dirname(PEERPOD_PATHS.initdata), name);
    if (!INITDATA_FILES_ALLOWLIST.includes(target)) {
      logger.warn(`File: ${name} is not allowed in initdata.`);
      continue;
    }
    await writeProvisioned(root, target, content);
    logger.info(`Wrote ${target}`);
  }
  const digest = initdataDigest(toml, initdata.algorithm);
  await writeProvisioned(root, PEERPOD_PATHS.initdataDigest, digest);
  logger.info({ algorithm: initdata.algorithm }, `Wrote ${PEERPOD_PATHS.initdataDigest}`);
  return digest;
}
