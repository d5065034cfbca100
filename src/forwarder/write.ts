import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

/** Write `content` at `<root><absPath>`: directories 0755, file 0644, as process-user-data's writeFile. */
export async function writeProvisioned(root: string, absPath: string, content: string): Promise<string> {
  const target = path.join(root, absPath);
  await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
  await writeFile(target, content, { mode: 0o644 });
  await chmod(target, 0o644);
  return target;
}
