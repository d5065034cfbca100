// Every fault scenario, in the order a run takes them.
import type { Scenario } from "../scenario.ts";
import { kill9 } from "./kill9.ts";

export const SCENARIOS: Scenario[] = [kill9];
