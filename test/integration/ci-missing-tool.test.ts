// Tests never skip silently in CI: with moto hidden from PATH (and from pyenv, where scripts/test
// also looks), `CI=true scripts/test` fails before running anything, naming moto; and a moto test
// run directly under CI=true fails naming it instead of skipping. Outside CI the same run skips
// with the reason printed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

const ROOT = path.resolve(import.meta.dirname, "../..");
// The system directories only: no pyenv shims, no ~/.local/bin; Node 24 first.
const PATH_WITHOUT_MOTO = [
  path.dirname(process.execPath),
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
].join(":");
const MOTO_TEST = "test/integration/aws-provider.test.ts";

let emptyPyenv = "";
before(async () => {
  emptyPyenv = await mkdtemp(path.join(tmpdir(), "no-pyenv-"));
});
after(async () => {
  await rm(emptyPyenv, { recursive: true, force: true });
});

function run(argv: string[], ci: boolean) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: PATH_WITHOUT_MOTO,
    PYENV_ROOT: emptyPyenv,
    CI: ci ? "true" : "",
  };
  delete env.MOTO_PYTHON;
  // The inner `node --test` must run as a top-level run, not as a child of this one.
  delete env.NODE_TEST_CONTEXT;
  const res = spawnSync(argv[0], argv.slice(1), { cwd: ROOT, env, encoding: "utf8", timeout: 240_000 });
  return { status: res.status, out: `${res.stdout}${res.stderr}` };
}

test("the machine's python3 without pyenv has no moto (else this test proves nothing)", () => {
  const res = spawnSync("python3", ["-c", "import moto.server"], {
    env: { ...process.env, PATH: PATH_WITHOUT_MOTO },
  });
  assert.notEqual(res.status, 0);
});

test("CI=true scripts/test with moto hidden fails at once, naming moto", () => {
  const { status, out } = run(["bash", "scripts/test", "test/unit/vm-name.test.ts"], true);
  assert.equal(status, 1, out);
  assert.match(
    out,
    /^test: CI=true and missing: moto \(moto_server or a python3 with moto on PATH, or MOTO_PYTHON\)$/m,
  );
  assert.doesNotMatch(out, /ℹ tests/, "nothing ran");
});

test("a moto test under CI=true fails naming moto; outside CI it skips saying why", () => {
  const ci = run([process.execPath, "--test", MOTO_TEST], true);
  assert.notEqual(ci.status, 0, ci.out);
  assert.match(
    ci.out,
    /CI=true and moto is missing \(moto_server, or a python3 with moto, on PATH; or MOTO_PYTHON=<python with moto>\): tests do not skip in CI/,
  );
  const local = run([process.execPath, "--test", MOTO_TEST], false);
  assert.equal(local.status, 0, local.out);
  assert.match(local.out, /# skipping the tests that need moto: moto is missing/);
  // node:test counts a skipped suite in no total; its line carries the reason.
  assert.match(local.out, /^﹣ AWS provider against moto .*# moto is missing/m);
  assert.match(local.out, /ℹ pass 0$/m);
});
