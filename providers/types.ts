// The one interface every cloud implements. Modelled on Karpenter's cloud provider: few methods,
// typed errors (providers/errors.ts), and the lifecycle code never imports a cloud SDK.

/** What the sandbox asks for; instance type already chosen by src/sandbox/instance-type.ts. */
export interface InstanceSpec {
  instanceType: string;
  vcpus: number;
  memoryMiB: number;
  gpus: number;
  /** Image override from the `io.katacontainers.config.hypervisor.image` annotation ("" = provider default). */
  image: string;
  /**
   * EXTERNAL_NETWORK_VIA_PODVM: the VM needs a second NIC whose default route the pod uses (upstream
   * InstanceTypeSpec.MultiNic, CAA src/cloud-providers/types.go). Providers without one ignore it.
   */
  multiNic?: boolean;
  /**
   * Cloud disks of the pod's cloud_volumes annotation (src/sandbox/cloud-volumes.ts), to attach at
   * create and detach, never delete, at delete (upstream InstanceTypeSpec.Volumes).
   */
  volumes?: CloudVolumeAttachment[];
}

export interface CloudVolumeAttachment {
  name: string;
  /** EBS `vol-…` id or Azure managed-disk ARM id. */
  diskId: string;
  /** Azure's data-disk LUN; on AWS the device name follows the order. */
  lun: number;
}

/**
 * Tags that name an instance's owner. Every instance we create carries them, so that the leak
 * collector can find instances nobody owns and never touches one without them.
 */
export interface OwnerTags {
  cluster: string;
  node: string;
  sandboxId: string;
  podName: string;
  podNamespace: string;
  /** "pool" on a warm-pool VM (src/pool/): then sandboxId names its pool slot, not a sandbox. */
  role?: string;
}

/** Cloud tag keys for OwnerTags: plain names, valid on both EC2 and ARM (ARM forbids `/` and `:`). */
export const OWNER_TAG_KEYS = {
  cluster: "peerpod-cluster",
  node: "peerpod-node",
  sandboxId: "peerpod-sandbox-id",
  podName: "peerpod-pod-name",
  podNamespace: "peerpod-pod-namespace",
  role: "peerpod-role",
} as const satisfies Record<keyof OwnerTags, string>;

export interface CreateRequest {
  /** VM name, `podvm-<pod>-<id[:8]>` (src/sandbox/vm-name.ts). */
  name: string;
  /** Rendered `#cloud-config` text, not encoded; each provider encodes it as its cloud wants. */
  userData: string;
  spec: InstanceSpec;
  owner: OwnerTags;
}

export interface Instance {
  /** Provider id: EC2 `i-…`, the full ARM id of the VM, or the local VM's id. */
  id: string;
  name: string;
  /** IPs[0] reaches the forwarder and is the VXLAN remote (upstream Instance.IPs). */
  ips: string[];
  /** Tags on the instance, owner tags included. */
  tags: Record<string, string>;
  /** When the cloud created it, if known; the leak collector's grace period counts from here. */
  createdAt?: Date;
}

/** One allowed instance type with the sizes used by instance-type selection (upstream §6). */
export interface InstanceType {
  name: string;
  vcpus: number;
  memoryMiB: number;
  gpus: number;
  /**
   * False when this provider cannot create the type with its configuration (AWS: no SEV-SNP while
   * confidential VMs are on). Capacity fallback never moves to such a type; selecting it still
   * fails with the provider's InvalidConfig error, as before.
   */
  creatable?: boolean;
}

/** What a provider can do beyond the required methods; the daemon asks instead of testing classes. */
export interface ProviderCapabilities {
  /**
   * The worker can reach its instances over VXLAN, so the daemon builds the pod network tunnel.
   * False for the local provider's loopback fallback (no namespaces). Default true.
   */
  podNetwork: boolean;
}

