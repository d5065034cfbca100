// CreateInstance (upstream-caa.md §7): RunInstances for the selected type, falling back to the
// next allowed type on InsufficientInstanceCapacity; after an ambiguous failure the instance is
// looked up by its sandbox tag before anything is created again (moto ignores ClientToken, EC2
// honours it: we rely on both). IPs come from the RunInstances answer; the public IP after the
// running waiter.
import {
  RunInstancesCommand,
  waitUntilInstanceRunning,
  type DescribeInstancesCommandOutput,
  type EC2Client,
  type Instance as Ec2Instance,
} from "@aws-sdk/client-ec2";
import {
  InsufficientCapacityError,
  InvalidConfigError,
  PartialCreateError,
  ProviderError,
} from "../errors.ts";
import type { CapacityMemory, CreateRequest, Instance, ProviderLogger } from "../types.ts";
import { awsCode, classify, isCapacityCode, toProviderError } from "./aws-errors.ts";
import type { ImageInfo, TypeInfo } from "./catalog.ts";
import { findBySandbox, isGone, privateIps, publicIp, toInstance } from "./instances.ts";
import type { AwsConfig } from "./options.ts";
import {
  MAX_USER_DATA_BYTES,
  buildRunInstancesInput,
  clientToken,
  effectiveRootVolumeSize,
  type RunPlan,
} from "./run-request.ts";

/** Upstream waits up to 120 s for `running` before reading the public IP. */
const RUNNING_WAIT_S = 120;
/** A ClientToken EC2 answers with a terminated instance belongs to an earlier create of this sandbox. */
const MAX_TOKEN_GENERATIONS = 5;
/** Lookups, each with the full retry budget, before an ambiguous create is reported as unknown. */
const SETTLE_LOOKUPS = 3;

export interface CreateContext {
  ec2: EC2Client;
  cfg: AwsConfig;
  logger: ProviderLogger;
  image(imageId: string, label: string, signal?: AbortSignal): Promise<ImageInfo>;
  typeInfo(name: string, signal?: AbortSignal): Promise<TypeInfo>;
  /** The selected type and the types to try after it when capacity runs out. */
  candidates(req: CreateRequest): string[];
  /** Sandboxes whose last create ended without knowing whether an instance was made. */
  unsettled: Set<string>;
  /** Types that just had no capacity: skipped, and told of each new capacity failure. */
  capacity?: CapacityMemory;
}

export async function createInstance(
  ctx: CreateContext,
  req: CreateRequest,
  signal?: AbortSignal,
): Promise<Instance> {
  const sandbox = req.owner.sandboxId;
  const bytes = Buffer.byteLength(req.userData, "utf8");
  if (bytes > MAX_USER_DATA_BYTES)
    throw new InvalidConfigError(
      `sandbox ${sandbox}: user data is ${bytes} bytes, EC2 allows ${MAX_USER_DATA_BYTES}`,
      {
        code: "UserDataTooLarge",
      },
    );
  if (ctx.unsettled.has(sandbox)) {
    const existing = await findBySandbox(ctx.ec2, sandbox, signal);
    if (existing) {
      ctx.logger.info({ sandbox, instance: existing.InstanceId }, "found the instance of an earlier create");
      return finish(ctx, req, existing, signal);
    }
  }
  let launched: Ec2Instance;
  try {
    launched = await launch(ctx, req, signal);
  } catch (err) {
    if (classify(err) !== "ambiguous") throw err;
    launched = await settleAmbiguous(ctx, req, err, signal);
  }
  ctx.unsettled.delete(sandbox);
  return finish(ctx, req, launched, signal);
}

