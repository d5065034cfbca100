// The AWS provider behind the one Provider interface (providers/types.ts). Each step lives in
// its own file: catalog (start-up reads), run-request + create, delete, instances (get/list).
import type { EC2Client, RunInstancesCommandInput } from "@aws-sdk/client-ec2";
import { KARPENTER_WINDOW, NO_WINDOW } from "../cloudapi/batcher.ts";
import { CallBudget } from "../cloudapi/budget.ts";
import { asCaller } from "../cloudapi/caller.ts";
import { parseRateLimits, parseShare, scaleLimits } from "../cloudapi/limits.ts";
import { InvalidConfigError } from "../errors.ts";
import type {
  ApiFamilyState,
  CreateRequest,
  Instance,
  InstanceType,
  OwnerTags,
  Provider,
  ProviderDeps,
  ProviderLogger,
} from "../types.ts";
import { OWNER_TAG_KEYS } from "../types.ts";
import { describeImage, describeInstanceTypes, type ImageInfo, type TypeInfo } from "./catalog.ts";
import { EC2_FAMILIES } from "./api-families.ts";
import { ec2Batches, type Ec2Batches } from "./batches.ts";
import { createEc2Client, credentialsMode, type ClientCustomizer } from "./client.ts";
import { createInstance } from "./create.ts";
import { deleteInstance } from "./delete.ts";
import {
  describeInstance,
  findBySandbox,
  listByOwner,
  readInstanceUserData,
  toInstance,
} from "./instances.ts";
import { endpointOf, type AwsConfig } from "./options.ts";
import { imdsAgentConnectHint, imdsModeLine } from "./imds-mode.ts";
import type { Reconciler } from "./retry.ts";
import { effectiveRootVolumeSize } from "./run-request.ts";
import { verifyConfig } from "./verify.ts";
import { sortInstanceTypes } from "../../src/sandbox/instance-type.ts";

export interface AwsProviderOptions {
  /** Adjust the SDK client (unit tests add a middleware that answers instead of EC2). */
  customizeClient?: ClientCustomizer;
  /** Jitter source for the retry backoff. */
  random?: () => number;
}

export class AwsProvider implements Provider {
  readonly name = "aws";
  readonly #cfg: AwsConfig;
  readonly #logger: ProviderLogger;
  readonly #ec2: EC2Client;
  readonly #budget: CallBudget | undefined;
  readonly #batches: Ec2Batches;
  readonly #images = new Map<string, Promise<ImageInfo>>();
  readonly #types = new Map<string, TypeInfo>();
  readonly #unsettled = new Set<string>();
  #listed: TypeInfo[] = [];

