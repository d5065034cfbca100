// Where the daemon's sockets and state go by default: /run/peerpod as root, else a user-writable
// runtime directory. Its own module so that `caa version` and `caa sandbox` find the default
// socket without loading every option table of the daemon (daemon.ts).
import { tmpdir } from "node:os";
import { join } from "node:path";

export function runtimeRoot(): string {
  if (process.getuid?.() === 0) return "/run/peerpod";
  const xdg = process.env.XDG_RUNTIME_DIR;
  return join(xdg && xdg !== "" ? xdg : tmpdir(), `peerpod-${process.getuid?.() ?? "user"}`);
}
