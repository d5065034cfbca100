// A local VM's cidata directory: what a cloud's config drive is to a real pod VM, the user-data its
// forwarder provisions from (as from /media/cidata), and meta-data as cloud-init's NoCloud source has it.
import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ensurePrivateDir } from "../../src/util/private-dir.ts";

export function cidataDir(vmDir: string): string {
  return join(vmDir, "cidata");
}

export async function writeCidata(
  vm: { id: string; name: string; dir: string },
  userData: string,
): Promise<void> {
  const dir = cidataDir(vm.dir);
  await ensurePrivateDir(dir);
  await writeNew(join(dir, "user-data"), userData);
  await writeNew(join(dir, "meta-data"), `instance-id: ${vm.id}\nlocal-hostname: ${vm.name}\n`);
}

export function readCidataUserData(vmDir: string): Promise<string> {
  return readFile(join(cidataDir(vmDir), "user-data"), "utf8");
}

/** A new file, never through a symlink or over an existing file. */
async function writeNew(file: string, data: string): Promise<void> {
  await rm(file, { force: true });
  const fh = await open(file, "wx", 0o600);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}
