import { test } from "node:test";
import assert from "node:assert/strict";
import type { InstanceType } from "../../providers/types.ts";
import {
  goQuote,
  InstanceTypeError,
  selectInstanceType,
  sortInstanceTypes,
} from "../../src/sandbox/instance-type.ts";

const t = (name: string, vcpus: number, memoryMiB: number, gpus = 0): InstanceType => ({
  name,
  vcpus,
  memoryMiB,
  gpus,
});
const req = (instanceType: string, vcpus: number, memoryMiB: number, gpus = 0) => ({
  instanceType,
  vcpus,
  memoryMiB,
  gpus,
});
const names = (list: InstanceType[]) => list.map((x) => x.name);

// An AWS-like allow-list shaped like the e2e configuration: the largest type has 2 vCPUs and
// 16 GiB, so 2/12288 fits while 2/18432 and 3/12288 do not.
const AWS_TYPES = [
  t("t3.small", 2, 2048),
  t("t3.medium", 2, 4096),
  t("m6a.large", 2, 8192),
  t("r6a.large", 2, 16384),
  t("c6a.large", 2, 4096),
];
const AWS_ALLOW = AWS_TYPES.map((x) => x.name);
const AWS_DEFAULT = "m6a.large";
const pick = (spec: ReturnType<typeof req>) => selectInstanceType(spec, AWS_TYPES, AWS_DEFAULT, AWS_ALLOW);

function throwsExactly(fn: () => unknown, message: string) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InstanceTypeError);
    assert.equal(e.name, "InstanceTypeError");
    assert.equal(e.message, message);
    return true;
  });
}

test("e2e: no annotations gives the default type", () => {
  assert.equal(pick(req("", 0, 0)), "m6a.large");
});

test("e2e: the instance type annotation is used when allowed", () => {
  assert.equal(pick(req("t3.small", 0, 0)), "t3.small");
});

test("e2e: 2 vCPU / 12288 MiB picks the smallest fitting type", () => {
  assert.equal(pick(req("", 2, 12288)), "r6a.large");
});

test("e2e: CPU only or memory only falls back to the default", () => {
  assert.equal(pick(req("", 4, 0)), "m6a.large");
  assert.equal(pick(req("", 0, 12288)), "m6a.large");
});

test("e2e: an invalid type fails with upstream's exact string", () => {
  throwsExactly(
    () => pick(req("t2.nano", 0, 0)),
    'failed to verify instance type: requested instance type ("t2.nano") is not part of supported instance types list',
  );
});

test("e2e: larger memory and larger CPU fail with upstream's exact strings", () => {
  throwsExactly(
    () => pick(req("", 2, 18432)),
    "failed to get instance type based on vCPU and memory annotations: no instance type found for the given vcpus (2) and memory (18432)",
  );
  throwsExactly(
    () => pick(req("", 3, 12288)),
    "failed to get instance type based on vCPU and memory annotations: no instance type found for the given vcpus (3) and memory (12288)",
  );
});

test("an empty allow-list accepts only the default type", () => {
  const only = [t("t3.medium", 2, 4096)];
  assert.equal(selectInstanceType(req("t3.medium", 0, 0), only, "t3.medium", []), "t3.medium");
  throwsExactly(
    () => selectInstanceType(req("t2.small", 0, 0), only, "t2.medium", []),
    'failed to verify instance type: requested instance type ("t2.small") is not default ("t2.medium") and supported instance types list is empty',
  );
});

// Upstream TestVerifyCloudInstanceType (CAA src/cloud-providers/util_test.go).
test("upstream VerifyCloudInstanceType cases", () => {
  const types = [t("t2.small", 1, 2048), t("t2.medium", 2, 4096)];
  assert.equal(
    selectInstanceType(req("t2.small", 0, 0), types, "t2.medium", ["t2.small", "t2.medium"]),
    "t2.small",
  );
  assert.throws(
    () => selectInstanceType(req("t2.small", 0, 0), types, "t2.medium", ["t2.medium"]),
    InstanceTypeError,
  );
  assert.equal(selectInstanceType(req("", 0, 0), types, "t2.medium", ["t2.medium"]), "t2.medium");
  assert.equal(selectInstanceType(req("", 0, 0), types, "t2.medium", []), "t2.medium");
  assert.throws(() => selectInstanceType(req("t2.small", 0, 0), types, "t2.medium", []), InstanceTypeError);
});

// Upstream TestSortInstanceTypesOnResources.
test("sorting is ascending by GPUs, then memory, then vCPUs", () => {
  const small = t("t2.small", 2, 6);
  const medium = t("t2.medium", 4, 8);
  const large = t("t2.large", 8, 16);
  for (const order of [
    [small, medium, large],
    [small, large, medium],
    [medium, small, large],
  ]) {
    assert.deepEqual(names(sortInstanceTypes(order)), ["t2.small", "t2.medium", "t2.large"]);
  }
  const gpu = sortInstanceTypes([t("p2.medium", 4, 8, 2), t("p2.small", 2, 6, 1), t("p2.large", 8, 16, 4)]);
  assert.deepEqual(names(gpu), ["p2.small", "p2.medium", "p2.large"]);
  const mixed = sortInstanceTypes([t("g", 1, 1, 1), t("c8", 8, 4096), t("c2", 2, 4096), t("m", 1, 8192)]);
  assert.deepEqual(names(mixed), ["c2", "c8", "m", "g"]);
});