async function launch(ctx: CreateContext, req: CreateRequest, signal?: AbortSignal): Promise<Ec2Instance> {
  const { cfg } = ctx;
  const base = await basePlan(ctx, req, signal);
  if (cfg.useLaunchTemplate)
    return runOne(ctx, req, { ...base, launchTemplateName: cfg.launchTemplateName }, signal);
  const candidates = ctx.candidates(req);
  const selected = await ctx.typeInfo(candidates[0], signal);
  if (!cfg.disableCvm && !selected.sevSnp)
    throw new InvalidConfigError(
      `instance type ${selected.name} does not support AMD SEV-SNP (no amd-sev-snp in ProcessorInfo.SupportedFeatures); ` +
        `choose an SEV-SNP type (e.g. m6a.large) or set DISABLECVM=true`,
      { code: "SevSnpUnsupported" },
    );
  const remembered: string[] = [];
  const types = candidates.filter((t) => {
    const code = ctx.capacity?.skip(t);
    if (code) remembered.push(`${t} (${code})`);
    return !code;
  });
  if (types.length === 0)
    throw new InsufficientCapacityError(
      `RunInstances for sandbox ${req.owner.sandboxId}: no capacity in ${cfg.region} for any fitting type a moment ago: ` +
        `${remembered.join(", ")}; not asked again until the entries expire`,
      { code: /\((\S+)\)$/.exec(remembered[0])?.[1] },
    );
  if (remembered.length > 0)
    ctx.logger.info(
      { sandbox: req.owner.sandboxId, skipped: remembered },
      "skipping types that had no capacity a moment ago",
    );
  const failures: string[] = [];
  let lastErr: unknown;
  for (const type of types) {
    try {
      return await runOne(ctx, req, { ...base, instanceType: type, sevSnp: !cfg.disableCvm }, signal);
    } catch (err) {
      const code = awsCode(err);
      if (!isCapacityCode(code)) throw err;
      ctx.capacity?.mark(type, code);
      failures.push(`${type} (${code})`);
      lastErr = err;
      ctx.logger.warn(
        { sandbox: req.owner.sandboxId, instanceType: type, code },
        "no capacity, trying the next type",
      );
    }
  }
  throw new InsufficientCapacityError(
    `RunInstances for sandbox ${req.owner.sandboxId}: AWS ${awsCode(lastErr)} for ${types[0]} in ${cfg.region}` +
      `${types.length > 1 ? `; tried ${failures.slice(1).join(", ")}` : ""}` +
      `${remembered.length > 0 ? `; skipped ${remembered.join(", ")} (no capacity a moment ago)` : ""}`,
    { code: awsCode(lastErr), cause: lastErr },
  );
}

async function basePlan(
  ctx: CreateContext,
  req: CreateRequest,
  signal?: AbortSignal,
): Promise<Omit<RunPlan, "clientToken">> {
  const { cfg } = ctx;
  let imageId = cfg.imageId;
  if (req.spec.image && !cfg.useLaunchTemplate) {
    ctx.logger.info(
      { sandbox: req.owner.sandboxId },
      `Choosing ${req.spec.image} from annotation as the AWS AMI for the PodVM image`,
    );
    imageId = req.spec.image;
  }
  const image = imageId
    ? await ctx.image(imageId, imageId === cfg.imageId ? "PODVM_AMI_ID" : "image annotation", signal)
    : undefined;
  return {
    name: req.name,
    userData: req.userData,
    owner: req.owner,
    tags: cfg.tags,
    rootDeviceName: image?.rootDeviceName,
    rootVolumeSize: effectiveRootVolumeSize(cfg.rootVolumeSize, image?.sizeGiB),
    imageId,
    instanceType: "",
    subnetId: cfg.subnetId,
    securityGroupIds: cfg.securityGroupIds,
    keyName: cfg.keyName,
    usePublicIp: cfg.usePublicIp,
    sevSnp: false,
  };
}

