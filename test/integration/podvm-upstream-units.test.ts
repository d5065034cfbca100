// Our pod-VM side under upstream's systemd units (CAA src/cloud-api-adaptor/podvm/files/etc/systemd/
// system/process-user-data.service and agent-protocol-forwarder.service; docs/pod-vm-image.md): the
// build's launchers with upstream's names, symlinked into a bin directory as an image would, run
// with the units' command lines. socat plays systemd's notify socket for the forwarder's Type=notify.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { UPSTREAM_LAUNCHERS } from "../../src/podvm/bundle.ts";
import { renderCloudConfig } from "../../src/userdata/cloud-config.ts";
import { PEERPOD_PATHS } from "../../src/userdata/paths.ts";
import { closedPort } from "../fixtures/test-agent-env.ts";
import { stopFakeVm } from "../helpers/fake-pod-vm.ts";
import { healthCheck, podVmRig, waitFor, type Rig } from "../helpers/podvm-rig.ts";
import { needsSystemdNotify } from "../helpers/requires.ts";

const VM = "podvm-units-00000000";

interface Image {
  r: Rig;
  /** The image's /usr/local/bin: symlinks to the build's launchers. */
  bin: string;
  /** The VM's root (/run/peerpod/... under it) and its cidata volume. */
  root: string;
  cidata: string;
  /** `node` on PATH, as in a pod VM. */
  env: NodeJS.ProcessEnv;
}

