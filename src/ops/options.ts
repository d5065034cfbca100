// Settings of the ops server, declared once (flag + upstream env name + default) for the daemon's
// config layer to resolve (src/config/options.ts).
import { int, str } from "../config/options.ts";

export const opsOptions = {
  probePort: int(
    "probe-port",
    "PROBE_PORT",
    8000,
    "Port of the startup probe, metrics and admin API on 127.0.0.1",
  ),
  runtimeClassName: str(
    "runtimeclass-name",
    "RUNTIMECLASS_NAME",
    "kata-remote",
    "Runtime class of peer pods; the startup probe waits for this node's pods of this class",
  ),
};
