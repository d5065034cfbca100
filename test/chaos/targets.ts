// The targets `npm run chaos` knows, by name (--target). Cloud targets register here too.
import { armEmulatorTarget } from "./cloud/azure.ts";
import { motoTarget } from "./cloud/aws.ts";
import { LocalTarget } from "./local-target.ts";
import type { ChaosTarget } from "./target.ts";

export const TARGETS: Record<string, () => ChaosTarget> = {
  local: () => new LocalTarget(),
  moto: () => motoTarget(),
  "arm-emulator": () => armEmulatorTarget(),
};
