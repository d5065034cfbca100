// Runs one scenario against one target: a fresh environment, the scenario's rounds, the
// invariants after each round and at the end, and a teardown that runs also when it fails.
import { Burst } from "./burst.ts";
import { checkNothingLeft, checkRecords, checkRunning, stopAll } from "./invariants.ts";
import { Ledger } from "./ledger.ts";
import type { Rng } from "./rng.ts";
import type { Scenario, ScenarioContext, ScenarioParams } from "./scenario.ts";
import { messageOf } from "./shim.ts";
import type { ChaosTarget } from "./target.ts";

export interface ScenarioResult {
  target: string;
  scenario: string;
  fault: string;
  params: ScenarioParams;
  seed: number;
  ledger: Ledger;
  seconds: number;
  /** Set when the scenario could not run here. */
  skipped?: string;
  /** Cloud API faults the target injected, by kind. */
  cloudFaults?: Record<string, number>;
}

export interface RunOptions {
  short: boolean;
  /** Whole-scenario bound; past it the scenario counts as failed and is torn down. */
  timeoutMs: number;
  log: (line: string) => void;
  /** Rounds, burst size or concurrency in place of the scenario's own (a campaign of other counts). */
  override?: Partial<ScenarioParams>;
  /** Share of cloud API calls the cloud targets fault (default 0.3). */
  faultRate?: number;
}

export async function runScenario(
  target: ChaosTarget,
  scenario: Scenario,
  rng: Rng,
  opts: RunOptions,
): Promise<ScenarioResult> {
  const params = { ...(opts.short ? scenario.short : scenario.full), ...opts.override };
  const ledger = new Ledger();
  const result: ScenarioResult = {
    target: target.name,
    scenario: scenario.name,
    fault: scenario.fault,
    params,
    seed: rng.seed,
    ledger,
    seconds: 0,
  };
  const skip = scenario.unsupported?.(target);
  if (skip) return { ...result, skipped: skip };
  const began = Date.now();
  const log = (m: string) => opts.log(`[${target.name}/${scenario.name}] ${m}`);
  let timer: NodeJS.Timeout | undefined;
  try {
    target.configureFaults?.({ seed: rng.fork("target").seed, rate: opts.faultRate ?? 0.3 });
    const daemon = await target.setup({ ...scenario.targetOptions, burst: params.burst });
    await daemon.start();
    const ctx: ScenarioContext = {
      target,
      daemon,
      rng,
      ledger,
      params,
      log,
      burst: (origin, size = params.burst) =>
        new Burst(daemon.socket, ledger, rng, { size, concurrency: params.concurrency, origin }),
      async settle() {
        if (!daemon.up()) await daemon.start();
        await checkRunning(ledger, daemon);
        await stopAll(ledger, daemon);
        await checkNothingLeft(ledger, target, daemon);
        await checkRecords(ledger, daemon.stateDir);
        log(
          `settled: ${ledger.size} sandboxes, ${ledger.lost.length} lost, ${ledger.leaked.length} leaked, ${ledger.violations.length} other`,
        );
      },
    };
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`scenario did not finish within ${opts.timeoutMs / 1000} s`)),
        opts.timeoutMs,
      );
    });
    await Promise.race([scenario.run(ctx).then(() => ctx.settle()), timeout]);
  } catch (err) {
    ledger.violate({ what: `scenario failed: ${messageOf(err)}` });
    log(`failed: ${messageOf(err)}`);
  } finally {
    clearTimeout(timer);
    result.cloudFaults = target.faultsInjected?.();
    await target.teardown().catch((err: unknown) => {
      ledger.violate({ what: `teardown failed: ${messageOf(err)}` });
    });
    result.seconds = Math.round((Date.now() - began) / 1000);
  }
  return result;
}

/** No sandbox lost, nothing leaked, nothing else broken. */
export function passed(r: ScenarioResult): boolean {
  return r.ledger.lost.length === 0 && r.ledger.leaked.length === 0 && r.ledger.violations.length === 0;
}
