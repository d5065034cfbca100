// The built-in `local` provider: a "VM" is a network namespace on this host with its own address
// on a bridge, running the pod-VM boot chain with the user-data in its cidata directory. Without
// root it falls back to processes on loopback addresses, and says so.
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { InsufficientCapacityError, NotFoundError, ProviderError } from "../errors.ts";
import type {
  CreateRequest,
  Instance,
  InstanceType,
  OwnerTags,
  Provider,
  ProviderCapabilities,
  ProviderDeps,
} from "../types.ts";
import { OWNER_TAG_KEYS } from "../types.ts";
import { DirSync, writeFileAtomic } from "../../src/util/atomic-file.ts";
import { splitCommand } from "../../src/util/command.ts";
import { KeyedLock } from "../../src/util/keyed-lock.ts";
import { ensurePrivateDir } from "../../src/util/private-dir.ts";
import { loadRecords } from "../../src/util/record-dir.ts";
import { hostAddress, hostCount, parseSubnet, subnetText, type Subnet } from "./addresses.ts";
import { LOCAL_INSTANCE_TYPES, type LOCAL_OPTIONS } from "./config.ts";
import { podVmArgs, podVmBootCommand } from "./boot-command.ts";
import { cidataDir, readCidataUserData, writeCidata } from "./cidata.ts";
import { createVmNetwork, deleteVmNetwork, podNetnsOf } from "./vm-network.ts";
import { prepareBridgeNetwork } from "./vm-subnet.ts";
import { removeStrayVmDirs } from "./stray-vm-dirs.ts";
import { isAlive, killVm, processesUnder, spawnVm, type VmProcess } from "./vm-process.ts";
import type { Resolved } from "../../src/config/options.ts";

export type LocalConfig = Resolved<typeof LOCAL_OPTIONS>;

/** What the provider keeps per VM, in `<stateDir>/<id>.json`. */
interface VmRecord {
  id: string;
  name: string;
  ip: string;
  hostNumber: number;
  netns?: string;
  hostVeth?: string;
  process?: VmProcess;
  tags: Record<string, string>;
  createdAt: string;
  dir: string;
}

export class LocalProvider implements Provider {
  readonly name = "local";
  private readonly config: LocalConfig;
  private readonly deps: ProviderDeps;
  private readonly namespaces: boolean;
  /** The loopback range, or (as root) the bridge range chosen by start(). */
  private subnet: Subnet;
  private readonly vms = new Map<string, VmRecord>();
  /** Creates for one sandbox are serialised so a retry finds the VM the first call made. */
  private readonly createLock = new KeyedLock();
  /** Host numbers of VMs whose record is being saved (not yet in `vms`). */
  private readonly allocating = new Set<number>();
  private bootCommand: Promise<string> | undefined;
  /** One directory fsync for the records that concurrent creates write together. */
  private readonly dirSync: DirSync;

  constructor(config: LocalConfig, deps: ProviderDeps) {
    this.config = config;
    this.deps = deps;
    this.dirSync = new DirSync(deps.stateDir);
    this.namespaces = process.getuid?.() === 0 && !config.forceLoopback;
    this.subnet = parseSubnet(config.loopbackSubnet);
  }

  async start(): Promise<void> {
    await ensurePrivateDir(this.deps.stateDir);
    const loaded = await loadRecords<VmRecord>(this.deps.stateDir, ".json");
    for (const rec of loaded.records) this.vms.set(rec.id, rec);
    for (const q of loaded.quarantined)
      this.deps.logger.error(
        q,
        `local VM record ${q.path} could not be read (${q.reason}); moved it to ${q.movedTo}`,
      );
    for (const id of await removeStrayVmDirs(this.deps.stateDir, (vm) => this.vms.has(vm))) {
      // Its names follow from its id (allocate): the namespaces may exist if the record was lost later.
      const { netns, hostVeth } = this.networkNames(id.slice("local-".length));
      if (netns && hostVeth) await deleteVmNetwork([netns, podNetnsOf(netns)], hostVeth);
      this.deps.logger.warn(
        { instance: id },
        `removed local VM directory ${id}: no readable record names it (cut off before its record was saved)`,
      );
    }
    if (this.namespaces) {
      const net = await prepareBridgeNetwork({
        stateDir: this.deps.stateDir,
        bridge: this.config.bridge,
        subnet: this.config.subnet,
        vmAddresses: [...this.vms.values()].map((v) => v.ip),
      });
      this.subnet = net.subnet;
      const range = subnetText(net.subnet);
      this.deps.logger.info(
        { bridge: this.config.bridge, subnet: range, vms: this.vms.size, removedBridges: net.removed },
        `local provider: VMs are network namespaces on bridge ${this.config.bridge} with range ${range} (${net.reason})${net.removed.map((b) => `; removed bridge ${b} of an earlier run`).join("")}`,
      );
    } else {
      this.deps.logger.warn(
        { subnet: this.config.loopbackSubnet, vms: this.vms.size },
        `local provider: ${this.config.forceLoopback ? "LOCAL_LOOPBACK is set" : "not running as root"}, so VMs are plain processes on loopback addresses (${this.config.loopbackSubnet}) without network namespaces; pod networking is not available`,
      );
    }
  }

