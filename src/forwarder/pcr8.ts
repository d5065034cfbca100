// Measuring the initdata into the VM's TPM, as upstream's image does after process-user-data (its
// drop-in for process-user-data.service: ExecStartPost tpm2_pcrextend 8:sha256=<the digest's first 64
// hex digits>, CAA src/cloud-api-adaptor/podvm). Attestation binds the pod's initdata through PCR 8.
// Done here where our forwarder provisions itself (caa-podvm forwarder) or is bound from the warm
// pool; our process-user-data command, like upstream's binary, leaves it to that drop-in.
import { access } from "node:fs/promises";
import type { Logger } from "../log/logger.ts";

/** Extends PCR 8 on `device` with `digest`, if that device exists (no TPM: nothing to do). */
export async function extendPcr8(device: string, digest: string, log: Logger): Promise<void> {
  const present = await access(device).then(
    () => true,
    () => false,
  );
  if (!present) return;
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
}
