// How the image launches `caa`: the node flags of the /usr/local/bin/caa shim the Dockerfile
// writes, so a benchmark of the build output runs the daemon as a node of a cluster would.
import { readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** The shim's `exec node <flags…> <script> "$@"`, from the Dockerfile's production stage. */
export function imageShim(dockerfile = path.join(ROOT, "Dockerfile")): {
  nodeArgs: string[];
  script: string;
} {
  const text = readFileSync(dockerfile, "utf8").replace(/\\\n/g, " ");
  const line = text.split("\n").find((l) => !/^\s*#/.test(l) && l.includes("/usr/local/bin/caa"));
  const m = line && /exec node ((?:--\S+ )*)(\S+\.js) "\$@"/.exec(line);
  if (!m)
    throw new Error("the Dockerfile writes no /usr/local/bin/caa shim that runs `exec node … <script>.js`");
  return { nodeArgs: m[1].trim().split(" ").filter(Boolean), script: m[2] };
}