  /** Loopback VMs have no namespace to end a VXLAN tunnel in. */
  capabilities(): ProviderCapabilities {
    return { podNetwork: this.namespaces };
  }

  /** True when VMs get network namespaces (root); false in the loopback fallback. */
  get usesNamespaces(): boolean {
    return this.namespaces;
  }

  /** The bridge local VMs attach to. */
  get bridge(): string {
    return this.config.bridge;
  }

  /** The bridge address: the worker's address as seen from local VMs. */
  gateway(): string {
    return hostAddress(this.subnet, 1);
  }

  instanceTypes(): InstanceType[] {
    const allowed = this.allowList();
    return LOCAL_INSTANCE_TYPES.filter((t) =>
      allowed.length > 0 ? allowed.includes(t.name) : t.name === this.config.instanceType,
    );
  }

  allowList(): string[] {
    return this.config.instanceTypes;
  }

  defaultInstanceType(): string {
    return this.config.instanceType;
  }

  async create(req: CreateRequest): Promise<Instance> {
    const instanceType = req.spec.instanceType;
    if (!LOCAL_INSTANCE_TYPES.some((t) => t.name === instanceType)) {
      throw new ProviderError(`unknown local instance type ${instanceType}`, { code: "InvalidInstanceType" });
    }
    if (this.config.noCapacityTypes.includes(instanceType)) {
      this.deps.logger.warn({ instanceType }, `local provider: no capacity for ${instanceType}`);
      throw new InsufficientCapacityError(`no capacity for ${instanceType} (LOCAL_NO_CAPACITY_TYPES)`);
    }
    return this.createLock.run(req.owner.sandboxId, async () => {
      // A retried create for the same sandbox returns the VM the first one made.
      const existing = [...this.vms.values()].find(
        (v) => v.tags[OWNER_TAG_KEYS.sandboxId] === req.owner.sandboxId,
      );
      if (existing) return this.toInstance(existing);
      const rec = await this.allocate(req);
      try {
        await this.boot(rec, req.userData);
      } catch (err) {
        await this.destroy(rec);
        throw new ProviderError(`booting local VM ${rec.name}: ${(err as Error).message}`, {
          code: "BootFailed",
          cause: err,
        });
      }
      this.deps.logger.info(
        { instance: rec.id, ip: rec.ip, sandbox: req.owner.sandboxId, instanceType },
        `local VM ${rec.name} started`,
      );
      return this.toInstance(rec);
    });
  }

  async delete(id: string): Promise<void> {
    const rec = this.vms.get(id);
    if (!rec) return;
    await this.destroy(rec);
    this.deps.logger.info({ instance: id }, `local VM ${rec.name} deleted`);
  }

  async get(id: string): Promise<Instance> {
    const rec = this.vms.get(id);
    if (!rec) throw new NotFoundError(`local VM ${id} not found`);
    return this.toInstance(rec);
  }

  /** The user-data the VM was given, from its cidata directory (conformance read-back). */
  async readUserData(id: string): Promise<string> {
    const rec = this.vms.get(id);
    if (!rec) throw new NotFoundError(`local VM ${id} not found`);
    return readCidataUserData(rec.dir);
  }

