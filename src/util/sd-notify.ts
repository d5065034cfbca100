// systemd's readiness protocol (sd_notify(3)) for a unit of Type=notify. Upstream's pod-VM image runs
// the agent-protocol-forwarder as one (CAA src/cloud-api-adaptor/podvm/files/etc/systemd/system/
// agent-protocol-forwarder.service), and upstream's starter (CAA src/cloud-api-adaptor/cmd/starter.go)
// sends READY=1 once it listens and STOPPING=1 when it shuts down: a forwarder that never sends
// READY=1 is killed when the unit's start times out, and restarted, again and again.
//
// Node cannot send on a unix datagram socket, so the message goes through systemd-notify(1), with
// --pid= this process: systemd takes notifications from the unit's main process only (NotifyAccess=main,
// the default), and as root systemd-notify may send them on its behalf. --no-block: it then need not
// wait for systemd to have read the message (a barrier meant for senders that exit, which this one does
// not claim to be).
import type { Logger } from "../log/logger.ts";

export type SdState = "READY=1" | "STOPPING=1";

/** Where systemd-notify is looked up; tests point it elsewhere. */
export const SD_NOTIFY_COMMAND = "systemd-notify";

/**
 * Tells systemd `state` when this process runs under a unit that waits for it (NOTIFY_SOCKET set);
 * otherwise does nothing. Resolves true once sent. Never throws: a failure is logged, the unit's
 * start then times out as it would without the message.
 */
export function sdNotify(
  state: SdState,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
  command = SD_NOTIFY_COMMAND,
): Promise<boolean> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve(false);
  // Loaded only here: a forwarder outside systemd never pays for node:child_process.
  const { execFile } = process.getBuiltinModule("node:child_process");
  return new Promise((resolve) => {
    execFile(
      command,
      ["--no-block", `--pid=${process.pid}`, state],
      { env, timeout: 5_000 },
      (err, _out, stderr) => {
        if (err) {
          const why = stderr.trim() || err.message;
          logger.warn({ state, err: why }, `cannot notify systemd (${command}): ${why}`);
          resolve(false);
          return;
        }
        logger.debug({ state }, "notified systemd");
        resolve(true);
      },
    );
  });
}
