// The local provider after a `kill -9` at its worst moments: between the VM's spawn and the save of
// its pid, and in the middle of an atomic write. What is left on disk must still be found and
// cleaned by the next daemon (recovery and the leak collector both delete through provider.delete).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { resolve } from "../../src/config/options.ts";
import { LOCAL_OPTIONS } from "../../providers/local/config.ts";
import { LocalProvider } from "../../providers/local/provider.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { processesMentioning } from "../helpers/daemon.ts";

const owner = { cluster: "c1", node: "n1", sandboxId: "a".repeat(64), podName: "web", podNamespace: "shop" };
const REQUEST = {
  name: "podvm-web-aaaaaaaa",
  userData: "#cloud-config\n",
  spec: { instanceType: "local.medium", vcpus: 0, memoryMiB: 0, gpus: 0, image: "" },
  owner,
};

function provider(stateDir: string): LocalProvider {
  const env = {
    LOCAL_LOOPBACK: "true",
    LOCAL_LOOPBACK_SUBNET: "127.77.0.0/24",
    // A "VM" that just stays up: its argv (with --cidata) is what marks it.
    LOCAL_VM_COMMAND: `/bin/sh -c "sleep 300; true"`,
  };
  return new LocalProvider(resolve(LOCAL_OPTIONS, { env, flags: {} }), { logger: silentLogger(), stateDir });
}

test("a VM whose pid was never saved (kill -9 after spawn) is killed when its instance is deleted", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "caa-local-crash-"));
  t.after(async () => {
    for (const pid of processesMentioning(dir)) process.kill(-pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });
  const first = provider(dir);
  await first.start();
  const vm = await first.create(REQUEST);
  assert.equal(processesMentioning(dir).length, 1, "the VM process runs");
  // What a kill -9 between spawnVm() and save() leaves: the record as allocate() saved it.
  const file = join(dir, `${vm.id}.json`);
  const rec = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  delete rec.process;
  await writeFile(file, JSON.stringify(rec));

  const next = provider(dir);
  await next.start();
  const listed = await next.list({ cluster: "c1", node: "n1" });
  assert.deepEqual(
    listed.map((i) => i.id),
    [vm.id],
    "the leak collector and recovery find it by its owner tags",
  );
  await next.delete(vm.id);
  assert.deepEqual(processesMentioning(dir), [], "no VM process outlives the deleted instance");
  assert.deepEqual(await next.list({}), []);
});

test("torn temp files of the local provider are removed and an unreadable record is moved aside", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "caa-local-torn-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "local-0badc0de.json.1234.abc.tmp"), '{"id":"local-0ba');
  await writeFile(join(dir, "local-deadbeef.json"), "");
  const p = provider(dir);
  await p.start();
  const names = await readdir(dir);
  assert.deepEqual(
    names.filter((n) => n.endsWith(".tmp")),
    [],
    "no temp file is left",
  );
  assert.ok(!names.includes("local-deadbeef.json"));
  const moved = await readdir(join(dir, "quarantine"));
  assert.equal(moved.length, 1);
  assert.match(moved[0], /^local-deadbeef\.json\.\d+$/);
  assert.deepEqual(await p.list({}), []);
});

test("a VM directory whose record was never saved (kill -9 inside allocate) is removed at start", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "caa-local-stray-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // allocate() makes the VM's directory, then saves its record: a kill between leaves only this.
  await mkdir(join(dir, "local-0123abcd", "cidata"), { recursive: true });
  await writeFile(join(dir, "local-0123abcd", "cidata", "user-data"), "#cloud-config\n");
  const p = provider(dir);
  await p.start();
  assert.deepEqual(
    (await readdir(dir)).filter((n) => n.startsWith("local-")),
    [],
    "nothing is left that no record names",
  );
});

test("deleting a VM whose process died alone (its forwarder was killed) kills what that process started", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "caa-local-orphan-"));
  t.after(async () => {
    for (const pid of processesMentioning(dir)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });
  // A VM that starts an "agent" child marked by a path under its root ($3 is --root's value), as
  // `caa podvm` starts the kata agent with --socket under it.
  const env = {
    LOCAL_LOOPBACK: "true",
    LOCAL_LOOPBACK_SUBNET: "127.77.1.0/24",
    LOCAL_VM_COMMAND: `/bin/sh -c "sh -c 'sleep 300; true' agent $3/agent.sock & sleep 300; true"`,
  };
  const p = new LocalProvider(resolve(LOCAL_OPTIONS, { env, flags: {} }), {
    logger: silentLogger(),
    stateDir: dir,
  });
  await p.start();
  const vm = await p.create(REQUEST);
  const rec = JSON.parse(await readFile(join(dir, `${vm.id}.json`), "utf8")) as { process: { pid: number } };
  // Until exactly the two: for a moment after the fork the agent's shell is still a copy of the VM's
  // (the same command line), and a third process mentions the directory.
  for (let i = 0; i < 100 && processesMentioning(dir).length !== 2; i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(processesMentioning(dir).length, 2, "the VM process and its agent run");
  process.kill(rec.process.pid, "SIGKILL");
  for (let i = 0; i < 100 && processesMentioning(dir).length > 1; i++)
    await new Promise((r) => setTimeout(r, 50));
  await p.delete(vm.id);
  assert.deepEqual(processesMentioning(dir), [], "no process of the VM outlives its deletion");
});
