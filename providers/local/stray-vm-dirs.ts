// A local VM's directory is made just before its record is saved (allocate), so a daemon killed
// between the two leaves a directory no record names. No VM was booted from it (boot() runs after
// the save), but a process found by its paths is killed all the same before it is removed.
import { lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { killVm, processesUnder } from "./vm-process.ts";

/** Remove the VM directories (`local-<hex>`) in stateDir that `known` has no record of; returns their ids. */
export async function removeStrayVmDirs(stateDir: string, known: (id: string) => boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(stateDir)) {
    if (!/^local-[0-9a-f]+$/.test(name) || known(name)) continue;
    const dir = join(stateDir, name);
    if (!(await lstat(dir)).isDirectory()) continue;
    for (const p of await processesUnder(dir)) await killVm(p);
    await rm(dir, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
