// Fuzz target: the pod VM's user-data path (process-user-data): parseUserData (yaml.v2 strict
// rules), the allowed write_files written under a VM root, then initdata unpacked (base64 → gzip →
// TOML) and its digest written, as provisionFiles and a warm-pool bind do. It must end in files
// under the root or a UserDataError/InitdataError; nothing may appear outside the root.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { processInitdata } from "../../src/forwarder/initdata.ts";
import { writeFiles } from "../../src/forwarder/provision.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { renderCloudConfig } from "../../src/userdata/cloud-config.ts";
import { encodeInitdata, InitdataError } from "../../src/userdata/initdata.ts";
import { parseUserData, UserDataError } from "../../src/userdata/parse.ts";
import { INITDATA_FILES_ALLOWLIST, PEERPOD_PATHS, WRITE_FILES_ALLOWLIST } from "../../src/userdata/paths.ts";
import type { FuzzTarget } from "./driver.ts";
import { nastyString, type Rng } from "./mutator.ts";

const PATHS = [
  ...WRITE_FILES_ALLOWLIST,
  "/root/.ssh/authorized_keys",
  "/run/peerpod/../../etc/passwd",
  "../x",
];

function initdataToml(rng: Rng): string {
  const names = [
    ...INITDATA_FILES_ALLOWLIST.map((p) => path.posix.basename(p)),
    "../aa.toml",
    "evil.sh",
    "a/../cdh.toml",
  ];
  const lines = [
    `algorithm = ${JSON.stringify(rng.pick(["sha256", "sha384", "sha512", "md5", ""]))}`,
    `version = "0.1.0"`,
    "",
    "[data]",
  ];
  for (let i = rng.int(4); i > 0; i--)
    lines.push(
      `${JSON.stringify(rng.chance(0.7) ? rng.pick(names) : nastyString(rng, 64))} = ${JSON.stringify(nastyString(rng, 512))}`,
    );
  return rng.chance(0.2) ? nastyString(rng, 256) : lines.join("\n") + "\n";
}

function content(rng: Rng, file: string): string {
  if (file === PEERPOD_PATHS.initdata && rng.chance(0.7)) {
    const text = encodeInitdata(initdataToml(rng));
    return rng.chance(0.2) ? text.slice(0, rng.int(text.length)) : text;
  }
  return nastyString(rng, 1024);
}

function nested(rng: Rng): string {
  const depth = rng.size(20_000);
  const open = rng.pick(["[", "{a: ", "- ", "&a [", "!!map {", "? "]);
  return `write_files: ${open.repeat(depth)}`;
}

function generate(rng: Rng): Buffer {
  const r = rng.next();
  if (r < 0.1) return Buffer.from(nested(rng));
  if (r < 0.2) return Buffer.from(nastyString(rng, 8192));
  const files = Array.from({ length: rng.size(8) }, () => {
    const p = rng.chance(0.8) ? rng.pick(PATHS) : nastyString(rng, 128);
    return { path: p, content: content(rng, p) };
  });
  let text = renderCloudConfig(files);
  if (rng.chance(0.2))
    text += rng.pick([
      "runcmd:\n  - reboot\n",
      "---\nwrite_files: []\n",
      "write_files:\n  - path: *x\n",
      "x: &x [*x]\n",
    ]);
  return Buffer.from(text);
}

export const userDataTarget: FuzzTarget = {
  name: "user-data",
  timeoutMs: 15_000,
  batch: 100,
  maxInputBytes: 1 << 20,
  open: async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "caa-fuzz-ud-"));
    const root = path.join(dir, "root");
    const logger = silentLogger();
    return {
      generate,
      run: async (input) => {
        let failure: Error | undefined;
        try {
          const files = parseUserData(input.toString("utf8"));
          await writeFiles(root, files, WRITE_FILES_ALLOWLIST, logger);
          await processInitdata(root, logger);
        } catch (err) {
          if (!(err instanceof UserDataError || err instanceof InitdataError))
            failure = err instanceof Error ? err : new Error(String(err));
        }
        const outside = (await readdir(dir)).filter((n) => n !== "root");
        await rm(root, { recursive: true, force: true });
        if (failure !== undefined) throw failure;
        if (outside.length > 0) throw new Error(`written outside the VM root: ${outside.join(", ")}`);
      },
      close: () => rm(dir, { recursive: true, force: true }),
    };
  },
};
