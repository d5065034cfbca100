// EC2's request-rate buckets (per account and Region), as published in "Request throttling for the
// Amazon EC2 API" (docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html): the actions
// with a bucket of their own, then the categories. The defaults of AWS_API_RATE_LIMIT mirror them.

export const EC2_FAMILIES = [
  "RunInstances",
  "StartInstances",
  "TerminateInstances",
  "CreateTags",
  "DeleteTags",
  "describe",
  "describe-unfiltered",
  "mutating",
] as const;

export type Ec2Family = (typeof EC2_FAMILIES)[number];

export const EC2_DEFAULT_RATE_LIMIT =
  "RunInstances=5:2,StartInstances=5:2,TerminateInstances=100:5,CreateTags=100:10,DeleteTags=100:10," +
  "describe=100:20,describe-unfiltered=50:10,mutating=50:5";

/** Non-mutating actions with a smaller bucket when called without filters, ids or pagination. */
const UNFILTERED_SENSITIVE = new Set([
  "DescribeInstances",
  "DescribeInstanceStatus",
  "DescribeNetworkInterfaces",
  "DescribeSecurityGroups",
  "DescribeSnapshots",
  "DescribeSpotInstanceRequests",
  "DescribeVolumes",
]);

const OWN_BUCKET = new Set<string>(EC2_FAMILIES.slice(0, 5));

function isUnfiltered(input: Record<string, unknown>): boolean {
  const set = (v: unknown) => v !== undefined && !(Array.isArray(v) && v.length === 0);
  return !Object.entries(input).some(
    ([k, v]) => (k === "Filters" || k === "MaxResults" || k === "NextToken" || k.endsWith("Ids")) && set(v),
  );
}

/** The bucket an EC2 call draws from. */
export function ec2Family(operation: string, input: object): Ec2Family {
  if (OWN_BUCKET.has(operation)) return operation as Ec2Family;
  if (/^(Describe|Get|List)/.test(operation)) {
    return UNFILTERED_SENSITIVE.has(operation) && isUnfiltered(input as Record<string, unknown>)
      ? "describe-unfiltered"
      : "describe";
  }
  return "mutating";
}
