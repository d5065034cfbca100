// Fuzz target: CreateVM's sandbox id and annotations (src/sandbox/record.ts planSandbox, which
// validates the id, reads pod identity, sizes, image and initdata, and picks the instance type;
// src/sandbox/cloud-volumes.ts for the cloud_volumes annotation). Each input is a CreateVM as JSON
// `{"id": …, "annotations": {…}}`, or (when mutation broke the JSON) lines: the id, then `key\tvalue`.
// It must give a valid plan or a LifecycleError/CloudVolumeError whose text is short and one line.
import type { InstanceType } from "../../providers/types.ts";
import { ANNOTATION } from "../../src/sandbox/annotations.ts";
import {
  CLOUD_VOLUMES_ANNOTATION,
  CloudVolumeError,
  parseCloudVolumes,
} from "../../src/sandbox/cloud-volumes.ts";
import { LifecycleError } from "../../src/sandbox/errors.ts";
import { planSandbox } from "../../src/sandbox/record.ts";
import type { FuzzTarget } from "./driver.ts";
import { nastyString, type Rng } from "./mutator.ts";

const PODS_DIR = "/run/peerpod/pods";
const TYPES: InstanceType[] = [
  { name: "t3.small", vcpus: 2, memoryMiB: 2048, gpus: 0 },
  { name: "m6a.large", vcpus: 2, memoryMiB: 8192, gpus: 0 },
  { name: "g5.xlarge", vcpus: 4, memoryMiB: 16384, gpus: 1 },
];
const CATALOG = { types: TYPES, defaultType: "t3.small", allowList: TYPES.map((t) => t.name) };
/** An error a caller sees and a log line carries: bounded, and one line (no forged log lines). */
const MAX_ERROR_CHARS = 1024;

interface CreateVM {
  id: string;
  annotations: Record<string, string>;
}

export function decodeCreateVM(input: Buffer): CreateVM {
  const text = input.toString("utf8");
  try {
    const v = JSON.parse(text) as Partial<CreateVM>;
    if (typeof v.id === "string" && typeof v.annotations === "object" && v.annotations !== null) {
      const annotations: Record<string, string> = {};
      for (const [k, x] of Object.entries(v.annotations)) annotations[k] = String(x);
      return { id: v.id, annotations };
    }
  } catch {
    // Not JSON: the line form below.
  }
  const [id = "", ...lines] = text.split("\n");
  const annotations: Record<string, string> = {};
  for (const line of lines) {
    const tab = line.indexOf("\t");
    annotations[tab < 0 ? line : line.slice(0, tab)] = tab < 0 ? "" : line.slice(tab + 1);
  }
  return { id, annotations };
}

function checkError(err: unknown, allowed: (new (...a: never[]) => Error)[], what: string): void {
  if (!allowed.some((c) => err instanceof c)) throw err;
  const message = (err as Error).message;
  if (message.length > MAX_ERROR_CHARS)
    throw new Error(`${what}: error text of ${message.length} chars: ${message.slice(0, 200)}…`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(message))
    throw new Error(`${what}: control character in error text: ${JSON.stringify(message.slice(0, 300))}`);
}

const KEYS = [...Object.values(ANNOTATION), CLOUD_VOLUMES_ANNOTATION];

function value(rng: Rng, key: string): string {
  if (rng.chance(0.5)) return nastyString(rng, rng.chance(0.1) ? 300_000 : 2048);
  switch (key) {
    case ANNOTATION.defaultVcpus:
    case ANNOTATION.defaultMemory:
    case ANNOTATION.defaultGpus:
      return rng.pick(["0", "1", "2", "4096", "4097", "-1", "+3", "07", "99999999999999999999", "1.5"]);
    case ANNOTATION.machineType:
      return rng.pick([...CATALOG.allowList, "m6a.huge", ""]);
    case CLOUD_VOLUMES_ANNOTATION:
      return JSON.stringify({
        [rng.pick(["data", "a", "A", "x".repeat(70), nastyString(rng, 64)])]: {
          mount_point: rng.pick(["/data", "/", "relative", "/a/../b", "/a,b", nastyString(rng, 64)]),
          fs_type: rng.pick(["ext4", "xfs", "btrfs", 7]),
          lun: rng.pick([0, 63, 64, -1, "3", "x", 1.5]),
          disk_id: rng.pick(["vol-0123456789abcdef0", "", "a b", nastyString(rng, 2000)]),
          ...(rng.chance(0.3) ? { encrypt_type: rng.pick(["LUKS", "none"]) } : {}),
          ...(rng.chance(0.3) ? { key_id: nastyString(rng, 64) } : {}),
          ...(rng.chance(0.2) ? { [nastyString(rng, 32)]: 1 } : {}),
        },
      });
    default:
      return nastyString(rng, 4096);
  }
}

function generate(rng: Rng): Buffer {
  const annotations: Record<string, string> = {};
  if (rng.chance(0.8)) annotations[ANNOTATION.sandboxName] = nastyString(rng, 512);
  if (rng.chance(0.8)) annotations[ANNOTATION.sandboxNamespace] = nastyString(rng, 512);
  const n = rng.size(rng.chance(0.05) ? 400 : 12);
  for (let i = 0; i < n; i++) {
    const key = rng.chance(0.6) ? rng.pick(KEYS) : nastyString(rng, rng.chance(0.1) ? 100_000 : 400);
    annotations[key] = value(rng, key);
  }
  const id = rng.chance(0.5)
    ? rng.bytes(32).toString("hex")
    : nastyString(rng, rng.chance(0.1) ? 1 << 20 : 200);
  return Buffer.from(JSON.stringify({ id, annotations }));
}

export const annotationsTarget: FuzzTarget = {
  name: "annotations",
  timeoutMs: 2000,
  batch: 200,
  maxInputBytes: 2 << 20,
  open: async () => ({
    generate,
    run: async (input) => {
      const { id, annotations } = decodeCreateVM(input);
      try {
        const plan = planSandbox({ id, annotations, netnsPath: "" }, PODS_DIR, CATALOG);
        if (!plan.podDir.startsWith(`${PODS_DIR}/`) || plan.podDir.slice(PODS_DIR.length + 1).includes("/"))
          throw new Error(`pod directory ${JSON.stringify(plan.podDir)} is not one level under ${PODS_DIR}`);
        if (!/^podvm-[a-z0-9-]*$/.test(plan.vmName) || plan.vmName.length > 63)
          throw new Error(`VM name ${JSON.stringify(plan.vmName)} is not a valid instance name`);
      } catch (err) {
        checkError(err, [LifecycleError], "planSandbox");
      }
      try {
        parseCloudVolumes(annotations[CLOUD_VOLUMES_ANNOTATION]);
      } catch (err) {
        checkError(err, [CloudVolumeError], "parseCloudVolumes");
      }
    },
    close: async () => undefined,
  }),
};