test("sorting does not modify the caller's list", () => {
  const list = [t("b", 2, 8), t("a", 1, 4)];
  sortInstanceTypes(list);
  assert.deepEqual(names(list), ["b", "a"]);
});

test("ties keep Go sort.Slice's order (insertion sort up to 12 entries)", () => {
  const list = [
    t("m5.large", 2, 8192),
    t("m6a.large", 2, 8192),
    t("m6i.large", 2, 8192),
    t("t3.small", 2, 2048),
  ];
  assert.deepEqual(names(sortInstanceTypes(list)), ["t3.small", "m5.large", "m6a.large", "m6i.large"]);
  assert.equal(selectInstanceType(req("", 2, 8192), list, "m5.large", names(list)), "m5.large");
});

// Upstream TestGetBestFitInstanceType, through SelectInstanceTypeToUse.
test("upstream best-fit cases", () => {
  const list = [t("t2.small", 2, 6), t("t2.medium", 4, 8), t("t2.large", 8, 16)];
  const allow = names(list);
  assert.equal(selectInstanceType(req("", 2, 6), list, "t2.small", allow), "t2.small");
  assert.equal(selectInstanceType(req("", 4, 8), list, "t2.small", allow), "t2.medium");
  assert.equal(selectInstanceType(req("", 4, 16), list, "t2.small", allow), "t2.large");
  assert.throws(() => selectInstanceType(req("", 4, 32), list, "t2.small", allow), InstanceTypeError);
  const withGpu = [t("t2.small", 2, 6), t("p2.medium", 4, 8, 2), t("t2.large", 8, 16)];
  assert.equal(selectInstanceType(req("", 4, 8), withGpu, "t2.small", names(withGpu)), "t2.large");
});

// Upstream TestGetBestFitInstanceTypeWithGPU and TestSelectInstanceTypeToUse.
test("upstream GPU and priority cases", () => {
  const gpus = [t("small-gpu", 2, 4096, 1), t("medium-gpu", 4, 8192, 2)];
  const allow = names(gpus);
  assert.equal(selectInstanceType(req("", 2, 4096, 1), gpus, "x", allow), "small-gpu");
  assert.equal(selectInstanceType(req("", 3, 6144, 1), gpus, "x", allow), "medium-gpu");
  throwsExactly(
    () => selectInstanceType(req("", 8, 16384, 4), gpus, "x", allow),
    "failed to get instance type based on GPU, vCPU, and memory annotations: no instance type found for the given GPUs (4), vCPUs (8), and memory (16384)",
  );
  throwsExactly(
    () => selectInstanceType(req("", 2, 4096, 1), [], "x", []),
    "failed to get instance type based on GPU, vCPU, and memory annotations: no instance type found for the given GPUs (1), vCPUs (2), and memory (4096)",
  );

  const p3 = [t("p3.xlarge", 4, 16, 1), t("p3.2xlarge", 8, 32, 2), t("m5.large", 2, 8)];
  const p3allow = ["m5.large", "p3.xlarge", "p3.2xlarge"];
  assert.equal(selectInstanceType(req("m5.large", 4, 8, 2), p3, "t3.medium", p3allow), "m5.large");
  assert.equal(selectInstanceType(req("", 4, 16, 1), p3, "t3.medium", p3allow), "p3.xlarge");
  const t3 = [t("t3.micro", 1, 1), t("t3.large", 2, 8), t("t3.xlarge", 4, 16)];
  assert.equal(selectInstanceType(req("t3.micro", 4, 16), t3, "t3.medium", names(t3)), "t3.micro");
  const t3b = [t("t3.large", 2, 8), t("t3.xlarge", 4, 16), t("t3.2xlarge", 8, 32)];
  assert.equal(selectInstanceType(req("", 4, 16), t3b, "t3.medium", names(t3b)), "t3.xlarge");
  assert.throws(
    () => selectInstanceType(req("invalid.type", 2, 4), [t("t3.small", 2, 2)], "t3.small", ["t3.small"]),
    InstanceTypeError,
  );
  assert.equal(selectInstanceType(req("", 0, 0), [], "t3.medium", []), "t3.medium");
});

test("best fit is Go's binary search, not a linear scan", () => {
  // Sorted by memory: a(2/4096) b(8/8192) c(2/16384) d(4/32768). For 4 vCPU / 4096 MiB the
  // predicate is false,true,false,true: a linear scan finds b, sort.Search probes c then d.
  const list = [t("a", 2, 4096), t("b", 8, 8192), t("c", 2, 16384), t("d", 4, 32768)];
  assert.equal(selectInstanceType(req("", 4, 4096), list, "a", names(list)), "d");
});

test("goQuote matches Go's %q", () => {
  assert.equal(goQuote("m6a.large"), '"m6a.large"');
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote("a\nb\u0001\u007f"), '"a\\nb\\x01\\x7f"');
  assert.equal(goQuote("caf\u00e9 \u00a0"), '"caf\u00e9 \\u00a0"');
});
