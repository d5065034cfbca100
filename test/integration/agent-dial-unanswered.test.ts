// A VM that is still booting drops the proxy's SYNs without a word. On one connect the kernel sends
// the next SYN only 1, 3, 7, … s after the first, so a forwarder that opened meanwhile was reached
// seconds late; the proxy now gives each connect CONNECT_ATTEMPT_MS and dials afresh. Run for real:
// the "VM" is a network namespace of this test, reached over a veth by one /32 route, its forwarder
// a TCP listener there, and its booting an iptables rule in that namespace that drops the SYNs.
import assert from "node:assert/strict";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { AgentProxy, CONNECT_ATTEMPT_MS } from "../../src/agentproxy/proxy.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import { needsRoot } from "../helpers/requires.ts";

const exec = promisify(execFile);
const sfx = randomBytes(3).toString("hex");
const NS = `dial-${sfx}`;
const HOST_VETH = `dlh${sfx}`;
const VM_IP = "203.0.113.251";
const PORT = 15150;
const DROP = ["-p", "tcp", "--dport", String(PORT), "-j", "DROP"];

let listener: ChildProcess | undefined;
let dir = "";

async function sh(argv: string[]): Promise<void> {
  await exec(argv[0], argv.slice(1));
}

before(async () => {
  if (needsRoot()) return;
  dir = await mkdtemp(join(tmpdir(), "dial-"));
  await sh(["ip", "netns", "add", NS]);
  await sh(["ip", "link", "add", HOST_VETH, "type", "veth", "peer", "name", "eth0", "netns", NS]);
  await sh(["ip", "link", "set", HOST_VETH, "up"]);
  await sh(["ip", "route", "add", `${VM_IP}/32`, "dev", HOST_VETH]);
  for (const c of [
    ["link", "set", "lo", "up"],
    ["link", "set", "eth0", "up"],
    ["addr", "add", `${VM_IP}/32`, "dev", "eth0"],
    ["route", "add", "default", "dev", "eth0"],
  ])
    await sh(["ip", "-n", NS, ...c]);
  await sh(["ip", "netns", "exec", NS, "iptables", "-A", "INPUT", ...DROP]);
  listener = spawn(
    "ip",
    [
      ...["netns", "exec", NS, process.execPath, "-e"],
      `require("node:net").createServer((s) => s.on("error", () => {})).listen(${PORT}, () => console.log("listening"))`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve, reject) => {
    listener!.stdout!.once("data", () => resolve());
    listener!.once("exit", (code) => reject(new Error(`listener exited (${code})`)));
  });
});

after(async () => {
  if (needsRoot()) return;
  listener?.kill();
  await exec("ip", ["route", "del", `${VM_IP}/32`]).catch(() => undefined);
  await exec("ip", ["link", "del", HOST_VETH]).catch(() => undefined);
  await exec("ip", ["netns", "del", NS]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

test(
  "a forwarder that opens while its VM still drops SYNs is reached within one attempt, not at the kernel's next SYN",
  { skip: needsRoot() },
  async () => {
    const log = captureLogger();
    const proxy = new AgentProxy({
      socketPath: join(dir, "agent.ttrpc"),
      host: VM_IP,
      port: PORT,
      tls: null,
      timeoutMs: 30_000,
      logger: log.logger,
      sandboxId: "dial-unanswered",
    });
    const t0 = Date.now();
    // The VM's network comes up 3.5 s into the dial: one connect left to the kernel would send its
    // next SYN at 7 s.
    let openedAt = 0;
    const opening = setTimeout(() => {
      void sh(["ip", "netns", "exec", NS, "iptables", "-D", "INPUT", ...DROP]).then(
        () => (openedAt = Date.now() - t0),
      );
    }, 3500);
    try {
      await proxy.start();
      const connectedAt = Date.now() - t0;
      assert.ok(openedAt > 0, "connected before the SYNs were let through");
      assert.ok(
        connectedAt - openedAt < CONNECT_ATTEMPT_MS + 1000,
        `connected ${connectedAt - openedAt} ms after the VM answered (opened at ${openedAt} ms)`,
      );
      const retries = log.find("retrying failed agent connection");
      assert.ok(retries.length >= 2, `${retries.length} retries`);
      for (const r of retries)
        assert.match(
          String(r.err),
          new RegExp(`ETIMEDOUT ${VM_IP}:${PORT}: no answer in ${CONNECT_ATTEMPT_MS} ms`),
        );
    } finally {
      clearTimeout(opening);
      await proxy.close();
    }
  },
);
