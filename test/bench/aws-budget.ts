// Cloud API budgets on AWS: a burst of n sandboxes through the provider against moto behind a
// proxy that enforces EC2's published request-rate buckets (test/helpers/ec2-buckets.ts) and
// answers RequestLimitExceeded as EC2 does. "waves": all n created at once, then all n deleted
// at once (a Job fan-out that finishes); "interleaved": each sandbox deleted as soon as it is up.
// Reports wall time against the bucket-limited minimum (n RunInstances from a bucket of 5
// refilled 2 per second), EC2 calls per sandbox (throttled answers included), throttled answers
// and the failures that reached the caller. Run alone: `node test/bench/aws-budget.ts [n]`.
import { setTimeout as sleep } from "node:timers/promises";
import { createAwsProvider, type AwsProvider } from "../../providers/aws/index.ts";
import { ThrottledError } from "../../providers/errors.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { createRequest } from "../helpers/aws-requests.ts";
import { awsEnv, motoClient, seedWorld } from "../helpers/moto-fixtures.ts";
import { startMoto } from "../helpers/moto.ts";
import { delta, startProxyProcess } from "./aws-burst.ts";

/** RunInstances: bucket 5, refill 2 per second (EC2's published table). */
const RUN_BUCKET = { capacity: 5, refillPerSec: 2 };

export interface AwsBudgetOptions {
  n: number;
  /** The cloud-call layer (client buckets, fair queue, batching) on, or off as before it existed. */
  layer: boolean;
  pattern: "waves" | "interleaved";
}

export interface AwsBudgetResult extends AwsBudgetOptions {
  wallMs: number;
  /** Waves: until the last create returned; the deletes took the rest. */
  createsMs: number;
  /** The least time EC2's RunInstances bucket allows for n creates. */
  minimumMs: number;
  ec2CallsPerSandbox: number;
  callsByAction: Record<string, number>;
  /** RequestLimitExceeded answers the proxy gave. */
  throttledAnswers: number;
  /** Creates or deletes that failed with a throttling error (what the shim would see). */
  throttlingFailures: number;
  otherFailures: number;
  batchSizes: Record<string, number[]>;
  cpuMsPerSandbox: number;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

export async function benchAwsBudget(opts: AwsBudgetOptions): Promise<AwsBudgetResult> {
  const moto = await startMoto();
  const direct = motoClient(moto.url);
  const proxy = await startProxyProcess(moto.url, ["--ec2-buckets"]);
  let provider: AwsProvider | undefined;
  try {
    const world = await seedWorld(direct);
    const off = { AWS_API_RATE_LIMIT: "off", CLOUD_API_BATCHING: "false" };
    provider = await createAwsProvider(awsEnv(proxy.url, world, opts.layer ? {} : off), {
      logger: silentLogger(),
      stateDir: "/nonexistent",
    });
    const p = provider;
    await p.start({ verify: false });
    // moto loads its EC2 code lazily: one lifecycle first, then let every bucket fill up again.
    await p.delete((await p.create(createRequest({ owner: { node: "bench" } }))).id);
    await sleep(3000);

    let throttlingFailures = 0;
    let otherFailures = 0;
    const failed = (err: unknown) => {
      if (err instanceof ThrottledError) throttlingFailures++;
      else otherFailures++;
    };
    const ids: Array<string | undefined> = new Array<string | undefined>(opts.n);
    const create = async (i: number) => {
      try {
        ids[i] = (await p.create(createRequest({ owner: { node: "bench" } }))).id;
      } catch (err) {
        failed(err);
      }
    };
    const remove = async (i: number) => {
      const id = ids[i];
      if (id) await p.delete(id).catch(failed);
    };
    const before = await proxy.counts();
    const throttledBefore = await proxy.throttled();
    const sentBefore = Object.fromEntries(Object.entries(p.batchSizes()).map(([k, v]) => [k, v.length]));
    const cpu0 = cpuMicros();
    const t0 = performance.now();
    const all = Array.from({ length: opts.n }, (_, i) => i);
    let createsMs = 0;
    if (opts.pattern === "waves") {
      await Promise.all(all.map(create));
      createsMs = performance.now() - t0;
      await Promise.all(all.map(remove));
    } else {
      await Promise.all(all.map(async (i) => (await create(i), remove(i))));
    }
    const wallMs = performance.now() - t0;
    createsMs ||= wallMs;
    const cpu = cpuMicros() - cpu0;
    const callsByAction = delta(await proxy.counts(), before);
    const throttled = delta(await proxy.throttled(), throttledBefore);
    const sent = p.batchSizes();
    const batchSizes = Object.fromEntries(Object.entries(sent).map(([k, v]) => [k, v.slice(sentBefore[k])]));
    return {
      ...opts,
      wallMs,
      createsMs,
      minimumMs: (Math.max(0, opts.n - RUN_BUCKET.capacity) / RUN_BUCKET.refillPerSec) * 1000,
      ec2CallsPerSandbox: Object.values(callsByAction).reduce((a, b) => a + b, 0) / opts.n,
      callsByAction,
      throttledAnswers: Object.values(throttled).reduce((a, b) => a + b, 0),
      throttlingFailures,
      otherFailures,
      batchSizes,
      cpuMsPerSandbox: cpu / 1000 / opts.n,
    };
  } finally {
    await provider?.close();
    direct.destroy();
    await proxy.stop();
    await moto.stop();
  }
}

export const AWS_BUDGET_SCENARIOS: ReadonlyArray<Omit<AwsBudgetOptions, "n">> = [
  { layer: true, pattern: "waves" },
  { layer: false, pattern: "waves" },
  { layer: true, pattern: "interleaved" },
];

export function budgetRow(r: AwsBudgetResult): string {
  const s = (v: number) => `${(v / 1000).toFixed(1)} s`;
  return (
    `| ${r.layer ? "on" : "off"} | ${r.pattern} | ${s(r.wallMs)} | ${s(r.createsMs)} | ${s(r.minimumMs)} | ${(r.wallMs / r.minimumMs).toFixed(3)} | ` +
    `${r.ec2CallsPerSandbox.toFixed(2)} | ${r.throttledAnswers} | ${r.throttlingFailures} | ${r.otherFailures} | ${r.cpuMsPerSandbox.toFixed(1)} ms |`
  );
}

export const BUDGET_HEADER = [
  "| layer | pattern | wall | creates done | bucket-limited minimum | ratio | EC2 calls per sandbox | RequestLimitExceeded answers | throttling errors to the caller | other failures | CPU per sandbox |",
  "|---|---|---|---|---|---|---|---|---|---|---|",
];

if (import.meta.main) {
  const n = Number(process.argv[2] ?? 300);
  const only = process.argv[3];
  for (const line of BUDGET_HEADER) console.log(line);
  for (const s of AWS_BUDGET_SCENARIOS) {
    if (only && `${s.layer ? "on" : "off"}-${s.pattern}` !== only) continue;
    const r = await benchAwsBudget({ n, ...s });
    console.log(budgetRow(r));
    console.log(
      `  calls by action: ${JSON.stringify(r.callsByAction)}; batches: ${JSON.stringify(r.batchSizes)}`,
    );
  }
}
