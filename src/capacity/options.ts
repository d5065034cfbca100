// Settings of the unavailable-offerings cache.
import { duration } from "../config/options.ts";
import { DEFAULT_UNAVAILABLE_TTL_MS } from "./unavailable-offerings.ts";

export const capacityOptions = {
  unavailableTtlMs: duration(
    "unavailable-offerings-ttl",
    "UNAVAILABLE_OFFERINGS_TTL",
    DEFAULT_UNAVAILABLE_TTL_MS,
    "How long an instance type that had no capacity is skipped by every sandbox (0 turns the cache off)",
  ),
};
