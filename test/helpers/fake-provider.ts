// The one fake Provider of the tests: instances kept in memory, honouring the Provider contract
// (providers/types.ts; test/unit/fake-provider.test.ts runs the conformance suite against it). Knobs
// make it fail the way a cloud does (no capacity, a slow or refused call); flaws break one part of
// the contract on purpose, for the conformance harness's own tests.
import { InsufficientCapacityError, NotFoundError, ProviderError } from "../../providers/errors.ts";
import {
  OWNER_TAG_KEYS,
  type CreateRequest,
  type Instance,
  type InstanceType,
  type OwnerTags,
  type Provider,
} from "../../providers/types.ts";

export interface Flaws {
  /** list() returns every instance, whatever tags were asked for. */
  listIgnoresTags?: boolean;
  /** delete() resolves but the instance stays. */
  deleteLeaks?: boolean;
  /** The cloud stores the user-data re-encoded. */
  mangleUserData?: boolean;
  /** Tags it does not know are dropped: the pool role among them. */
  dropsRoleTag?: boolean;
}

export interface FakeProviderOptions {
  name?: string;
  /** The allow-list with sizes; MEMORY_TYPES by default. */
  types?: InstanceType[];
  defaultType?: string;
  /** Instance ids are `<idPrefix><n>`; "mem-" by default. */
  idPrefix?: string;
  /** IPs[0] of the n-th instance; 192.0.2.n by default. */
  ip?: (n: number) => string;
  flaws?: Flaws;
}

export const MEMORY_TYPES: InstanceType[] = [
  { name: "mem.small", vcpus: 1, memoryMiB: 2048, gpus: 0 },
  { name: "mem.large", vcpus: 4, memoryMiB: 16384, gpus: 0 },
  { name: "mem.gpu", vcpus: 8, memoryMiB: 65536, gpus: 1 },
];

type Stored = Instance & { userData: string; instanceType: string };

export class FakeProvider implements Provider {
  readonly name: string;
  readonly flaws: Flaws;
  /** Every call by method name, in order. */
  readonly calls: string[] = [];
  readonly instances = new Map<string, Stored>();
  /** Ids deleted, in order. */
  readonly deleted: string[] = [];
  /** The instance type of every create call, in order (capacity fallback shows here). */
  readonly createdTypes: string[] = [];
  creates = 0;
  deletes = 0;
  /** Ids whose next delete fails. */
  readonly failDelete = new Set<string>();
  /** Types that answer "no capacity" on create. */
  readonly noCapacity = new Set<string>();
  /** How "no capacity" is thrown: our class, or a plain object as an external plugin may. */
  capacityAs: "class" | "plain-object" = "class";
  /** When set, every create throws it. */
  failCreate: Error | undefined;
  /** When set, list() fails with it. */
  listError?: Error;
  createDelayMs = 0;
  getDelayMs = 0;
  private readonly types: InstanceType[];
  private readonly defaultType: string;
  private readonly idPrefix: string;
  private readonly ipOf: (n: number) => string;
  private seq = 0;

  constructor(opts: FakeProviderOptions = {}) {
    this.name = opts.name ?? "memory";
    this.flaws = opts.flaws ?? {};
    this.types = opts.types ?? MEMORY_TYPES;
    this.defaultType = opts.defaultType ?? this.types[0].name;
    this.idPrefix = opts.idPrefix ?? "mem-";
    this.ipOf = opts.ip ?? ((n) => `192.0.2.${n}`);
  }

  async start(): Promise<void> {
    this.calls.push("start");
  }

  instanceTypes(): InstanceType[] {
    return this.types;
  }

  allowList(): string[] {
    return this.types.map((t) => t.name);
  }

  defaultInstanceType(): string {
    return this.defaultType;
  }

  async create(req: CreateRequest): Promise<Instance> {
    this.calls.push("create");
    this.creates++;
    const type = req.spec.instanceType || this.defaultType;
    this.createdTypes.push(type);
    if (this.createDelayMs) await new Promise((r) => setTimeout(r, this.createDelayMs));
    if (this.failCreate !== undefined) throw this.failCreate;
    if (this.noCapacity.has(type)) {
      const message = `no capacity for ${type}`;
      // A plugin need not share our classes: the core must decide on this by its code alone.
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      if (this.capacityAs === "plain-object") throw { code: "InsufficientCapacity", message };
      throw new InsufficientCapacityError(message, { code: "FakeNoCapacity" });
    }
    const tags = ownerTags(req.owner, req.name);
    if (this.flaws.dropsRoleTag) delete tags[OWNER_TAG_KEYS.role];
    const inst = this.plant(tags, new Date(), req.userData);
    inst.instanceType = type;
    return this.view(inst);
  }

  /** Put an instance in place as if someone created it, with exactly these tags. */
  plant(tags: Record<string, string>, createdAt?: Date, userData = ""): Stored {
    const n = ++this.seq;
    const id = `${this.idPrefix}${n}`;
    const inst: Stored = {
      id,
      name: tags.Name ?? id,
      ips: [this.ipOf(n)],
      tags,
      createdAt,
      userData,
      instanceType: this.defaultType,
    };
    this.instances.set(id, inst);
    return inst;
  }

  async delete(id: string): Promise<void> {
    this.calls.push("delete");
    this.deletes++;
    if (this.failDelete.delete(id)) throw new ProviderError(`delete ${id} refused`, { code: "Injected" });
    if (!this.flaws.deleteLeaks) this.instances.delete(id);
    this.deleted.push(id);
  }

  async get(id: string): Promise<Instance> {
    this.calls.push("get");
    if (this.getDelayMs) await new Promise((r) => setTimeout(r, this.getDelayMs));
    const inst = this.instances.get(id);
    if (!inst) throw new NotFoundError(`instance ${id} not found`);
    return this.view(inst);
  }

  async list(owner: Partial<OwnerTags>): Promise<Instance[]> {
    this.calls.push("list");
    if (this.listError) throw this.listError;
    const wanted = Object.entries(owner)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [OWNER_TAG_KEYS[k as keyof OwnerTags], v] as const);
    return [...this.instances.values()]
      .filter((i) => this.flaws.listIgnoresTags || wanted.every(([k, v]) => i.tags[k] === v))
      .map((i) => this.view(i));
  }

  async readUserData(id: string): Promise<string> {
    const inst = this.instances.get(id);
    if (!inst) throw new NotFoundError(`instance ${id} not found`);
    return this.flaws.mangleUserData ? Buffer.from(inst.userData).toString("base64") : inst.userData;
  }

  async close(): Promise<void> {}

  /** Instances that still exist, for assertions after a run. */
  remaining(): string[] {
    return [...this.instances.keys()];
  }

  private view(i: Stored): Instance {
    return { id: i.id, name: i.name, ips: [...i.ips], tags: { ...i.tags }, createdAt: i.createdAt };
  }
}

/** Owner tags as the daemon writes them. */
export function ownerTags(
  owner: OwnerTags,
  name = `podvm-${owner.podName}-${owner.sandboxId.slice(0, 8)}`,
): Record<string, string> {
  const tags: Record<string, string> = { Name: name };
  for (const [k, key] of Object.entries(OWNER_TAG_KEYS)) {
    const value = owner[k as keyof OwnerTags];
    if (value !== undefined) tags[key] = value;
  }
  return tags;
}
