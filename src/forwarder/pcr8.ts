// Measuring the initdata into the VM's TPM, as upstream's image does after process-user-data (its
// drop-in for process-user-data.service: ExecStartPost tpm2_pcrextend 8:sha256=<the digest's first 64
// hex digits>, CAA src/cloud-api-adaptor/podvm). Attestation binds the pod's initdata through PCR 8.
// Done here where our forwarder provisions itself (caa-podvm forwarder) or is bound from the warm
// pool; our process-user-data command, like upstream's binary, leaves it to that drop-in.
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../log/logger.ts";
import { writeProvisioned } from "./write.ts";

/**
 * Written once PCR 8 holds this boot's initdata (under /run: gone at the next boot). A forwarder
 * that provisions itself does so again each time systemd restarts it; a second extension would
 * change PCR 8 and fail every later attestation. (A pool VM's "bound" marker does the same for it.)
 */
export const PCR8_MARKER = "/run/peerpod/initdata.pcr8";

/** extendPcr8 once per boot of the VM whose files are under `root`. */
export async function extendPcr8Once(
  root: string,
  device: string,
  digest: string,
  log: Logger,
): Promise<void> {
  const marker = await readFile(path.join(root, PCR8_MARKER), "utf8").catch(() => undefined);
  if (marker !== undefined) {
    if (marker.trim() !== digest)
      log.warn({ device }, "PCR 8 holds another initdata digest of this boot; not extended again");
    return;
  }
  if (await extendPcr8(device, digest, log)) await writeProvisioned(root, PCR8_MARKER, `${digest}\n`);
}

/** Extends PCR 8 on `device` with `digest` if that device exists (no TPM: nothing to do, false). */
export async function extendPcr8(device: string, digest: string, log: Logger): Promise<boolean> {
  const present = await access(device).then(
    () => true,
    () => false,
  );
  if (!present) return false;
  const { execFile } = process.getBuiltinModule("node:child_process");
  await new Promise<void>((resolve, reject) =>
    execFile(
      "tpm2_pcrextend",
      [`8:sha256=${digest.slice(0, 64)}`],
      { env: { ...process.env, TPM2TOOLS_TCTI: `device:${device}` } },
      (err, _out, stderr) =>
        err ? reject(new Error(`tpm2_pcrextend on ${device}: ${stderr.trim() || err.message}`)) : resolve(),
    ),
  );
  log.info({ device }, "extended PCR 8 with the initdata digest");
  return true;
}
