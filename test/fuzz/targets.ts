// Every fuzz target, by name (npm run fuzz -- --target <name>).
import { agentPathTarget } from "./agent-path.ts";
import { annotationsTarget } from "./annotations.ts";
import { apfJsonTarget } from "./apf-json.ts";
import type { FuzzTarget } from "./driver.ts";
import { opsHttpTarget } from "./ops-http.ts";
import { userDataTarget } from "./user-data.ts";

export const TARGETS: readonly FuzzTarget[] = [
  annotationsTarget,
  userDataTarget,
  apfJsonTarget,
  opsHttpTarget,
  agentPathTarget,
];
