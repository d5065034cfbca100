// docker cannot run here, so the Dockerfile is read instead: its stages and packages are checked,
// and scripts/build.ts builds the same output directory the image copies into a temp dir, where
// the file the `caa` entrypoint runs must exist and start.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { imageShim } from "../helpers/image.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

interface Instruction {
  cmd: string;
  args: string;
}
interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Stages of a Dockerfile: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .split("\n")
    .filter((l) => !/^\s*#/.test(l))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^(\S+)\s+(.*)$/s.exec(line);
    assert.ok(m, `unparsable Dockerfile line: ${line}`);
    const ins = { cmd: m[1].toUpperCase(), args: m[2].replace(/\s+/g, " ") };
    if (ins.cmd === "FROM") {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(from, `unparsable FROM: ${ins.args}`);
      stages.push({ base: from[1], name: from[2], instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${ins.cmd} before the first FROM`);
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return stages;
}

function args(stage: Stage, cmd: string): string[] {
  return stage.instructions.filter((i) => i.cmd === cmd).map((i) => i.args);
}

/** The stage's WORKDIR at the point of each instruction, to resolve relative COPY targets. */
function resolveIn(stage: Stage, upTo: Instruction, p: string): string {
  let dir = "/";
  for (const ins of stage.instructions) {
    if (ins === upTo) break;
    if (ins.cmd === "WORKDIR") dir = path.posix.resolve(dir, ins.args);
  }
  return path.posix.resolve(dir, p);
}

const stages = parseDockerfile(readFileSync(path.join(ROOT, "Dockerfile"), "utf8"));
const [buildStage, prodStage] = stages;

test("Dockerfile has a build stage and a production stage, both on node:24-slim", () => {
  assert.equal(stages.length, 2);
  assert.equal(buildStage.name, "build");
  assert.equal(buildStage.base, "node:24-slim");
  assert.equal(prodStage.base, "node:24-slim");
});

test("the build stage installs all dependencies and runs npm run build, which is scripts/build.ts", () => {
  const runs = args(buildStage, "RUN");
  assert.ok(
    runs.some((r) => /^npm ci\b/.test(r)),
    "build stage runs npm ci",
  );
  assert.ok(runs.includes("npm run build"), "build stage runs npm run build");
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  assert.equal(
    pkg.scripts.build,
    "node scripts/build.ts",
    'package.json needs "build": "node scripts/build.ts"',
  );
  const copied = args(buildStage, "COPY").flatMap((a) => a.split(" ").slice(0, -1));
  for (const needed of [
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "tsconfig.build.json",
    "scripts",
    "src",
    "providers",
  ])
    assert.ok(copied.includes(needed), `build stage must COPY ${needed}`);
  const ignored = readFileSync(path.join(ROOT, ".dockerignore"), "utf8").split("\n");
  for (const needed of ["src", "providers", "scripts"])
    assert.ok(!ignored.includes(needed), `.dockerignore drops ${needed}`);
});

test("the production stage has iproute2, iptables and ca-certificates and only production dependencies", () => {
  const runs = args(prodStage, "RUN");
  const apt = runs.find((r) => r.includes("apt-get install"));
  assert.ok(apt, "production stage installs Debian packages");
  for (const pkg of ["iproute2", "iptables", "ca-certificates"])
    assert.match(apt, new RegExp(`\\b${pkg}\\b`));
  assert.match(apt, /--no-install-recommends/);
  const npmCi = runs.find((r) => /\bnpm ci\b/.test(r));
  assert.ok(npmCi, "production stage runs npm ci");
  assert.match(npmCi, /--omit=dev\b/);
  assert.deepEqual(args(prodStage, "ENTRYPOINT"), ['["caa"]']);
  assert.deepEqual(args(prodStage, "CMD"), ['["serve"]']);
});

test("the file the caa entrypoint runs exists in the output scripts/build.ts produces, and starts", async (t) => {
  const shim = args(prodStage, "RUN").find((r) => r.includes("/usr/local/bin/caa"));
  assert.ok(shim, "production stage writes the /usr/local/bin/caa shim");
  const { script: target, nodeArgs } = imageShim();
  // The daemon's young generation is capped where it is launched (footprint bench: same flags).
  assert.ok(nodeArgs.includes("--max-semi-space-size=1"), `the caa shim sets no semi-space cap: ${shim}`);
  const copyIns = prodStage.instructions.find(
    (i) => i.cmd === "COPY" && i.args.startsWith(`--from=${buildStage.name} `),
  );
  assert.ok(copyIns, "production stage copies the build output");
  const [, from, to] = copyIns.args.split(" ");
  assert.equal(
    from,
    resolveIn(buildStage, buildStage.instructions.at(-1)!, "dist"),
    "copies the build stage's dist/",
  );
  const imageDist = resolveIn(prodStage, copyIns, to);
  const appDir = resolveIn(prodStage, copyIns, ".");
  assert.ok(target.startsWith(`${imageDist}/`), `${target} is not inside the copied ${imageDist}`);

  const tmp = await mkdtemp(path.join(os.tmpdir(), "caa-image-"));
  t.after(() => rm(tmp, { recursive: true, force: true }));
  // Mirror the image: <app>/dist from the build, package.json (ESM "type") and node_modules beside it.
  const app = path.join(tmp, appDir);
  await mkdir(app, { recursive: true });
  await copyFile(path.join(ROOT, "package.json"), path.join(app, "package.json"));
  await symlink(path.join(ROOT, "node_modules"), path.join(app, "node_modules"));
  const build = spawnSync(
    process.execPath,
    [path.join(ROOT, "scripts/build.ts"), "--out-dir", path.join(tmp, imageDist)],
    {
      encoding: "utf8",
    },
  );
  assert.equal(build.status, 0, `scripts/build.ts failed:\n${build.stdout}${build.stderr}`);
  const entry = path.join(tmp, target);
  assert.ok(existsSync(entry), `${target} is missing from the build output`);
  const help = spawnSync(process.execPath, [...nodeArgs, entry, "--help"], { encoding: "utf8", cwd: app });
  assert.equal(help.status, 0, `caa --help from the build output failed:\n${help.stderr}`);
  assert.match(help.stdout, /\bserve\b/);
  assert.match(help.stdout, /\bforwarder\b/, "the forwarder must be runnable from the same image");
  // The registry loads the built-in providers lazily: each must resolve inside the build output.
  const registry = path.join(tmp, imageDist, "providers/registry.js");
  const load = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const r = await import(${JSON.stringify(registry)});
       for (const n of r.BUILTIN_PROVIDERS) console.log((await r.loadProviderModule(n, { enabled: false })).name);`,
    ],
    { encoding: "utf8", cwd: app },
  );
  assert.equal(load.status, 0, `loading the providers from the build output failed:\n${load.stderr}`);
  assert.deepEqual(load.stdout.trim().split("\n").sort(), ["aws", "azure", "local"]);
});

