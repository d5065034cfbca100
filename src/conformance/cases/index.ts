// The suite, in the order it runs; cleanup (cleanup.ts) always follows.
import type { ConformanceCase } from "../types.ts";
import { concurrentCase } from "./concurrent.ts";
import { createCase } from "./create.ts";
import { deleteCase } from "./delete.ts";
import { getCase } from "./get.ts";
import { instanceTypesCase } from "./instance-types.ts";
import { leakCase } from "./leak.ts";
import { listCase } from "./list.ts";
import { poolCase } from "./pool.ts";
import { startCase } from "./start.ts";

export const CASES: readonly ConformanceCase[] = [
  startCase,
  instanceTypesCase,
  createCase,
  getCase,
  listCase,
  deleteCase,
  concurrentCase,
  leakCase,
  poolCase,
];
