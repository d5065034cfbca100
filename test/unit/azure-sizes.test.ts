// Allow-list sizes and the fallback order after a capacity error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { allowedInstanceTypes, missingSizes, wantedSizes } from "../../providers/azure/sizes.ts";
import { capacityCandidates } from "../../src/sandbox/capacity.ts";
import type { InstanceSpec, InstanceType } from "../../providers/types.ts";

/** The fallback order is the core's now (src/sandbox/capacity.ts), the same for every provider. */
const sizesToTry = (types: InstanceType[], chosen: string, spec: InstanceSpec, max: number) =>
  capacityCandidates(chosen, types, spec, max);

const LISTED = [
  { name: "Standard_DC8as_v5", numberOfCores: 8, memoryInMB: 32768 },
  { name: "Standard_DC2as_v5", numberOfCores: 2, memoryInMB: 8192 },
  { name: "Standard_B2s", numberOfCores: 2, memoryInMB: 4096 },
  { name: "Standard_DC4as_v5", numberOfCores: 4, memoryInMB: 16384 },
];

test("the allow-list keeps listed sizes with cores and memory, sorted by memory then vCPUs; the default alone without a list", () => {
  const types = allowedInstanceTypes(LISTED, [
    "Standard_DC4as_v5",
    "standard_b2s",
    "Standard_DC8as_v5",
    "Standard_X",
  ]);
  assert.deepEqual(
    types.map((t) => [t.name, t.vcpus, t.memoryMiB, t.gpus]),
    [
      ["Standard_B2s", 2, 4096, 0],
      ["Standard_DC4as_v5", 4, 16384, 0],
      ["Standard_DC8as_v5", 8, 32768, 0],
    ],
  );
  assert.deepEqual(missingSizes(LISTED, ["Standard_DC4as_v5", "Standard_X"]), ["Standard_X"]);
  assert.deepEqual(wantedSizes([], "Standard_DC2as_v5"), ["Standard_DC2as_v5"]);
});

test("after a capacity error: the chosen size, then allowed sizes at least as large as request and choice", () => {
  const types = allowedInstanceTypes(
    LISTED,
    LISTED.map((s) => s.name),
  );
  const spec = { instanceType: "Standard_DC2as_v5", vcpus: 0, memoryMiB: 0, gpus: 0, image: "" };
  assert.deepEqual(sizesToTry(types, "Standard_DC2as_v5", spec, 3), [
    "Standard_DC2as_v5",
    "Standard_DC4as_v5",
    "Standard_DC8as_v5",
  ]);
  assert.deepEqual(sizesToTry(types, "Standard_DC2as_v5", { ...spec, vcpus: 6 }, 3), [
    "Standard_DC2as_v5",
    "Standard_DC8as_v5",
  ]);
  assert.deepEqual(sizesToTry(types, "Standard_DC8as_v5", spec, 3), ["Standard_DC8as_v5"]);
  assert.deepEqual(sizesToTry(types, "Standard_B2s", spec, 2), ["Standard_B2s", "Standard_DC2as_v5"]);
});
