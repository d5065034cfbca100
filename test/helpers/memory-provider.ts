// A Provider kept in memory, for unit-level tests of code that lists and deletes instances.
import { NotFoundError, ProviderError } from "../../providers/errors.ts";
import {
  OWNER_TAG_KEYS,
  type CreateRequest,
  type Instance,
  type InstanceType,
  type OwnerTags,
  type Provider,
} from "../../providers/types.ts";

export class MemoryProvider implements Provider {
  readonly name = "memory";
  readonly instances = new Map<string, Instance>();
  readonly deleted: string[] = [];
  /** Ids whose next delete fails. */
  readonly failDelete = new Set<string>();
  /** When set, list() fails with this error. */
  listError?: Error;
  /** A buggy provider: list() ignores the owner filter. */
  ignoreFilter = false;
  private seq = 0;

  async start(): Promise<void> {}

  instanceTypes(): InstanceType[] {
    return [{ name: "mem.small", vcpus: 1, memoryMiB: 1024, gpus: 0 }];
  }

  defaultInstanceType(): string {
    return "mem.small";
  }

  async create(req: CreateRequest): Promise<Instance> {
    const tags: Record<string, string> = { Name: req.name };
    for (const [k, key] of Object.entries(OWNER_TAG_KEYS)) {
      const value = req.owner[k as keyof OwnerTags];
      if (value !== undefined) tags[key] = value;
    }
    return this.plant(tags, new Date());
  }

  /** Put an instance in place as if someone created it, with exactly these tags. */
  plant(tags: Record<string, string>, createdAt?: Date): Instance {
    const id = `mem-${++this.seq}`;
    const inst: Instance = { id, name: tags.Name ?? id, ips: [`198.51.100.${this.seq}`], tags, createdAt };
    this.instances.set(id, inst);
    return inst;
  }

  async delete(id: string): Promise<void> {
    if (this.failDelete.delete(id)) throw new ProviderError(`delete ${id} refused`, { code: "Injected" });
    this.instances.delete(id);
    this.deleted.push(id);
  }

  async get(id: string): Promise<Instance> {
    const inst = this.instances.get(id);
    if (!inst) throw new NotFoundError(`instance ${id} not found`);
    return inst;
  }

  async list(owner: Partial<OwnerTags>): Promise<Instance[]> {
    if (this.listError) throw this.listError;
    const wanted = Object.entries(owner).map(([k, v]) => [OWNER_TAG_KEYS[k as keyof OwnerTags], v] as const);
    return [...this.instances.values()].filter(
      (i) => this.ignoreFilter || wanted.every(([k, v]) => i.tags[k] === v),
    );
  }

  async close(): Promise<void> {}
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
