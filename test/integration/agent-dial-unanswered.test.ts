// A VM that is still booting drops the proxy's SYNs without a word. On one connect the kernel sends
// the next SYN only 1, 3, 7, … s after the first, so a forwarder that opened meanwhile was reached
// seconds late; the proxy now gives each connect CONNECT_ATTEMPT_MS and dials afresh. Run for real:
// the "VM" is a network namespace of this test whose iptables drops the SYNs until it "booted"
// (test/helpers/syn-dropping-vm.ts).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { AgentProxy, CONNECT_ATTEMPT_MS } from "../../src/agentproxy/proxy.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import { needsRoot } from "../helpers/requires.ts";
import { startSynDroppingVm, type SynDroppingVm } from "../helpers/syn-dropping-vm.ts";

let vm: SynDroppingVm | undefined;
let dir = "";

before(async () => {
  if (needsRoot()) return;
  dir = await mkdtemp(join(tmpdir(), "dial-"));
  vm = await startSynDroppingVm("203.0.113.251", 15150);
});

after(async () => {
  await vm?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test(
  "a forwarder that opens while its VM still drops SYNs is reached within one attempt, not at the kernel's next SYN",
  { skip: needsRoot() },
  async () => {
    const log = captureLogger();
    const proxy = new AgentProxy({
      socketPath: join(dir, "agent.ttrpc"),
      host: vm!.ip,
      port: vm!.port,
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
      void vm!.open().then(() => (openedAt = Date.now() - t0));
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
          new RegExp(`ETIMEDOUT ${vm!.ip}:${vm!.port}: no answer in ${CONNECT_ATTEMPT_MS} ms`),
        );
    } finally {
      clearTimeout(opening);
      await proxy.close();
    }
  },
);
