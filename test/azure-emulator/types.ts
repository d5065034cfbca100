// Options and fault plan of the ARM emulator. Every knob a test may turn is declared here.

export interface VmSize {
  name: string;
  numberOfCores: number;
  memoryInMB: number;
  maxDataDiskCount?: number;
}

export interface EmulatorOptions {
  subscriptionId?: string;
  tenantId?: string;
  /** Client id and secret the token endpoint accepts (a fixed test pair by default). */
  clientId?: string;
  clientSecret?: string;
  location?: string;
  resourceGroups?: string[];
  /** Full ARM ids of subnets with their prefixes; default one subnet 10.0.0.0/16 in the first group. */
  subnets?: Array<{ id: string; addressPrefix: string }>;
  /** Full ARM ids of network security groups that exist. */
  nsgs?: string[];
  /** Image ids that exist: managed images, gallery image versions, `/CommunityGalleries/…/Versions/…`. */
  images?: string[];
  vmSizes?: VmSize[];
  /** How long a VM create or delete stays InProgress. */
  lroDelayMs?: number;
  /** How long NIC, public IP and disk deletes stay InProgress. */
  networkDelayMs?: number;
  /** Retry-After (seconds) on LRO responses and operation polls; real Compute sends 10–50. */
  retryAfterSec?: number;
  /** Items per list page before a nextLink. */
  pageSize?: number;
  /** Reject ARM requests without a token issued by the login endpoint. */
  requireAuth?: boolean;
  /** Token buckets per request class, as ARM's (docs/background.md §4.7). */
  rateLimit?: Partial<Record<RequestClass, { capacity: number; refillPerSec: number }>>;
}

export type RequestClass = "reads" | "writes" | "deletes";

/** A fault that fires `count` times (default 1), optionally only for some VM sizes. */
export interface CountedFault {
  count?: number;
  sizes?: string[];
  code?: string;
  message?: string;
}

export interface FaultPlan {
  /** The VM create LRO ends Failed (AllocationFailed by default) after the NIC and disk were made. */
  lroFailure?: CountedFault;
  /** The VM PUT is refused at once with 409 (OperationNotAllowed, a cores-quota message, by default). */
  conflict?: CountedFault;
  /** The VM PUT is carried out (VM, NIC, disk made; create running) but the client gets a 5xx. */
  errorAfterAccept?: CountedFault & { status?: number };
  /** The next `count` requests whose op is in `ops` (all ARM ops when absent) get 429 + Retry-After. */
  throttle?: { count: number; retryAfterSec?: number; ops?: string[] };
  /** VM deletes leave these cascaded resources behind, as if the cascade had not run. */
  deleteLeaves?: { count?: number; kinds: Array<"nic" | "disk" | "publicIp"> };
  /** Faults at a rate on every ARM request (random-faults.ts), on top of the counted ones. */
  random?: RandomFaultPlan;
}

/**
 * throttle: 429 + Retry-After; unavailable: a 5xx before acting; drop-before / drop-after: the
 * connection is closed before the request is carried out / after it was (the ambiguous case);
 * capacity: a new VM's create ends AllocationFailed after its NIC and disk were made; slow: the
 * answer is held for `slowMs`.
 */
export type RandomFault = "throttle" | "unavailable" | "drop-before" | "drop-after" | "capacity" | "slow";

export interface RandomFaultPlan {
  /** Share of ARM requests in [0, 1] that get a fault. */
  rate: number;
  /** Seed of the pseudo-random choice, for reproducible runs (default 1). */
  seed?: number;
  /** Kinds picked uniformly among those that apply to the request (default: all). */
  kinds?: RandomFault[];
  /** Default 2000. */
  slowMs?: number;
  /** Retry-After of a throttled request (default 1). */
  retryAfterSec?: number;
}

export interface RecordedRequest {
  seq: number;
  /** ms since the emulator started. */
  at: number;
  method: string;
  path: string;
  op: string;
  status: number;
  /** Parsed JSON body of PUTs (login form bodies are never recorded). */
  body?: unknown;
}