test("the build output holds the pod-VM bundle, which runs with node alone (no node_modules)", async (t) => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "caa-podvm-"));
  t.after(() => rm(tmp, { recursive: true, force: true }));
  const build = spawnSync(
    process.execPath,
    [path.join(ROOT, "scripts/build.ts"), "--out-dir", path.join(tmp, "dist")],
    {
      encoding: "utf8",
    },
  );
  assert.equal(build.status, 0, `scripts/build.ts failed:\n${build.stdout}${build.stderr}`);
  // Alone in a directory of its own, as a pod-VM image build would copy it.
  const vm = path.join(tmp, "vm");
  await mkdir(vm);
  const bundle = path.join(vm, "caa-podvm.cjs");
  for (const file of ["caa-podvm.cjs", "caa-podvm.bundle.cjs"])
    await copyFile(path.join(tmp, "dist/podvm", file), path.join(vm, file));
  const env = { PATH: process.env.PATH, NODE_COMPILE_CACHE: path.join(tmp, "cache") };
  const help = spawnSync(process.execPath, [bundle, "--help"], { encoding: "utf8", cwd: vm, env });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /\bforwarder\b/);
  assert.match(help.stdout, /\bpodvm\b/);
  const missing = path.join(vm, "no-apf.json");
  const fwd = spawnSync(process.execPath, [bundle, "forwarder", "-config", missing, "-skip-provision"], {
    encoding: "utf8",
    cwd: vm,
    env,
  });
  assert.equal(fwd.status, 1, `${fwd.stdout}${fwd.stderr}`);
  assert.match(fwd.stderr, new RegExp(`cannot read config ${missing}: file not found`));
  assert.doesNotMatch(
    fwd.stderr,
    /unexpected argument/,
    "the bundled forwarder module must not start itself",
  );
});

test("scripts/caa starts node with the image shim's flags", () => {
  const script = readFileSync(path.join(ROOT, "scripts/caa"), "utf8");
  const m = /^exec node ((?:--\S+ )*)"\$REPO\/src\/cli\/main\.ts" "\$@"$/m.exec(script);
  assert.ok(m, "scripts/caa does not end in `exec node <flags> $REPO/src/cli/main.ts`");
  assert.deepEqual(m[1].trim().split(" ").filter(Boolean), imageShim().nodeArgs);
});