export interface Provider {
  /** Registry name, e.g. "aws". */
  readonly name: string;
  /** Optional; absent means every capability at its default. Valid after start(). */
  capabilities?(): ProviderCapabilities;
  /**
   * Called once before the daemon serves. Reads what selection needs (sizes of the allowed
   * types) and, when `verify` is set (CLOUD_CONFIG_VERIFY), checks the configuration against the cloud.
   */
  start(opts: { verify: boolean; signal?: AbortSignal }): Promise<void>;
  /** The allow-list with sizes (or the default type alone), after start(). */
  instanceTypes(): InstanceType[];
  /** The default instance type (PODVM_INSTANCE_TYPE, AZURE_INSTANCE_SIZE, …). */
  defaultInstanceType(): string;
  /**
   * The configured allow-list (PODVM_INSTANCE_TYPES, AZURE_INSTANCE_SIZES), possibly empty. Upstream's
   * error strings differ between an empty list and a type missing from it (docs/upstream-compat.md §6).
   * When absent, the names of instanceTypes() are used.
   */
  allowList?(): string[];
  /**
   * Create one instance of exactly `req.spec.instanceType` (the core chose it and does capacity
   * fallback and retries of the whole create; src/sandbox/capacity.ts). Must not create a second
   * one when called again for the same sandbox after an ambiguous failure. Throws a typed failure
   * (providers/errors.ts): an error whose `kind` or `code` is NotFound, InsufficientCapacity,
   * Throttled or InvalidConfig — a plugin may throw a plain `{ code, message }` — and, when an
   * instance exists anyway, an `instance` field (PartialCreateError) that the caller deletes.
   */
  create(req: CreateRequest, signal?: AbortSignal): Promise<Instance>;
  /** Delete and resolve once deletion is accepted; an instance that does not exist counts as deleted. */
  delete(id: string, signal?: AbortSignal): Promise<void>;
  /** Throws NotFoundError when the instance does not exist (or is terminated). */
  get(id: string, signal?: AbortSignal): Promise<Instance>;
  /** Live instances whose tags include every given owner tag. */
  list(owner: Partial<OwnerTags>, signal?: AbortSignal): Promise<Instance[]>;
  /**
   * Optional: the user-data the cloud holds for an instance, decoded to the text create() was given
   * (EC2 DescribeInstanceAttribute userData, ARM VM userData, the local VM's cidata). Used by the
   * conformance suite (src/conformance/) to check that user-data arrives intact.
   */
  readUserData?(id: string, signal?: AbortSignal): Promise<string>;
  /**
   * Optional: what to check first when a VM's forwarder never answered (StartVM's agent-connect
   * stage), appended to that error, e.g. the AWS IMDS mode an older pod-VM image cannot boot with.
   */
  agentConnectHint?(): string | undefined;
  /** Optional: the client-side API budget's buckets and queues (providers/cloudapi/), for metrics and the admin API. */
  apiBudget?(): ApiFamilyState[];
  close(): Promise<void>;
}

/** One API family of a provider's cloud-call layer, as it stands now. */
export interface ApiFamilyState {
  family: string;
  capacity: number;
  refillPerSec: number;
  tokens: number;
  /** Calls waiting for a token. */
  queued: number;
  /** Callers (sandboxes, instances) with calls waiting. */
  callers: number;
  /** How long the queue is held after a throttle, from now. */
  heldForMs: number;
  /** Throttled answers the cloud gave despite the bucket, since start. */
  throttles: number;
}

/** What a provider module exports (built-in or an external plugin). */
export interface ProviderModule {
  readonly name: string;
  /** Env names this provider reads, for `caa serve --help` and the deploy ConfigMap tests. */
  readonly envNames: readonly string[];
  /**
   * Build the provider. `flags` are the `caa serve` command-line flags (upstream's
   * `cloud-api-adaptor <provider> -flag value`); a flag overrides its env var.
   */
  create(
    env: NodeJS.ProcessEnv,
    deps: ProviderDeps,
    flags?: Readonly<Record<string, string>>,
  ): Provider | Promise<Provider>;
}

export interface ProviderDeps {
  logger: ProviderLogger;
  /** Private state directory for this provider (e.g. the local provider's VM records). */
  stateDir: string;
  /**
   * Optional metrics hook: called once per cloud API attempt (each retry counts) with the
   * operation (e.g. "RunInstances") and "ok" or the cloud's error code.
   */
  onCloudCall?(provider: string, operation: string, outcome: string): void;
  /** Optional metrics hook: a cloud call waited `ms` in its API family's queue for a token. */
  onCloudQueueWait?(provider: string, family: string, ms: number): void;
}

export interface ProviderLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}