/** `userData`: the cidata volume's, or made from the rig (its apf.json). */
async function image(
  t: { after(fn: () => Promise<void> | void): void },
  userData: string | ((r: Rig) => string),
): Promise<Image> {
  const r = await podVmRig(t, VM);
  const bin = path.join(r.dir, "usr-local-bin");
  await mkdir(bin);
  for (const name of Object.keys(UPSTREAM_LAUNCHERS))
    await symlink(path.join(path.dirname(r.loader), name), path.join(bin, name));
  const cidata = path.join(r.dir, "cidata");
  await mkdir(cidata);
  await writeFile(path.join(cidata, "user-data"), typeof userData === "string" ? userData : userData(r));
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ""}` };
  return { r, bin, root: path.join(r.dir, "root"), cidata, env };
}

/** `process-user-data provision-files` as the unit runs it, on this VM's root and cidata. */
function provisionFiles(img: Image, extra: string[] = []) {
  return spawnSync(
    path.join(img.bin, "process-user-data"),
    ["provision-files", "-root-dir", img.root, "-cidata-dir", img.cidata, "-imds", "none", ...extra],
    { encoding: "utf8", env: img.env, timeout: 30_000 },
  );
}

/** A datagram socket that keeps what it receives, in place of systemd's NOTIFY_SOCKET. */
async function notifySocket(t: { after(fn: () => Promise<void> | void): void }, dir: string) {
  const socket = path.join(dir, "notify.sock");
  const received = path.join(dir, "notify.out");
  const socat: ChildProcess = spawn("socat", ["-u", `UNIX-RECV:${socket}`, `OPEN:${received},creat,append`], {
    stdio: "ignore",
  });
  t.after(() => void socat.kill("SIGTERM"));
  for (let i = 0; i < 100 && !(await stat(socket).catch(() => undefined)); i++)
    await new Promise((r) => setTimeout(r, 20));
  const text = () => readFile(received, "utf8").catch(() => "");
  return {
    socket,
    async waitFor(state: string): Promise<string> {
      for (let i = 0; i < 250; i++) {
        const got = await text();
        if (got.includes(state)) return got;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`systemd was not told ${state}; it got ${JSON.stringify(await text())}`);
    },
    text,
  };
}

test(
  "under upstream's units: process-user-data writes the VM's files, then agent-protocol-forwarder serves with them and tells systemd READY=1 and STOPPING=1",
  { skip: needsSystemdNotify() },
  async (t) => {
    // User-data as the daemon renders it.
    const img = await image(t, (r) =>
      renderCloudConfig([{ path: PEERPOD_PATHS.apfConfig, content: r.apfJson }]),
    );
    const provisioned = provisionFiles(img);
    assert.equal(provisioned.status, 0, provisioned.stderr);
    const apfJson = path.join(img.root, PEERPOD_PATHS.apfConfig);
    // Compared without printing: it holds the VM's TLS key.
    assert.ok(
      (await readFile(apfJson, "utf8")).trim() === img.r.apfJson.trim(),
      "apf.json is not the user-data's",
    );
    assert.equal((await stat(apfJson)).mode & 0o777, 0o600);
    const writtenAt = (await stat(apfJson)).mtimeMs;

    const notify = await notifySocket(t, img.r.dir);
    const port = await closedPort();
    // agent-protocol-forwarder.service's command line, its $TLS_OPTIONS/$OPTIONS being the config and address.
    const forwarder = spawn(
      path.join(img.bin, "agent-protocol-forwarder"),
      [
        ...["-pod-namespace", "/run/netns/podns", "-kata-agent-socket", img.r.agentSocket],
        ...["-config", apfJson, "-listen", `127.0.0.1:${port}`, "-root-dir", img.root],
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...img.env, NOTIFY_SOCKET: notify.socket } },
    );
    let log = "";
    forwarder.stderr.on("data", (d: Buffer) => (log += d.toString()));
    forwarder.stdout.on("data", (d: Buffer) => (log += d.toString()));
    t.after(() => stopFakeVm([forwarder]));
    await waitFor(forwarder, "listening on");
    const ready = await notify.waitFor("READY=1");
    assert.match(
      ready,
      new RegExp(`^MAINPID=${forwarder.pid}\\nREADY=1`),
      "READY=1 is not from the unit's main process",
    );
    assert.equal(await healthCheck(img.r, port), "SERVING");
    assert.ok(!(await notify.text()).includes("STOPPING=1"), "told systemd it stops while it serves");

    await stopFakeVm([forwarder]);
    assert.equal(forwarder.exitCode, 0, log);
    await notify.waitFor("STOPPING=1");
    // Upstream's forwarder does not provision: process-user-data's unit did.
    assert.equal((await stat(apfJson)).mtimeMs, writtenAt, "the forwarder wrote apf.json again");
    assert.doesNotMatch(log, /stage=provision|Wrote /);
  },
);

test("process-user-data provision-files refuses user-data that is not upstream's cloud-config: exit 1, one line, nothing written", async (t) => {
  const img = await image(t, "#cloud-config\nruncmd:\n  - [sh, -c, 'echo hi']\n");
  const res = provisionFiles(img, ["-t", "1"]);
  assert.equal(res.status, 1, res.stdout + res.stderr);
  const errors = res.stderr.split("\n").filter((l) => l.includes("error:"));
  assert.equal(errors.length, 1, res.stderr);
  assert.match(errors[0], /runcmd/);
  await assert.rejects(stat(path.join(img.root, PEERPOD_PATHS.apfConfig)), { code: "ENOENT" });
});

test("-version prints upstream's banner line and exits 0, as both of upstream's programs do", async (t) => {
  const img = await image(t, "#cloud-config\n");
  for (const [program, flag] of [
    ["agent-protocol-forwarder", "-version"],
    ["process-user-data", "--version"],
  ]) {
    const res = spawnSync(path.join(img.bin, program), [flag], { encoding: "utf8", env: img.env });
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`^${program} version \\d+\\.\\d+\\.\\d+\\n`));
  }
});

test("process-user-data without provision-files prints its usage and fails; an unknown flag is named", async (t) => {
  const img = await image(t, "#cloud-config\n");
  const usage = spawnSync(path.join(img.bin, "process-user-data"), [], { encoding: "utf8", env: img.env });
  assert.equal(usage.status, 1);
  assert.match(usage.stdout, /Usage: process-user-data provision-files/);
  const unknown = provisionFiles(img, ["-no-such-flag"]);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown flag -no-such-flag/);
});
