// The last step of scripts/test: scan every log of the run (node --test's output and every child
// log the test helpers kept, test/helpers/test-logs.ts) for key material, the tests' cloud secrets
// and user-data. Prints `file:line: kind` for each hit, never the secret, and exits 1 on any.
//   node test/helpers/scan-test-logs.ts <dir>…
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { secretLines } from "./secret-scan.ts";

export async function scanLogs(
  dirs: readonly string[],
): Promise<{ files: number; bytes: number; hits: string[] }> {
  const out = { files: 0, bytes: 0, hits: [] as string[] };
  for (const dir of dirs) {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    for (const e of entries.filter((x) => x.isFile()).sort((a, b) => a.name.localeCompare(b.name))) {
      const file = path.join(e.parentPath, e.name);
      const text = await readFile(file, "utf8");
      out.files++;
      out.bytes += text.length;
      for (const hit of secretLines(text)) out.hits.push(`${file}:${hit.line}: ${hit.kind}`);
    }
  }
  return out;
}

if (import.meta.main) {
  const dirs = process.argv.slice(2);
  if (dirs.length === 0) {
    console.error("usage: scan-test-logs.ts <dir>…");
    process.exit(2);
  }
  const { files, bytes, hits } = await scanLogs(dirs);
  for (const h of hits) console.error(`secret in a test log: ${h}`);
  console.log(
    `log scan: ${files} files, ${(bytes / 1024).toFixed(0)} KiB: ${hits.length === 0 ? "no key material, cloud secret or user-data" : `${hits.length} finding(s)`}`,
  );
  process.exit(hits.length === 0 ? 0 : 1);
}
