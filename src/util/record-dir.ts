// Loading a directory of JSON records (sandbox records, local VM records). Torn temp files of an
// interrupted atomic write are removed; a record that cannot be read (empty, corrupt, not a regular
// file) is moved aside into `<dir>/quarantine/` instead of stopping the daemon, and reported so the
// caller can log and announce it: one bad file must not keep every other sandbox from being served.
import { constants } from "node:fs";
import { open, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { ensurePrivateDir } from "./private-dir.ts";

export interface Quarantined {
  /** Where the record was. */
  path: string;
  /** Where it was moved. */
  movedTo: string;
  reason: string;
}

export interface LoadedRecords<T> {
  records: T[];
  quarantined: Quarantined[];
  /** Temp files of interrupted writes that were removed. */
  removedTmp: string[];
}

/** Reads a file without following a symlink at its name. */
async function readNoFollow(file: string): Promise<string> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!(await fh.stat()).isFile()) throw new Error("not a regular file");
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

export async function loadRecords<T>(
  dir: string,
  suffix: string,
  check: (value: unknown, name: string) => string | undefined = idCheck(suffix),
): Promise<LoadedRecords<T>> {
  const out: LoadedRecords<T> = { records: [], quarantined: [], removedTmp: [] };
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (name.endsWith(".tmp")) {
      await rm(path, { force: true });
      out.removedTmp.push(path);
      continue;
    }
    if (!name.endsWith(suffix)) continue;
    let reason: string | undefined;
    let value: unknown;
    try {
      value = JSON.parse(await readNoFollow(path));
      reason = check(value, name);
    } catch (err) {
      reason =
        (err as NodeJS.ErrnoException).code === "ELOOP" ? "is a symbolic link" : (err as Error).message;
    }
    if (reason === undefined) {
      out.records.push(value as T);
      continue;
    }
    const qdir = join(dir, "quarantine");
    await ensurePrivateDir(qdir);
    const movedTo = join(qdir, `${name}.${Date.now()}`);
    await rename(path, movedTo);
    out.quarantined.push({ path, movedTo, reason });
  }
  return out;
}

/** The default check: an object whose string `id` names its file (`<id><suffix>`). */
export function idCheck(suffix: string) {
  return (value: unknown, name: string): string | undefined => {
    const id = (value as { id?: unknown } | null)?.id;
    if (typeof id !== "string") return "the record has no id";
    return id + suffix === name ? undefined : `its id ${JSON.stringify(id)} does not match the file name`;
  };
}
