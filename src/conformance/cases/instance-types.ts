// Instance-type selection over this provider's types gives upstream's answers and the exact
// error strings the upstream e2e suite asserts on (docs/upstream-compat.md §6).
import {
  goQuote,
  InstanceTypeError,
  selectInstanceType,
  sortInstanceTypes,
} from "../../sandbox/instance-type.ts";
import type { InstanceTypeRequest } from "../../sandbox/instance-type.ts";
import type { InstanceType } from "../../../providers/types.ts";
import type { ConformanceCase } from "../types.ts";

const INVALID_TYPE = "conformance.invalid-type";

interface Expectation {
  what: string;
  request: Partial<InstanceTypeRequest>;
  /** The type selection must choose… */
  type?: string;
  /** …or a text its error must contain. */
  error?: string;
}

function expectations(
  types: readonly InstanceType[],
  def: string,
  allowList: readonly string[],
): Expectation[] {
  const maxVcpus = Math.max(...types.map((t) => t.vcpus)) + 1;
  const maxMemory = Math.max(...types.map((t) => t.memoryMiB)) + 1;
  const maxGpus = Math.max(...types.map((t) => t.gpus)) + 1;
  const smallest = sortInstanceTypes(types).find((t) => t.gpus === 0);
  return [
    { what: "no annotations", request: {}, type: def },
    { what: "vCPUs without memory", request: { vcpus: 2 }, type: def },
    {
      what: "an instance type outside the allow-list",
      request: { instanceType: INVALID_TYPE },
      error:
        allowList.length === 0
          ? `requested instance type (${goQuote(INVALID_TYPE)}) is not default (${goQuote(def)}) and supported instance types list is empty`
          : `requested instance type (${goQuote(INVALID_TYPE)}) is not part of supported instance types list`,
    },
    {
      what: "more vCPUs and memory than any type",
      request: { vcpus: maxVcpus, memoryMiB: maxMemory },
      error: `no instance type found for the given vcpus (${maxVcpus}) and memory (${maxMemory})`,
    },
    {
      what: "more GPUs than any type",
      request: { gpus: maxGpus, vcpus: 1, memoryMiB: 1 },
      error: `no instance type found for the given GPUs (${maxGpus}), vCPUs (1), and memory (1)`,
    },
    smallest
      ? {
          what: "the smallest request (1 vCPU, 1 MiB)",
          request: { vcpus: 1, memoryMiB: 1 },
          type: smallest.name,
        }
      : {
          what: "the smallest request (1 vCPU, 1 MiB) with only GPU types",
          request: { vcpus: 1, memoryMiB: 1 },
          error: "no instance type found for the given vcpus (1) and memory (1)",
        },
  ];
}

export const instanceTypesCase: ConformanceCase = {
  id: "instance-types",
  title: "instance-type selection gives upstream's choices and error strings",
  needs: ["start"],
  async run(ctx) {
    const types = ctx.provider.instanceTypes();
    const def = ctx.provider.defaultInstanceType();
    const allowList = ctx.provider.allowList?.() ?? types.map((t) => t.name);
    const problems: string[] = [];
    const cases = expectations(types, def, allowList);
    for (const e of cases) {
      const request = { instanceType: "", vcpus: 0, memoryMiB: 0, gpus: 0, ...e.request };
      let chosen: string | undefined;
      let error: string | undefined;
      try {
        chosen = selectInstanceType(request, types, def, allowList);
      } catch (err) {
        if (!(err instanceof InstanceTypeError)) throw err;
        error = err.message;
      }
      if (e.type !== undefined && chosen !== e.type) {
        problems.push(`${e.what}: expected ${e.type}, got ${chosen ?? `error "${error}"`}`);
      } else if (e.error !== undefined && (error === undefined || !error.includes(e.error))) {
        problems.push(`${e.what}: expected the error "${e.error}", got ${error ? `"${error}"` : chosen}`);
      }
    }
    if (problems.length > 0)
      throw new Error(`instance-type selection differs from upstream:\n- ${problems.join("\n- ")}`);
    return `${cases.length} selections match upstream (allow-list: ${allowList.length === 0 ? "empty" : allowList.join(",")})`;
  },
};
