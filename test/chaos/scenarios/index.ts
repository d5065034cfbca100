// Every fault scenario, in the order a run takes them.
import type { Scenario } from "../scenario.ts";
import { diskFull } from "./disk-full.ts";
import { forwarderKill } from "./forwarder-kill.ts";
import { handover } from "./handover.ts";
import { kill9 } from "./kill9.ts";
import { sigterm } from "./sigterm.ts";

export const SCENARIOS: Scenario[] = [kill9, sigterm, handover, forwarderKill, diskFull];
