// The scan that ends every test run (scripts/test → test/helpers/scan-test-logs.ts) can fail: a key,
// a cloud secret, user-data or initdata planted in a child log is reported with file and line, and
// the secret itself is not printed; a clean log directory passes.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { encodeInitdata } from "../../src/userdata/initdata.ts";
import { EMULATOR_CLIENT_SECRET, MOTO_SECRET_ACCESS_KEY } from "../helpers/test-secrets.ts";
import { teeChild } from "../helpers/test-logs.ts";

const SCANNER = path.join(import.meta.dirname, "../helpers/scan-test-logs.ts");

async function scan(dir: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [SCANNER, dir]);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

test("a private key planted in a child log fails the scan, named by file and line, not printed", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "caa-scan-"));
  try {
    await writeFile(path.join(dir, "node-test.log"), "TAP version 13\n# pass 3\n# fail 0\n");
    const clean = await scan(dir);
    assert.equal(clean.code, 0, clean.out);
    assert.match(clean.out, /log scan: 1 files/);

    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const body = pem.split("\n")[1];
    await mkdir(path.join(dir, "children"));
    await writeFile(
      path.join(dir, "children/caa-serve-1.log"),
      `{"msg":"start"}\n{"msg":"ok"}\n{"key":${JSON.stringify(pem)}}\n`,
    );
    const dirty = await scan(dir);
    assert.equal(dirty.code, 1);
    assert.match(dirty.out, /children\/caa-serve-1\.log:3: a PEM private key/);
    assert.ok(!dirty.out.includes(body), "the scan output holds the key");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the tests' cloud secrets, base64 keys, user-data and initdata are each found", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "caa-scan-"));
  try {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const der = privateKey.export({ type: "pkcs8", format: "der" }).toString("base64");
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const lines = [
      `creds ${MOTO_SECRET_ACCESS_KEY}`,
      `secret=${EMULATOR_CLIENT_SECRET}`,
      `der ${der}`,
      `apf ${Buffer.from(pem).toString("base64")}`,
      "#cloud-config",
      `initdata ${encodeInitdata('algorithm = "sha256"\n')}`,
    ];
    await writeFile(path.join(dir, "vm-console.log"), lines.join("\n"));
    const { code, out } = await scan(dir);
    assert.equal(code, 1);
    for (const [line, kind] of [
      [1, "the moto secret access key"],
      [2, "the ARM emulator's client secret"],
      [3, "a base64 DER EC private key"],
      [4, "a base64-encoded PEM block"],
      [5, "user-data"],
      [6, "initdata"],
    ] as const)
      assert.ok(out.includes(`vm-console.log:${line}: ${kind}`), `${line} ${kind}: ${out}`);
    assert.ok(!out.includes(MOTO_SECRET_ACCESS_KEY) && !out.includes(der));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a child's output is teed into the log directory the scan reads", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "caa-scan-"));
  try {
    const child = spawn(process.execPath, ["-e", "console.log('to stdout'); console.error('to stderr')"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    teeChild(child, "a child", dir);
    await new Promise((r) => child.once("close", r));
    await new Promise((r) => setTimeout(r, 50));
    const [name] = await readdir(dir);
    assert.match(name, /^a_child-\d+-\d+\.log$/);
    const text = await readFile(path.join(dir, name), "utf8");
    assert.match(text, /to stdout/);
    assert.match(text, /to stderr/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
