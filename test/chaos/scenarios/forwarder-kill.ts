// The agent-protocol-forwarder of running sandboxes' VMs killed (kill -9 of the VM's `caa podvm`,
// which runs the forwarder). What a user expects: the pod's agent calls fail with an error, not
// hang (the kata shim then fails the pod, and kubelet's StopVM removes it), the other sandboxes are
// untouched, and StopVM leaves nothing of the broken VM behind — no process, namespace or record.
import { agentHealth } from "../../../src/cli/agent-health.ts";
import type { Scenario } from "../scenario.ts";
import { messageOf } from "../shim.ts";

/** Longer than the proxy's dial backoff under load; a hang past it is a violation. */
const ANSWER_MS = 90_000;

async function probe(socket: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${ANSWER_MS / 1000} s`), ANSWER_MS);
  });
  try {
    return await Promise.race([
      agentHealth(socket).then(
        (s) => `answered ${s}`,
        (err: unknown) => `error: ${messageOf(err)}`,
      ),
      hang,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const forwarderKill: Scenario = {
  name: "forwarder-kill",
  fault: "kill -9 of the forwarder in running sandboxes' VMs",
  full: { rounds: 3, burst: 20, concurrency: 10 },
  short: { rounds: 1, burst: 6, concurrency: 3 },
  unsupported: (t) => (t.killForwarder ? undefined : `target ${t.name} cannot reach a VM's forwarder`),
  async run(ctx) {
    for (let round = 1; round <= ctx.params.rounds; round++) {
      const origin = `forwarder-kill-${round}`;
      const burst = ctx.burst(origin);
      await burst.done;
      const started = [...ctx.ledger.entries.values()].filter(
        (e) => e.origin.startsWith(`${origin}#`) && e.started,
      );
      const victims = started.filter(() => ctx.rng.chance(0.5));
      if (victims.length === 0 && started.length > 0) victims.push(ctx.rng.pick(started));
      for (const e of victims) {
        if (!(await ctx.target.killForwarder!(e.id))) {
          ctx.ledger.violate({ sandbox: e.id, what: "its VM's forwarder could not be found to kill" });
          continue;
        }
        e.faulted = "forwarder killed";
        ctx.ledger.inject(`forwarder of ${e.id.slice(0, 12)} killed`);
      }
      ctx.log(`round ${round}: killed the forwarder of ${victims.length}/${started.length} sandboxes`);
      // In parallel: each may take up to the agent call's deadline.
      await Promise.all(
        victims
          .filter((v) => v.faulted)
          .map(async (e) => {
            const outcome = await probe(e.agentSocket ?? "");
            if (!outcome.startsWith("error: "))
              ctx.ledger.violate({ sandbox: e.id, what: `agent call after its forwarder died: ${outcome}` });
            else ctx.ledger.noteError(e, `agent call: ${outcome.slice("error: ".length)}`);
          }),
      );
      await ctx.settle();
    }
  },
};
