// The `caa` bin works as a bin: `npm pack` builds the package (prepack runs scripts/build.ts), a
// project that installs the tarball gets `node_modules/.bin/caa`, and it runs there — Node refuses
// to strip types from a `.ts` file under node_modules, so the bin must be the built JavaScript.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
// npm, npx and the bin's `#!/usr/bin/env node` must run on this Node (24), not the system's.
const ENV = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ""}` };

describe("npm pack + install + caa", { timeout: 600_000 }, () => {
  let dir = "";
  let project = "";
  let tarball = "";

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "caa-pack-"));
    const { stdout } = await exec("npm", ["pack", "--json", "--pack-destination", dir], {
      cwd: ROOT,
      env: ENV,
      maxBuffer: 64 << 20,
    });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as [{ filename: string }];
    tarball = path.join(dir, packed.filename);
    project = path.join(dir, "consumer");
    await mkdir(project);
    await writeFile(
      path.join(project, "package.json"),
      '{"name":"consumer","version":"1.0.0","private":true}\n',
    );
    // Dependencies come from npm's cache, which `npm ci` of this checkout has filled.
    await exec("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], {
      cwd: project,
      env: ENV,
      maxBuffer: 64 << 20,
    });
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("the tarball holds the build output, not the TypeScript sources or the tests", async () => {
    const { stdout } = await exec("tar", ["-tzf", tarball]);
    const files = stdout.trim().split("\n");
    assert.ok(files.includes("package/dist/caa/main.js"), "dist/caa/main.js, the bin, is packed");
    assert.ok(files.includes("package/dist/podvm/caa-podvm.cjs"), "the pod-VM bundle is packed");
    assert.ok(files.includes("package/dist/providers/local/kata-agent.js"), "the local agent is packed");
    assert.deepEqual(
      files.filter((f) => f.endsWith(".ts") || f.startsWith("package/test/")),
      [],
      "no sources or tests in the package",
    );
  });

  test("node_modules/.bin/caa runs: version, help, and a subcommand that loads code", async () => {
    const bin = path.join(project, "node_modules/.bin/caa");
    assert.ok((await stat(bin)).mode & 0o100, "the bin is executable");
    const { stdout: version } = await exec(bin, ["version"], { env: ENV });
    assert.match(version, /^caa \d+\.\d+\.\d+ \(hypervisor API .*, node v24\./);
    const { stdout: help } = await exec(bin, ["serve", "aws", "-h"], { env: ENV });
    assert.match(help, /-aws-profile/);
    // npx finds the installed bin the same way a user's project would.
    const { stdout: viaNpx } = await exec("npx", ["--no-install", "caa", "version"], {
      cwd: project,
      env: ENV,
    });
    assert.equal(viaNpx, version);
    assert.ok(
      (await readdir(path.join(project, "node_modules/peerpod-caa/dist/src/cli"))).includes("main.js"),
    );
  });
});
