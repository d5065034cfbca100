// The outer part of the pod-VM bundle (src/podvm/bundle.ts puts the bundled code in CAA_PODVM_CODE):
// it compiles that code with V8's code cache, kept in a file per bundle and node version, so a VM's
// forwarder neither parses nor compiles it again after the first start (node's own compile cache
// cannot cover a file that is already running, and a launcher may not set NODE_COMPILE_CACHE). The
// cache is written once start-up is over, so it holds the functions start-up compiled; a stale or
// foreign one is rejected by V8 and rewritten, and a cache that cannot be written costs nothing.
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import vm from "node:vm";

declare const CAA_PODVM_CODE: string;

type CommonJsBody = (
  exports: unknown,
  require: NodeJS.Require,
  module: NodeJS.Module,
  filename: string,
  dirname: string,
) => void;

/** Root's directory, or one of ours created 0700: nobody else may hand the bundle compiled code. */
function cacheDir(): string | undefined {
  const dir = path.join(process.env.NODE_COMPILE_CACHE || tmpdir(), "caa-podvm");
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const uid = process.getuid?.() ?? st.uid;
    return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

function readCache(file: string | undefined): Buffer | undefined {
  try {
    return file === undefined ? undefined : readFileSync(file);
  } catch {
    return undefined;
  }
}

function writeCache(file: string, data: Buffer): void {
  const partial = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(partial, data, { mode: 0o600 });
    renameSync(partial, file);
  } catch {
    // A read-only or full disk: the next start compiles again.
  }
}

const code = CAA_PODVM_CODE;
const dir = cacheDir();
const key = createHash("sha256").update(process.version).update(process.arch).update(code).digest("hex");
const cacheFile = dir === undefined ? undefined : path.join(dir, `${key.slice(0, 32)}.v8`);
const cachedData = readCache(cacheFile);
const script = new vm.Script(code, {
  filename: __filename,
  cachedData,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
if (cacheFile !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
  let saved = false;
  const save = (): void => {
    if (saved) return;
    saved = true;
    writeCache(cacheFile, script.createCachedData());
  };
  setTimeout(save, 1000).unref();
  process.once("exit", save);
}
(script.runInThisContext() as CommonJsBody)(exports, require, module, __filename, __dirname);
