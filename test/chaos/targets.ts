// The targets `npm run chaos` knows, by name (--target). Cloud targets register here too.
import { LocalTarget } from "./local-target.ts";
import type { ChaosTarget } from "./target.ts";

export const TARGETS: Record<string, () => ChaosTarget> = {
  local: () => new LocalTarget(),
};