  async list(owner: Partial<OwnerTags>): Promise<Instance[]> {
    const wanted = Object.entries(owner)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [OWNER_TAG_KEYS[k as keyof OwnerTags], v] as const);
    return [...this.vms.values()]
      .filter((v) => wanted.every(([k, val]) => v.tags[k] === val))
      .map((v) => this.toInstance(v));
  }

  async close(): Promise<void> {}

  /** Whether the VM's process still runs (for tests and the conformance suite). */
  async running(id: string): Promise<boolean> {
    const rec = this.vms.get(id);
    return rec?.process !== undefined && (await isAlive(rec.process));
  }

  // ---------------------------------------------------------------------------------------------

  private async allocate(req: CreateRequest): Promise<VmRecord> {
    // The address is taken at once (no await between the choice and the reservation), so
    // concurrent creates do not queue behind each other's durable record write.
    const used = new Set([...this.vms.values()].map((v) => v.hostNumber));
    let n = 2;
    while (used.has(n) || this.allocating.has(n)) n++;
    if (n > hostCount(this.subnet)) {
      throw new ProviderError(`no free address in ${subnetText(this.subnet)}`, {
        code: "InsufficientAddresses",
      });
    }
    this.allocating.add(n);
    try {
      const short = randomBytes(4).toString("hex");
      const id = `local-${short}`;
      const tags: Record<string, string> = { Name: req.name };
      for (const [k, key] of Object.entries(OWNER_TAG_KEYS)) {
        const value = req.owner[k as keyof OwnerTags];
        if (value !== undefined) tags[key] = value;
      }
      const rec: VmRecord = {
        id,
        name: req.name,
        ip: hostAddress(this.subnet, n),
        hostNumber: n,
        ...this.networkNames(short),
        tags,
        createdAt: new Date().toISOString(),
        dir: join(this.deps.stateDir, id),
      };
      // A record that cannot be saved (a full disk) must not leave the directory made for it.
      await this.save(rec).catch(async (err: unknown) => {
        await rm(rec.dir, { recursive: true, force: true });
        throw err;
      });
      return rec;
    } finally {
      this.allocating.delete(n);
    }
  }

  /** A VM's namespace and host veth, named after its id's suffix (none for loopback VMs). */
  private networkNames(short: string): { netns?: string; hostVeth?: string } {
    return this.namespaces ? { netns: `${this.config.netnsPrefix}${short}`, hostVeth: `cvh${short}` } : {};
  }

  private async boot(rec: VmRecord, userData: string): Promise<void> {
    await writeCidata(rec, userData);
    if (rec.netns && rec.hostVeth) {
      await createVmNetwork({
        netns: rec.netns,
        hostVeth: rec.hostVeth,
        address: rec.ip,
        prefix: this.subnet.prefix,
        gateway: this.gateway(),
        bridge: this.config.bridge,
      });
    }
    const vmArgs = podVmArgs({
      cidata: cidataDir(rec.dir),
      root: join(rec.dir, "root"),
      listen: `${rec.netns ? "0.0.0.0" : rec.ip}:${this.config.forwarderPort}`,
      agentCommand: this.config.agentCommand,
      bootDelayMs: this.config.bootDelayMs,
      netns: rec.netns,
    });
    this.bootCommand ??=
      this.config.vmCommand !== ""
        ? Promise.resolve(this.config.vmCommand)
        : podVmBootCommand(this.deps.logger);
    const command = [...splitCommand(await this.bootCommand), ...vmArgs];
    // nsenter, not `ip netns exec`: the latter gives the VM a private mount namespace, and the pod
    // namespace the VM creates would then not be visible on the host.
    const argv = rec.netns ? ["nsenter", `--net=/run/netns/${rec.netns}`, "--", ...command] : command;
    rec.process = await spawnVm(argv, join(rec.dir, "console.log"), process.env);
    await this.save(rec);
  }

  private async destroy(rec: VmRecord): Promise<void> {
    if (rec.process) await killVm(rec.process);
    // Also what the VM's process started, if that process died alone (its forwarder was killed).
    for (const orphan of await processesUnder(rec.dir)) await killVm(orphan);
    if (rec.netns && rec.hostVeth) await deleteVmNetwork([rec.netns, podNetnsOf(rec.netns)], rec.hostVeth);
    await rm(rec.dir, { recursive: true, force: true });
    await rm(join(this.deps.stateDir, `${rec.id}.json`), { force: true });
    this.vms.delete(rec.id);
  }

  private async save(rec: VmRecord): Promise<void> {
    await ensurePrivateDir(rec.dir);
    await writeFileAtomic(join(this.deps.stateDir, `${rec.id}.json`), JSON.stringify(rec), {
      syncDir: () => this.dirSync.sync(),
    });
    this.vms.set(rec.id, rec);
  }

  private toInstance(rec: VmRecord): Instance {
    return {
      id: rec.id,
      name: rec.name,
      ips: [rec.ip],
      tags: { ...rec.tags },
      createdAt: new Date(rec.createdAt),
    };
  }
}
