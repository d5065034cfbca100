// The state directory's disk fills up during a burst (a small tmpfs of our own under STATE_DIR).
// The daemon must stay up, refuse what it cannot record with an error that says so, leave no torn
// record or temp file, keep serving the sandboxes that run, and work again once space is freed.
import { checkRecords } from "../invariants.ts";
import type { Scenario } from "../scenario.ts";
import { fill, unfill } from "../tmpfs.ts";

const CLEAR = /ENOSPC|no space/i;
/**
 * A local VM keeps its disk in the state directory too (provider-local/<id>/), so one booting on the
 * full disk dies; the daemon learns of it only when the agent does not answer within PROXY_TIMEOUT.
 * That is the VM's failure, not an unclear error of the daemon: counted, not a violation.
 */
const VM_DIED = /^StartVM: agent-connect: no answer from /;

export const diskFull: Scenario = {
  name: "disk-full",
  fault: "the state directory's disk (a 2 MiB tmpfs) filled during a burst, then freed",
  full: { rounds: 3, burst: 20, concurrency: 5 },
  short: { rounds: 1, burst: 8, concurrency: 4 },
  targetOptions: { stateTmpfsBytes: 2 * 1024 * 1024, proxyTimeoutMs: 60_000 },
  unsupported: (t) => (t.stateTmpfs ? undefined : `target ${t.name} has no tmpfs state directory`),
  async run(ctx) {
    const { daemon, ledger } = ctx;
    for (let round = 1; round <= ctx.params.rounds; round++) {
      const origin = `disk-full-${round}`;
      const burst = ctx.burst(origin);
      const at = ctx.rng.int(0, burst.calls / 2);
      await burst.whenAnswered(at);
      const answered = burst.answered;
      const bytes = await fill(daemon.stateDir);
      ledger.inject(`disk full after ${answered}/${burst.calls} answers (${bytes} bytes written)`);
      ctx.log(`round ${round}: filled the state disk after ${answered}/${burst.calls} answers`);
      await burst.done;
      if (!daemon.up()) ledger.violate({ what: "the daemon exited when its disk filled" });
      for (const e of ledger.entries.values()) {
        if (!e.origin.startsWith(`${origin}#`) || e.error === undefined || CLEAR.test(e.error)) continue;
        if (VM_DIED.test(e.error)) ledger.inject(`a VM booting on the full disk died (${e.id.slice(0, 12)})`);
        else ledger.violate({ sandbox: e.id, what: `error on a full disk does not say so: ${e.error}` });
      }
      await checkRecords(ledger, daemon.stateDir);

      await unfill(daemon.stateDir);
      ctx.log(`round ${round}: freed the state disk`);
      const after = `${origin}-freed`;
      await ctx.burst(after).done;
      for (const e of ledger.entries.values()) {
        if (e.origin.startsWith(`${after}#`) && e.error !== undefined)
          ledger.violate({ sandbox: e.id, what: `failed after space was freed: ${e.error}` });
      }
      await ctx.settle();
    }
  },
};