/** One RunInstances per token generation; a terminated answer means the token was used before. */
async function runOne(
  ctx: CreateContext,
  req: CreateRequest,
  plan: Omit<RunPlan, "clientToken">,
  signal?: AbortSignal,
): Promise<Ec2Instance> {
  const sandbox = req.owner.sandboxId;
  const variant = plan.launchTemplateName ? `lt:${plan.launchTemplateName}` : plan.instanceType;
  for (let generation = 0; generation < MAX_TOKEN_GENERATIONS; generation++) {
    const input = buildRunInstancesInput({ ...plan, clientToken: clientToken(sandbox, variant, generation) });
    ctx.logger.info(
      { sandbox, instanceType: plan.instanceType || undefined },
      `Creating instance ${req.name}`,
    );
    let out;
    try {
      out = await ctx.ec2.send(new RunInstancesCommand(input), { abortSignal: signal });
    } catch (err) {
      if (classify(err) === "ambiguous") throw err;
      throw toProviderError(`RunInstances ${variant} for sandbox ${sandbox}`, err);
    }
    const inst = out.Instances?.[0];
    if (!inst?.InstanceId)
      throw new ProviderError(`RunInstances for sandbox ${sandbox}: no instance in the answer`, {
        code: "EmptyResponse",
      });
    if (!isGone(inst)) return inst;
    ctx.logger.warn(
      { sandbox, instance: inst.InstanceId, state: inst.State?.Name },
      "ClientToken answered with an instance of an earlier create; using the next token",
    );
  }
  throw new ProviderError(`RunInstances for sandbox ${sandbox}: every ClientToken generation is used up`, {
    code: "IdempotentTokensExhausted",
  });
}

/**
 * The retry budget ran out on an ambiguous failure: an instance may exist. Look for it (a read,
 * so a few more rounds are cheap); if it is there it is ours. If nobody can tell, fail and look
 * first on the next create of this sandbox.
 */
async function settleAmbiguous(
  ctx: CreateContext,
  req: CreateRequest,
  err: unknown,
  signal?: AbortSignal,
): Promise<Ec2Instance> {
  const sandbox = req.owner.sandboxId;
  for (let round = 0; round < SETTLE_LOOKUPS; round++) {
    let found: Ec2Instance | undefined;
    try {
      found = await findBySandbox(ctx.ec2, sandbox, signal);
    } catch {
      continue;
    }
    if (found) return found;
    throw toProviderError(`RunInstances for sandbox ${sandbox} (no instance was made)`, err);
  }
  ctx.unsettled.add(sandbox);
  throw toProviderError(
    `RunInstances for sandbox ${sandbox} (outcome unknown, will look it up before retrying)`,
    err,
  );
}

async function finish(
  ctx: CreateContext,
  req: CreateRequest,
  inst: Ec2Instance,
  signal?: AbortSignal,
): Promise<Instance> {
  const id = inst.InstanceId ?? "";
  const sandbox = req.owner.sandboxId;
  const partial = (why: string, code: string, cause?: unknown): PartialCreateError =>
    new PartialCreateError(`instance ${id} for sandbox ${sandbox}: ${why}`, toInstance(inst, false), {
      code,
      cause,
    });
  const ips = privateIps(inst);
  if (ips.length === 0 || ips.some((ip) => ip === "" || ip === "0.0.0.0"))
    throw partial("address not ready", "AddressNotReady");
  ctx.logger.info({ sandbox, instance: id, ips }, `Created instance ${req.name} (${id})`);
  if (!ctx.cfg.usePublicIp) return toInstance(inst, false);
  let running: Ec2Instance | undefined;
  try {
    const res = await waitUntilInstanceRunning(
      { client: ctx.ec2, maxWaitTime: RUNNING_WAIT_S, minDelay: 2, maxDelay: 10, abortSignal: signal },
      { InstanceIds: [id] },
    );
    const answer = res.reason as DescribeInstancesCommandOutput | undefined;
    running = answer?.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === id);
  } catch (err) {
    throw partial(`waiting for running: AWS ${awsCode(err)}: ${(err as Error).message}`, awsCode(err), err);
  }
  const pub = running ? publicIp(running) : undefined;
  if (!pub) throw partial("public IP address is empty", "PublicIpMissing");
  return toInstance(running ?? inst, true);
}
