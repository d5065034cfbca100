// The one place a test decides it cannot run here. Outside CI a missing tool or privilege skips
// the tests that need it, with the reason printed; under CI=true it fails the run naming what is
// missing, so that CI never passes by skipping (scripts/test installs or finds every tool).
import { spawnSync } from "node:child_process";

export const inCI = process.env.CI === "true";

/**
 * `false` when `available`, else the skip reason for node:test's `skip` option (printed once).
 * Under CI=true it throws instead, which fails the test file with the reason.
 */
export function requirement(what: string, available: boolean, hint: string): false | string {
  if (available) return false;
  const reason = `${what} is missing (${hint})`;
  if (inCI) throw new Error(`CI=true and ${reason}: tests do not skip in CI`);
  console.log(`# skipping the tests that need ${what}: ${reason}`);
  return reason;
}

function runs(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: "ignore" }).status === 0;
}

const cache = new Map<string, false | string>();
function once(key: string, check: () => false | string): false | string {
  if (!cache.has(key)) cache.set(key, check());
  return cache.get(key) as false | string;
}

export const isRoot = process.getuid?.() === 0;

/** Network namespaces, veth, VXLAN, tc and iptables need root. */
export function needsRoot(): false | string {
  return once("root", () =>
    requirement("root", isRoot, "network namespaces, veth, VXLAN, tc and iptables need root"),
  );
}

/** kubectl with its built-in kustomize (Debian: kubernetes-client). */
export function needsKubectl(): false | string {
  return once("kubectl", () =>
    requirement("kubectl", runs("kubectl", ["version", "--client"]), "apt-get install kubernetes-client"),
  );
}

/** Mounting a file-backed ext4 disk (the VM side of cloud volumes): root, mkfs.ext4, blkid, loop devices. */
export function needsLoopMount(): false | string {
  return once("loop-mount", () =>
    requirement(
      "loop mounts",
      isRoot &&
        runs("mkfs.ext4", ["-V"]) &&
        runs("blkid", ["-V"]) &&
        runs("test", ["-e", "/dev/loop-control"]),
      "root, e2fsprogs (mkfs.ext4), util-linux (blkid, mount) and /dev/loop-control",
    ),
  );
}

/** systemd-notify (Debian: systemd) sending for another PID (root), and socat to play systemd's notify socket. */
export function needsSystemdNotify(): false | string {
  return once("systemd-notify", () =>
    requirement(
      "systemd-notify",
      isRoot && runs("systemd-notify", ["--version"]) && runs("socat", ["-V"]),
      "root, apt-get install systemd socat",
    ),
  );
}