  constructor(cfg: AwsConfig, deps: ProviderDeps, opts: AwsProviderOptions = {}) {
    this.#cfg = cfg;
    this.#logger = deps.logger;
    const limits = scaleLimits(
      parseRateLimits("AWS_API_RATE_LIMIT", cfg.rateLimit, EC2_FAMILIES),
      parseShare(cfg.rateShare),
    );
    this.#budget =
      Object.keys(limits).length > 0
        ? new CallBudget(limits, {
            cloud: "EC2",
            maxWaitMs: cfg.queueTimeoutMs,
            observer: {
              onWait: deps.onCloudQueueWait
                ? (family, ms) => deps.onCloudQueueWait?.("aws", family, ms)
                : undefined,
            },
          })
        : undefined;
    const findLaunched: Reconciler = async (input, signal) => {
      const sandbox = sandboxTagOf(input as RunInstancesCommandInput);
      const inst = sandbox ? await findBySandbox(this.#ec2, sandbox, signal) : undefined;
      if (inst)
        this.#logger.info(
          { sandbox, instance: inst.InstanceId },
          "RunInstances answer lost; found its instance",
        );
      return inst ? { Instances: [inst], $metadata: {} } : undefined;
    };
    this.#ec2 = createEc2Client(
      cfg,
      {
        policy: {
          maxAttempts: Math.max(1, cfg.retryMaxAttempts),
          budgetMs: cfg.retryBudgetMs,
          baseDelayMs: cfg.retryBaseMs,
          maxDelayMs: cfg.retryMaxDelayMs,
        },
        reconcilers: { RunInstances: findLaunched },
        onAttempt: deps.onCloudCall ? (op, outcome) => deps.onCloudCall?.("aws", op, outcome) : undefined,
        onRetry: (r) => this.#logger.debug(r, `retrying ${r.operation} after AWS ${r.code}`),
        random: opts.random,
      },
      this.#budget,
      opts.customizeClient,
    );
    this.#batches = ec2Batches(this.#ec2, cfg.batching ? KARPENTER_WINDOW : NO_WINDOW);
    this.#logger.info(
      {
        region: cfg.region,
        endpoint: endpointOf(cfg) || undefined,
        credentialSource: credentialsMode(cfg),
        instanceType: cfg.instanceType,
        instanceTypes: cfg.instanceTypes,
        imageId: cfg.imageId,
        subnetId: cfg.subnetId,
        securityGroupIds: cfg.securityGroupIds,
        keyName: cfg.keyName,
        usePublicIp: cfg.usePublicIp,
        rootVolumeSize: cfg.rootVolumeSize,
        disableCvm: cfg.disableCvm,
        useLaunchTemplate: cfg.useLaunchTemplate,
        launchTemplateName: cfg.launchTemplateName,
        tags: cfg.tags,
        requireImdsv2: cfg.requireImdsv2,
        rateLimits: limits,
        batching: cfg.batching,
      },
      "aws config",
    );
    // Loud (warn) in the default mode: it is the one an older pod-VM image cannot boot with.
    if (cfg.requireImdsv2) this.#logger.warn({ requireImdsv2: true }, imdsModeLine(true));
    else this.#logger.info({ requireImdsv2: false }, imdsModeLine(false));
  }

  agentConnectHint(): string | undefined {
    return imdsAgentConnectHint(this.#cfg.requireImdsv2);
  }

  async start(opts: { verify: boolean; signal?: AbortSignal }): Promise<void> {
    const cfg = this.#cfg;
    const { signal } = opts;
    if (!cfg.region)
      throw new InvalidConfigError("AWS_REGION is empty and was not found in IMDS placement/region", {
        code: "RegionMissing",
      });
    if (!cfg.imageId && (opts.verify || !cfg.useLaunchTemplate))
      throw new InvalidConfigError("ImageId is empty (set PODVM_AMI_ID)", { code: "ImageIdEmpty" });
    if (cfg.imageId) {
      const image = await this.#image(cfg.imageId, "PODVM_AMI_ID", signal);
      this.#logger.info(
        { imageId: image.id, rootDeviceName: image.rootDeviceName },
        `RootDeviceName and RootVolumeSize of the image ${image.id} is ${image.rootDeviceName}, ${effectiveRootVolumeSize(cfg.rootVolumeSize, image.sizeGiB)}`,
      );
    }
    const listed = cfg.instanceTypes.length > 0 ? cfg.instanceTypes : [cfg.instanceType];
    const infos = await describeInstanceTypes(this.#ec2, [...listed, cfg.instanceType], signal);
    for (const [name, info] of infos) this.#types.set(name, info);
    this.#listed = listed.map((n) => infos.get(n) as TypeInfo);
    this.#logger.info({ instanceTypes: this.#listed }, "InstanceTypeSpecList");
    if (!cfg.disableCvm && !cfg.useLaunchTemplate)
      for (const t of infos.values())
        if (!t.sevSnp)
          this.#logger.warn(
            { instanceType: t.name },
            `instance type ${t.name} does not support AMD SEV-SNP; creates with it are refused unless DISABLECVM=true`,
          );
    if (opts.verify) for (const w of await verifyConfig(this.#ec2, cfg, signal)) this.#logger.warn({}, w);
  }

  /**
   * In selection order (the core's one sort). Without SEV-SNP (while confidential VMs are on) a
   * type is not creatable; with a launch template the template fixes the type, so none is.
   */
  instanceTypes(): InstanceType[] {
    const cfg = this.#cfg;
    return sortInstanceTypes(
      this.#listed.map(({ name, vcpus, memoryMiB, gpus, sevSnp }) => {
        const creatable = !cfg.useLaunchTemplate && (cfg.disableCvm || sevSnp);
        return { name, vcpus, memoryMiB, gpus, ...(creatable ? {} : { creatable }) };
      }),
    );
  }

  defaultInstanceType(): string {
    return this.#cfg.instanceType;
  }

  allowList(): string[] {
    return [...this.#cfg.instanceTypes];
  }

  create(req: CreateRequest, signal?: AbortSignal): Promise<Instance> {
    return asCaller(req.owner.sandboxId, () => this.#create(req, signal));
  }

  #create(req: CreateRequest, signal?: AbortSignal): Promise<Instance> {
    return createInstance(
      {
        ec2: this.#ec2,
        cfg: this.#cfg,
        logger: this.#logger,
        image: (id, label, s) => this.#image(id, label, s),
        typeInfo: (name, s) => this.#typeInfo(name, s),
        unsettled: this.#unsettled,
      },
      req,
      signal,
    );
  }

  delete(id: string, signal?: AbortSignal): Promise<void> {
    return asCaller(id, () => deleteInstance(this.#ec2, this.#batches, id, this.#logger, signal));
  }

  get(id: string, signal?: AbortSignal): Promise<Instance> {
    return asCaller(id, async () =>
      toInstance(await describeInstance(this.#batches, id, signal), this.#cfg.usePublicIp),
    );
  }

  readUserData(id: string, signal?: AbortSignal): Promise<string> {
    return asCaller(id, () => readInstanceUserData(this.#ec2, id, signal));
  }

  apiBudget(): ApiFamilyState[] {
    return this.#budget?.snapshot() ?? [];
  }

  /** Sizes of the batched calls sent so far (benchmarks and tests). */
  batchSizes(): ReturnType<Ec2Batches["sent"]> {
    return this.#batches.sent();
  }

  async list(owner: Partial<OwnerTags>, signal?: AbortSignal): Promise<Instance[]> {
    return (await listByOwner(this.#ec2, owner, signal)).map((i) => toInstance(i, this.#cfg.usePublicIp));
  }

  async close(): Promise<void> {
    this.#budget?.close();
    this.#ec2.destroy();
  }

  #image(id: string, label: string, signal?: AbortSignal): Promise<ImageInfo> {
    let p = this.#images.get(id);
    if (!p) {
      p = describeImage(this.#ec2, id, label, signal);
      this.#images.set(id, p);
      void p.catch(() => this.#images.delete(id));
    }
    return p;
  }

  async #typeInfo(name: string, signal?: AbortSignal): Promise<TypeInfo> {
    const known = this.#types.get(name);
    if (known) return known;
    const info = (await describeInstanceTypes(this.#ec2, [name], signal)).get(name) as TypeInfo;
    this.#types.set(name, info);
    return info;
  }
}

function sandboxTagOf(input: RunInstancesCommandInput): string | undefined {
  for (const spec of input.TagSpecifications ?? [])
    for (const t of spec.Tags ?? []) if (t.Key === OWNER_TAG_KEYS.sandboxId) return t.Value;
  return undefined;
}
