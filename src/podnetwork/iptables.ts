// NOTRACK rules for the VXLAN flow in the raw table, exactly as upstream writes them
// (docs/upstream-compat.md §4.2 step 2, CAA `…/vxlan/iptables.go`): chains peerpod-OUTPUT / peerpod-PREROUTING,
// jumped to from OUTPUT / PREROUTING, one rule per direction commented `peerpod [vni:<id>]`.
// Calls are serialised in this process (upstream's mutex) and use `-w` against other processes.
import { CommandError, run } from "./exec.ts";
import { serialQueue } from "./serial.ts";

export interface NotrackFlow {
  /** The remote tunnel endpoint (VM IP on the worker, worker IP on the VM). */
  addr: string;
  port: number;
  vni: number;
}

interface ChainRule {
  base: string;
  chain: string;
  spec: string[];
}

const TABLE = "raw";
const serial = serialQueue();

function notrackRules(flow: NotrackFlow): ChainRule[] {
  const comment = `peerpod [vni:${flow.vni}]`;
  const port = String(flow.port);
  const match = ["-p", "udp", "-m", "udp", "--dport", port, "-j", "NOTRACK"];
  return [
    {
      base: "OUTPUT",
      chain: "peerpod-OUTPUT",
      spec: ["-m", "comment", "--comment", comment, "-d", flow.addr, ...match],
    },
    {
      base: "PREROUTING",
      chain: "peerpod-PREROUTING",
      spec: ["-m", "comment", "--comment", comment, "-s", flow.addr, ...match],
    },
  ];
}

function iptables(netns: string | undefined, args: string[]): Promise<string> {
  return run(["iptables", "-w", "-t", TABLE, ...args], { netns });
}

/** Runs a check (-C / -S); exit status 1 means "no such rule/chain", like go-iptables' Exists. */
async function holds(netns: string | undefined, args: string[]): Promise<boolean> {
  try {
    await iptables(netns, args);
    return true;
  } catch (err) {
    if (err instanceof CommandError && err.exitCode === 1) return false;
    throw err;
  }
}

async function addRule(netns: string | undefined, rule: ChainRule): Promise<boolean> {
  if (!(await holds(netns, ["-S", rule.chain]))) {
    await iptables(netns, ["-N", rule.chain]);
  }
  if (!(await holds(netns, ["-C", rule.base, "-j", rule.chain]))) {
    await iptables(netns, ["-A", rule.base, "-j", rule.chain]);
  }
  if (await holds(netns, ["-C", rule.chain, ...rule.spec])) return false;
  await iptables(netns, ["-A", rule.chain, ...rule.spec]);
  return true;
}

async function removeRule(netns: string | undefined, rule: ChainRule): Promise<void> {
  if (!(await holds(netns, ["-S", rule.chain]))) return;
  if (await holds(netns, ["-C", rule.chain, ...rule.spec])) {
    await iptables(netns, ["-D", rule.chain, ...rule.spec]);
  }
  // `-S <chain>` prints "-N <chain>" first; anything more is another sandbox's rule.
  const left = (await iptables(netns, ["-S", rule.chain])).trim().split("\n").filter(Boolean);
  if (left.length > 1) return;
  if (await holds(netns, ["-C", rule.base, "-j", rule.chain])) {
    await iptables(netns, ["-D", rule.base, "-j", rule.chain]);
  }
  await iptables(netns, ["-X", rule.chain]);
}

async function removeRules(netns: string | undefined, rules: readonly ChainRule[]): Promise<void> {
  for (const rule of [...rules].reverse()) await removeRule(netns, rule);
}

/**
 * Adds both NOTRACK rules (and their chains/jumps when missing). Resolves with an undo that
 * removes only the rules this call added, so a pre-existing identical rule is left alone.
 * On failure, the rules added so far are removed before rejecting.
 */
export function addNotrack(netns: string | undefined, flow: NotrackFlow): Promise<() => Promise<void>> {
  return serial(async () => {
    const added: ChainRule[] = [];
    let current: ChainRule | undefined;
    try {
      for (const rule of notrackRules(flow)) {
        current = rule;
        if (await addRule(netns, rule)) added.push(rule);
      }
    } catch (err) {
      // The failing rule may have left a new, empty chain and its jump behind: remove those too.
      const cleanup = current !== undefined && !added.includes(current) ? [...added, current] : added;
      await removeRules(netns, cleanup).catch((cleanupErr: unknown) => {
        throw new AggregateError(
          [err, cleanupErr],
          `${(err as Error).message}; cleanup: ${(cleanupErr as Error).message}`,
        );
      });
      throw err;
    }
    return () => serial(() => removeRules(netns, added));
  });
}

/** Removes both rules and any chain left empty; safe when some or all are already gone. */
export function removeNotrack(netns: string | undefined, flow: NotrackFlow): Promise<void> {
  return serial(async () => {
    for (const rule of notrackRules(flow)) await removeRule(netns, rule);
  });
}
