// Settings of shutdown and handover. No upstream equivalent (upstream has no state to hand over),
// so the names are ours.
import { duration } from "../config/options.ts";

export const handoverOptions = {
  drainTimeoutMs: duration(
    "drain-timeout",
    "DRAIN_TIMEOUT",
    25_000,
    "On SIGTERM, how long calls in flight may finish before the daemon stops (keep it under the pod's terminationGracePeriodSeconds)",
  ),
  handoverTimeoutMs: duration(
    "handover-timeout",
    "HANDOVER_TIMEOUT",
    330_000,
    "How long a daemon handing over waits for its calls in flight (StartVM is bounded by PROXY_TIMEOUT); past it the handover is refused and the new daemon exits",
  ),
};
