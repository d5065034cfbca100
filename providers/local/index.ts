import { envNamesOf, resolve } from "../../src/config/options.ts";
import type { ProviderModule } from "../types.ts";
import { LOCAL_OPTIONS } from "./config.ts";
import { LocalProvider } from "./provider.ts";

const local: ProviderModule = {
  name: "local",
  envNames: envNamesOf(LOCAL_OPTIONS),
  create(env, deps, flags = {}) {
    return new LocalProvider(resolve(LOCAL_OPTIONS, { env, flags }), deps);
  },
};

export default local;
