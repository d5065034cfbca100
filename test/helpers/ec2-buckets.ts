// EC2's request-rate token buckets, enforced by the fault proxy in front of moto as EC2 enforces
// them per account and Region ("Request throttling for the Amazon EC2 API",
// docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html): a call whose bucket is empty
// is answered RequestLimitExceeded without reaching moto. The classification reads the Query API
// form itself, independently of the provider's own client-side table.
import { TokenBucket } from "../azure-emulator/throttle.ts";

/** Bucket size and refill per second, from the published table. */
export const EC2_PUBLISHED_BUCKETS: Record<string, [number, number]> = {
  RunInstances: [5, 2],
  StartInstances: [5, 2],
  TerminateInstances: [100, 5],
  CreateTags: [100, 10],
  DeleteTags: [100, 10],
  CreateNetworkInterface: [100, 5],
  DeleteNetworkInterface: [100, 5],
  CreateVolume: [100, 5],
  DeleteVolume: [100, 5],
  "non-mutating": [100, 20],
  "unfiltered non-mutating": [50, 10],
  mutating: [50, 5],
};

const UNFILTERED_LIST = new Set([
  "DescribeInstances",
  "DescribeInstanceStatus",
  "DescribeNetworkInterfaces",
  "DescribeSecurityGroups",
  "DescribeSnapshots",
  "DescribeSpotInstanceRequests",
  "DescribeVolumes",
]);

export function ec2BucketOf(action: string, form: URLSearchParams): string {
  if (EC2_PUBLISHED_BUCKETS[action]) return action;
  if (!/^(Describe|Get|List)/.test(action)) return "mutating";
  const narrowed = [...form.keys()].some((k) => /^(Filter\.|MaxResults|NextToken|\w+Id\.\d)/.test(k));
  return UNFILTERED_LIST.has(action) && !narrowed ? "unfiltered non-mutating" : "non-mutating";
}

export class Ec2Buckets {
  private readonly buckets = new Map<string, TokenBucket>();
  /** Calls refused per bucket. */
  readonly refused: Record<string, number> = {};

  /** True when the call may go through (and takes its token). */
  admit(action: string, form: URLSearchParams): boolean {
    const name = ec2BucketOf(action, form);
    let b = this.buckets.get(name);
    if (!b) {
      const [capacity, refill] = EC2_PUBLISHED_BUCKETS[name];
      b = new TokenBucket(capacity, refill);
      this.buckets.set(name, b);
    }
    if (b.take() === undefined) return true;
    this.refused[name] = (this.refused[name] ?? 0) + 1;
    return false;
  }
}
